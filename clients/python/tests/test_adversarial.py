"""The cluster attacked as an adversary would (issue 15), on 127.0.0.1, with rogue clients and workers speaking the
real protocol (pyzmq + l2s_pb2) next to real `l2s` processes. Each test asserts that the router survives, that good
jobs stay correct (equal to `l2s run --bundle`), and that no job is lost, truncated or answered by a rogue without
its client being told. Every test is bounded by the watchdog and its own timeouts."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import cases  # noqa: E402
import services  # noqa: E402
from cases import RouterCase  # noqa: E402
from l2s_client import Client, L2SError, decode, encode, l2s_pb2 as pb  # noqa: E402
from rogues import RogueWorker, bundle_identity  # noqa: E402
from services import RouterProcess, l2s_binary, reference  # noqa: E402

# Prompts of the fixture grammar whose greedy answers differ, so a mixed-up or forged result shows.
PROMPTS = ["the knight worries these red elegant bells", "the drum walked the cruel planets eagerly",
           "these noisy witches test the nets", "some workers will wave the pilots", "the house is small",
           "a dog sees the tiger", "these melons touch the tiger yesterday", "the cruel pilots wave"]
FLAGS = ("--max-new-tokens", "8")


def raw_client(endpoint: str, **options: int) -> tuple[zmq.Context, zmq.Socket]:
    """A bare DEALER on the clients endpoint, for messages the Python client would refuse to send."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    for option, value in options.items():
        socket.setsockopt(getattr(zmq, option), value)
    socket.connect(endpoint)
    return context, socket


class AdversarialCase(RouterCase):
    time_limit_s = 60

    def alive(self, router: RouterProcess | None = None) -> dict:
        """Fails unless the router process still runs and answers stats; returns the stats."""
        router = router or self.router
        self.assertIsNone(router.process.poll(), f"the router died: {router.log_text()}")
        with Client(router.clients, timeout=5) as probe:
            return probe.stats()

    def rogue(self, link: str, behaviour: str, **options: object) -> RogueWorker:
        role = pb.ROLE_ENCODER if link == "encoders" else pb.ROLE_DECODER
        worker = RogueWorker(getattr(self.router, link), role, behaviour, **options)
        self.addCleanup(worker.stop)
        return worker

    def wait_for_workers(self, encoders: int, decoders: int, within_s: float = 20) -> dict:
        deadline = time.monotonic() + within_s
        while True:
            stats = self.alive()
            roles = [worker["role"] for worker in stats["workers"]]
            if roles.count("encoder") == encoders and roles.count("decoder") == decoders:
                return stats
            self.assertLess(time.monotonic(), deadline, f"workers: {stats['workers']}")
            time.sleep(0.05)

    def real_workers(self, decoders: int = 1, slots: int = 4) -> None:
        self.workers.append(services.encoder(self.router))
        self.workers.extend(services.decoder(self.router, slots) for _ in range(decoders))

    def assert_all_correct(self, results: list, prompts: list[str]) -> None:
        expected = {prompt: reference(prompt, *FLAGS) for prompt in set(prompts)}
        for prompt, result in zip(prompts, results):
            self.assertNotIsInstance(result, L2SError, f"{prompt!r} failed: {result}")
            self.assertEqual(result.as_dict(), expected[prompt], prompt)


class OneMessageTests(AdversarialCase):
    def test_deadlines_past_int64_are_accepted_and_the_router_lives(self) -> None:
        context, socket = raw_client(self.router.clients)
        try:
            for index, deadline in enumerate([2**63, 2**64 - 1, 2**63 + 12345]):
                request = pb.GenerateRequest(request_id=f"far-{index}", text="hi", max_new_tokens=4,
                                             deadline_unix_ms=deadline)
                socket.send_multipart(encode(pb.Envelope(generate=request)))
            time.sleep(0.3)
            self.assertEqual(self.alive()["queue_depth"], 3, "the jobs wait for workers, nothing crashed")
        finally:
            socket.close()
            context.term()

    def test_an_undecodable_request_is_answered_with_its_request_id(self) -> None:
        good = encode(pb.Envelope(generate=pb.GenerateRequest(request_id="bad-utf8", text="hi", max_new_tokens=4,
                                                              stop=["X"])))
        broken = good[0].replace(b"X", b"\xff")
        context, socket = raw_client(self.router.clients)
        try:
            socket.send_multipart([broken])
            self.assertTrue(socket.poll(5000))
            envelope, _ = decode(socket.recv_multipart())
            self.assertEqual(envelope.error.request_id, "bad-utf8")
            self.assertIn("UTF-8", envelope.error.message)
        finally:
            socket.close()
            context.term()

    def test_an_oversized_client_frame_is_refused_before_it_is_buffered(self) -> None:
        def rss_kib() -> int:
            status = pathlib.Path(f"/proc/{self.router.process.pid}/status").read_text()
            return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])

        before = rss_kib()
        context, socket = raw_client(self.router.clients)
        try:
            socket.send_multipart([b"\x0a" * (64 << 20)])
            time.sleep(1)
        finally:
            socket.close()
            context.term()
        self.alive()
        self.assertLess(rss_kib() - before, 16 << 10, "a 64 MiB frame must not be held in memory")


class PinningTests(AdversarialCase):
    def test_a_rogue_encoder_cannot_lock_the_pinned_cluster_out(self) -> None:
        prints, spec = bundle_identity()
        prints.llm = "9" * 64
        rogue = self.rogue("encoders", "idle", fingerprints=prints, spec=spec)
        self.real_workers()
        self.wait_for_workers(encoders=1, decoders=1)
        self.assertEqual([error.code for error in rogue.errors()][:1], [pb.ERROR_CODE_BUNDLE_MISMATCH])
        results = self.client(timeout=20).generate_many(PROMPTS[:3], max_new_tokens=8)
        self.assert_all_correct(results, PROMPTS[:3])
        self.assertGreaterEqual(self.alive()["faults"]["refused_peers"], 1)
        self.assertIn("refused encoders peer", self.router.log_text())

    def test_hellos_without_all_fingerprints_are_refused(self) -> None:
        prints, _ = bundle_identity()
        for partial in [pb.Fingerprints(), pb.Fingerprints(llm=prints.llm, projector=prints.projector)]:
            rogue = self.rogue("decoders", "idle", fingerprints=partial)
            time.sleep(0.3)
            self.assertIn("hello.fingerprints", rogue.errors()[0].message if rogue.errors() else "no error")
        self.assertEqual(self.alive()["workers"], [])


class AdoptedBundleTests(AdversarialCase):
    router_flags = ("--adopt-bundle",)

    def test_the_adopted_bundle_is_dropped_when_the_rogue_that_set_it_leaves(self) -> None:
        prints, spec = bundle_identity()
        prints.slm = "8" * 64
        rogue = self.rogue("encoders", "idle", fingerprints=prints, spec=spec)
        self.wait_for_workers(encoders=1, decoders=0)
        self.workers.append(services.decoder(self.router))
        time.sleep(0.5)
        self.assertEqual(len(self.alive()["workers"]), 1, "the real decoder is refused while the rogue's pin holds")
        rogue.stop(goodbye=True)
        self.workers.append(services.encoder(self.router))
        self.wait_for_workers(encoders=1, decoders=1, within_s=30)
        results = self.client(timeout=20).generate_many(PROMPTS[:2], max_new_tokens=8)
        self.assert_all_correct(results, PROMPTS[:2])


class RogueWorkerTests(AdversarialCase):
    router_flags = ("--stall-timeout-ms", "1500")

    def beside_real_workers(self, behaviour: str, capacity: int = 8) -> RogueWorker:
        """A rogue decoder with `behaviour` next to a real encoder and decoder, all members."""
        rogue = self.rogue("decoders", behaviour, capacity=capacity)
        self.real_workers()
        self.wait_for_workers(encoders=1, decoders=2)
        return rogue

    def test_poisoned_encodings_are_retried_never_cached_never_blamed_on_the_client(self) -> None:
        rogue = self.rogue("encoders", "nan")
        self.real_workers()
        self.wait_for_workers(encoders=2, decoders=1)
        prompts = PROMPTS * 2
        results = self.client(timeout=30).generate_many(prompts, concurrency=8, max_new_tokens=8)
        self.assert_all_correct(results, prompts)
        self.assertGreaterEqual(rogue.answered, 1, "the rogue got work and answered it")
        stats = self.alive()
        self.assertGreaterEqual(stats["faults"]["worker_faults"], 1)
        rogue.stop()
        again = self.client(timeout=30).generate_many(PROMPTS, max_new_tokens=8)
        self.assert_all_correct(again, PROMPTS)

    def test_a_decoder_that_fails_fast_is_retried_around_and_stops_being_fed(self) -> None:
        rogue = self.beside_real_workers("fail", capacity=4)
        prompts = PROMPTS * 5
        results = self.client(timeout=30).generate_many(prompts, concurrency=16, max_new_tokens=8)
        self.assert_all_correct(results, prompts)
        self.assertGreaterEqual(rogue.answered, 1)
        # It may fail what it already holds (its 4 slots) and what it is sent before its 3rd fault arrives; then
        # its breaker is open for 10 s, longer than this test.
        self.assertLessEqual(rogue.answered, 4 + 3, "the breaker stops feeding it after 3 faults in a row")

    def test_forged_chunks_never_reach_a_client(self) -> None:
        rogue = self.beside_real_workers("forge")
        prompts = PROMPTS * 5
        client = self.client(timeout=30)
        jobs = [client.stream(prompt, max_new_tokens=8) for prompt in prompts]
        texts = ["".join(delta.text for delta in job) for job in jobs]
        self.assertGreaterEqual(rogue.answered, 1)
        self.assertFalse(any("INJECTED" in text for text in texts))
        self.assert_all_correct([job.result() for job in jobs], prompts)

    def test_a_decoder_that_holds_jobs_silently_loses_them(self) -> None:
        rogue = self.beside_real_workers("silent", capacity=4)
        prompts = PROMPTS * 2
        results = self.client(timeout=30).generate_many(prompts, concurrency=8, max_new_tokens=8)
        self.assert_all_correct(results, prompts)
        self.assertGreaterEqual(len([e for e in rogue.received if e.WhichOneof("body") == "decode_job"]), 1)


class SlowClientTests(AdversarialCase):
    router_flags = ("--client-backlog", "300")

    def test_a_client_that_does_not_read_is_told_never_silently_truncated(self) -> None:
        self.real_workers(slots=8)
        self.wait_for_workers(encoders=1, decoders=1)
        tokens = 4000  # a step's chunks for one client travel as one message: 4000 messages
        expected = reference(PROMPTS[0], "--max-new-tokens", str(tokens), "--min-new-tokens", str(tokens))["ids"]
        context, socket = raw_client(self.router.clients, RCVHWM=1, RCVBUF=4096)
        jobs = 8
        try:
            for index in range(jobs):
                request = pb.GenerateRequest(request_id=f"slow-{index}", text=PROMPTS[0], max_new_tokens=tokens,
                                             min_new_tokens=tokens, stream=True)
                socket.send_multipart(encode(pb.Envelope(generate=request)))
            time.sleep(10)  # not reading while the decoder generates 8 x 4000 tokens
            ids: dict[str, list[int]] = {f"slow-{index}": [] for index in range(jobs)}
            ends: dict[str, object] = {}
            deadline = time.monotonic() + 30
            while len(ends) < jobs and time.monotonic() < deadline:
                if not socket.poll(1000):
                    continue
                envelope, _ = decode(socket.recv_multipart())
                body = envelope.WhichOneof("body")
                if body in ("token_chunk", "token_chunks"):
                    chunks = [envelope.token_chunk] if body == "token_chunk" else envelope.token_chunks.chunks
                    for chunk in chunks:
                        ids[chunk.request_id] += list(chunk.ids)
                        if chunk.finish_reason != pb.FINISH_REASON_UNSPECIFIED:
                            ends[chunk.request_id] = chunk
                elif body == "error":
                    ends[envelope.error.request_id] = envelope.error
        finally:
            socket.close()
            context.term()
        self.assertEqual(len(ends), jobs, "every job ends with a final chunk or an error")
        cancelled = [job for job, end in ends.items() if isinstance(end, pb.Error)]
        for job, end in ends.items():
            if isinstance(end, pb.Error):
                self.assertEqual(end.code, pb.ERROR_CODE_CANCELLED, end.message)
                self.assertIn("unread", end.message)
                self.assertEqual(ids[job], expected[:len(ids[job])], "what arrived before the error is correct")
            else:
                self.assertEqual(ids[job], expected, f"{job} finished, so it must be whole")
        self.assertGreaterEqual(len(cancelled), 1, "the client was too slow for a 300-message backlog")
        stats = self.alive()
        self.assertEqual(stats["faults"]["slow_client_cancels"], len(cancelled))
        self.assertIn("reads too slowly", self.router.log_text())

    def test_a_client_that_disconnects_is_counted_as_cancelling(self) -> None:
        self.real_workers()
        self.wait_for_workers(encoders=1, decoders=1)
        context, socket = raw_client(self.router.clients)
        request = pb.GenerateRequest(request_id="gone", text=PROMPTS[0], max_new_tokens=2000, min_new_tokens=2000,
                                     stream=True)
        socket.send_multipart(encode(pb.Envelope(generate=request)))
        self.assertTrue(socket.poll(10_000), "the job started streaming")
        socket.close()
        context.term()
        deadline = time.monotonic() + 10
        while self.alive()["faults"]["jobs_cancelled"] < 1:
            self.assertLess(time.monotonic(), deadline, "the disconnect is counted")
            time.sleep(0.1)


class SamplingTests(AdversarialCase):
    def test_a_tiny_temperature_gives_the_greedy_answer(self) -> None:
        self.real_workers()
        self.wait_for_workers(encoders=1, decoders=1)
        result = self.client(timeout=20).generate(PROMPTS[0], max_new_tokens=8, temperature=1e-38, seed=3)
        self.assertEqual(result.ids, reference(PROMPTS[0], *FLAGS)["ids"])


class CurveRoleTests(AdversarialCase):
    def setUp(self) -> None:
        cases.Watchdog.setUp(self)
        keys = [json.loads(subprocess.run([str(l2s_binary()), "keygen"], capture_output=True, text=True, timeout=10,
                                          check=True).stdout) for _ in range(2)]
        self.router_key, self.worker_key = keys
        directory = pathlib.Path(tempfile.mkdtemp())
        (directory / "router.key").write_text(json.dumps(self.router_key))
        (directory / "worker.key").write_text(json.dumps(self.worker_key))
        (directory / "workers").write_text(self.worker_key["public"] + "\n")
        self.keys = directory
        self.router = RouterProcess("--curve-secret-file", str(directory / "router.key"),
                                    "--worker-keys", str(directory / "workers"))
        self.addCleanup(self.router.stop)
        self.workers = []

    def test_a_client_key_can_never_act_as_a_worker(self) -> None:
        server = self.router_key["public"]
        curve = ("--curve-server-key", server, "--curve-secret-file", str(self.keys / "worker.key"))
        self.workers.append(services.encoder(self.router, *curve))
        self.workers.append(services.ServiceProcess("decoder", "--router", self.router.decoders, "--bundle",
                                                    str(services.BUNDLE), *services.WORKER_FLAGS, *curve))
        rogue = RogueWorker(self.router.decoders, pb.ROLE_DECODER, "forge", curve_server_key=server.encode())
        self.addCleanup(rogue.stop)
        with Client(self.router.clients, timeout=30, curve_server_key=server) as client:
            deadline = time.monotonic() + 20
            while len(client.stats()["workers"]) < 2:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            results = client.generate_many(PROMPTS, max_new_tokens=8)
            self.assert_all_correct(results, PROMPTS)
            self.assertEqual(len(client.stats()["workers"]), 2, "the rogue never became a member")
        self.assertEqual(rogue.received, [], "the rogue's handshake failed: it heard nothing")
        self.assertIn("not in --worker-keys", self.router.log_text())
