"""The Python client against the real `l2s router` process (ephemeral ports on 127.0.0.1).

Without workers: stats, the router's request checks, the bounded queue, cancel, deadlines, timeouts.
With real `l2s encoder` and `l2s decoder` processes on the t5-add fixture bundle: whole results, streams, the
cache flag, 50 jobs in flight over two decoders, cancel mid-stream, stop and deadline while generating; every
result must equal what `l2s run --bundle` (the in-process reference) prints for the same prompt and flags.
Needs a built l2s (`swift build --product l2s`); every test is bounded by a SIGALRM watchdog (cases.py).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import unittest
from typing import Optional

import zmq

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cases import RouterCase, Watchdog, unused_endpoint  # noqa: E402
from l2s_client import Client, Delta, L2SError, Result, Usage  # noqa: E402
from services import RouterProcess, l2s_binary, reference, run_bundle  # noqa: E402


class WithoutWorkersTests(RouterCase):
    router_flags = ("--max-queue", "2")

    def test_stats_of_an_empty_router(self) -> None:
        stats = self.client().stats()
        self.assertEqual(stats["workers"], [])
        self.assertEqual(stats["queue_depth"], 0)
        self.assertEqual(stats["max_queue"], 2)
        self.assertEqual(stats["cache"], {"hits": 0, "misses": 0, "evictions": 0, "entries": 0, "bytes": 0,
                                          "capacity_bytes": 256 << 20, "coalesced": 0})
        self.assertEqual((stats["jobs_done"], stats["jobs_failed"], stats["tokens_generated"]), (0, 0, 0))
        self.assertGreaterEqual(stats["uptime_ms"], 0)

    def test_router_refuses_bad_requests_naming_the_field(self) -> None:
        client = self.client(validate=False)
        cases = [
            ("", {}, "BAD_REQUEST", "prompt text is empty"),
            ("hi", {"max_new_tokens": 0}, "BAD_REQUEST", "max_new_tokens must be in 1...4096, got 0"),
            ("hi", {"max_new_tokens": 2, "min_new_tokens": 5}, "BAD_REQUEST",
             "min_new_tokens (5) exceeds max_new_tokens (2)"),
            ([5, -3], {}, "BAD_REQUEST", "token_ids[1] is negative (-3)"),
            ("hi", {"temperature": -1}, "BAD_REQUEST", "temperature must be in (0, 100], got -1"),
            ("hi", {"top_p": 1.5}, "BAD_REQUEST", "top_p must be in (0, 1], got 1.5"),
            ("hi", {"stop": ["x", ""]}, "BAD_REQUEST", "stop[1] is an empty string"),
            ("hi", {"trace_id": "two\nlines"}, "BAD_REQUEST",
             "trace_id must be at most 128 printable ASCII characters, got 9 bytes"),
            ("a" * 300_000, {}, "PROMPT_TOO_LONG", "the prompt is 300000 bytes; the router accepts at most 262144"),
        ]
        for prompt, params, code, message in cases:
            with self.subTest(params=params, prompt=str(prompt)[:10]):
                with self.assertRaises(L2SError) as caught:
                    client.generate(prompt, **params)
                self.assertEqual(caught.exception.code, code)
                self.assertIn(message, caught.exception.message)
                self.assertNotEqual(caught.exception.request_id, "")
        self.assertEqual(self.client().stats()["jobs_failed"], len(cases))

    def test_third_waiting_job_is_overloaded_at_once(self) -> None:
        client = self.client()
        first, second = client.submit("one"), client.submit("two")
        # Without workers a queued job is never answered (the client would raise TimeoutError), so an OVERLOADED
        # reply is the refusal at submission itself.
        with self.assertRaises(L2SError) as caught:
            client.generate("three")
        self.assertEqual(caught.exception.code, "OVERLOADED")
        self.assertIn("limit 2", caught.exception.message)
        self.assertFalse(first.done or second.done, "jobs without workers must wait")
        self.assertEqual(self.client().stats()["queue_depth"], 2)

    def test_cancelling_a_waiting_job_ends_it_as_cancelled(self) -> None:
        client = self.client()
        job = client.stream("wait for me")
        other = client.submit("me too")
        self.assertTrue(client.cancel(job.request_id))
        self.assertEqual(list(job), [])
        self.assertEqual(job.result(), Result(request_id=job.request_id, text="", ids=[], finish_reason="cancelled",
                                              usage=Usage(0, 0, False)))
        self.assertFalse(other.done)
        self.assertEqual(self.client().stats()["queue_depth"], 1)
        self.assertFalse(client.cancel(job.request_id), "a finished job is no longer in flight")
        self.assertFalse(client.cancel("never-submitted"))

    def test_deadline_already_passed(self) -> None:
        with self.assertRaises(L2SError) as caught:
            self.client().generate("late", deadline_s=-1)
        self.assertEqual(caught.exception.code, "DEADLINE_EXCEEDED")
        self.assertIn("deadline_unix_ms", caught.exception.message)

    def test_deadline_passing_while_waiting(self) -> None:
        # Without workers only the router's deadline can end the job: were it not enforced, the client would raise
        # TimeoutError (no answer within its 5 s), not DEADLINE_EXCEEDED.
        with self.assertRaises(L2SError) as caught:
            self.client().generate("soon", deadline_s=0.3)
        self.assertEqual(caught.exception.code, "DEADLINE_EXCEEDED")

    def test_silence_raises_timeout_and_cancels_the_job(self) -> None:
        client = self.client(timeout=0.4)
        with self.assertRaises(TimeoutError) as caught:
            client.generate("nobody will answer")
        self.assertIn(self.router.clients, str(caught.exception))
        self.assert_queue_depth_becomes(0)  # the abandoned job was cancelled

    def test_generate_many_returns_errors_in_input_order(self) -> None:
        results = self.client(validate=False).generate_many(["", [1, -2], "b" * 300_000, "ok"], concurrency=2,
                                                            max_new_tokens=0)
        self.assertEqual([result.code for result in results],
                         ["BAD_REQUEST", "BAD_REQUEST", "PROMPT_TOO_LONG", "BAD_REQUEST"])
        self.assertIn("max_new_tokens", results[3].message)

    def test_generate_many_times_out_and_cancels_what_is_in_flight(self) -> None:
        client = self.client(timeout=0.4)
        with self.assertRaises(TimeoutError):
            client.generate_many(["a", "b", "c"], concurrency=3)
        self.assert_queue_depth_becomes(0)
        self.assertEqual(self.client().stats()["jobs_failed"], 1, "the third job was refused as overloaded")

    def test_close_cancels_unfinished_jobs(self) -> None:
        with Client(self.router.clients, timeout=5) as client:
            job = client.submit("left behind")
        with self.assertRaises(L2SError) as caught:
            job.result()
        self.assertEqual(caught.exception.code, "CANCELLED")
        self.assert_queue_depth_becomes(0)
        with self.assertRaises(RuntimeError):
            client.stats()

    def test_request_ids_are_per_client(self) -> None:
        first, second = self.client(), self.client()
        jobs = [first.submit("x"), second.submit("x")]
        self.assertEqual([job.request_id for job in jobs], ["1", "1"])
        self.assert_queue_depth_becomes(2)  # the router keys jobs by (client, request id): no clash


class WaitRecorder:
    """A client's socket that records the timeout (ms) of every poll; an unbounded poll counts as infinite."""

    def __init__(self, socket: zmq.Socket) -> None:
        self._socket = socket
        self.waits_ms: list[float] = []

    def poll(self, timeout: Optional[int] = None, flags: int = zmq.POLLIN) -> int:
        self.waits_ms.append(float("inf") if timeout is None or timeout < 0 else timeout)
        return self._socket.poll(timeout, flags)

    def __getattr__(self, name: str) -> object:
        return getattr(self._socket, name)


class RouterDownTests(Watchdog):
    def test_silent_endpoint_raises_timeout_quickly(self) -> None:
        endpoint = unused_endpoint()
        with Client(endpoint, timeout=0.3) as client:
            # "Quickly" without a stopwatch: every wait the client asks ZeroMQ for is recorded, and together they
            # must stay within its timeout (sends are bounded by SNDTIMEO, the same timeout).
            self.assertEqual(client._socket.getsockopt(zmq.SNDTIMEO), 300)
            client._socket = WaitRecorder(client._socket)
            for call in (client.stats, lambda: client.generate("hello"), lambda: list(client.stream("hello"))):
                client._socket.waits_ms.clear()
                with self.assertRaises(TimeoutError) as caught:
                    call()
                self.assertLessEqual(sum(client._socket.waits_ms), 300, f"waits of {client._socket.waits_ms} ms")
                self.assertIn(endpoint, str(caught.exception))
                self.assertIn("0.3 s", str(caught.exception))

    def test_router_that_goes_away(self) -> None:
        router = RouterProcess()
        try:
            with Client(router.clients, timeout=0.5) as client:
                self.assertEqual(client.stats()["workers"], [])
                router.stop()
                with self.assertRaises(TimeoutError):
                    client.stats()
        finally:
            router.stop()


class WithRealWorkersTests(RouterCase):
    # Still generating when the test acts on it, even in a release build (4096 is the router's limit; T5's
    # attention over the growing cache makes the last thousand steps the slowest).
    LONG = {"max_new_tokens": 4096, "min_new_tokens": 4096}

    def test_generate_returns_the_whole_result(self) -> None:
        self.start_workers()
        expected = reference("the house is small", "--max-new-tokens", "9")
        result = self.client().generate("the house is small", max_new_tokens=9)
        self.assertEqual(result.as_dict(), expected)
        self.assertEqual(len(result.ids), result.usage.completion_tokens)
        self.assertFalse(result.usage.cached_encoding)

    def test_identical_prompt_uses_the_cached_encoding_unless_salted(self) -> None:
        self.start_workers()
        expected = reference("cache me", "--max-new-tokens", "5")
        client = self.client()
        first = client.generate("cache me", max_new_tokens=5)
        second = client.generate("cache me", max_new_tokens=5)
        salted = client.generate("cache me", max_new_tokens=5, tenant_salt="tenant-b")
        self.assertEqual((first.usage.cached_encoding, second.usage.cached_encoding, salted.usage.cached_encoding),
                         (False, True, False))
        self.assertEqual([first.as_dict(), second.as_dict(), salted.as_dict()], [expected] * 3)
        stats = client.stats()
        self.assertEqual([worker["jobs_done"] for worker in stats["workers"] if worker["role"] == "encoder"], [2])
        cache = stats["cache"]
        self.assertEqual((cache["hits"], cache["misses"], cache["entries"]), (1, 2, 2))

    def test_stream_yields_the_reference_deltas_then_the_result(self) -> None:
        self.start_workers()
        *deltas, expected = run_bundle([72, 105, 33], "--stream", "--max-new-tokens", "8")
        client = self.client()
        job = client.stream([72, 105, 33], max_new_tokens=8)
        streamed = list(job)
        self.assertEqual(streamed, [Delta(text=delta["delta"], ids=delta["ids"]) for delta in deltas])
        result = job.result()
        self.assertEqual(result.as_dict(), expected)
        self.assertEqual(result.ids, [i for delta in streamed for i in delta.ids])
        self.assertEqual(result.text, "".join(delta.text for delta in streamed))

    def test_two_streams_interleaved_on_one_client(self) -> None:
        self.start_workers()
        prompts = ["abc def", "xyz uvw"]
        expected = [reference(prompt, "--max-new-tokens", "12", "--min-new-tokens", "12") for prompt in prompts]
        client = self.client()
        jobs = [client.stream(prompt, max_new_tokens=12, min_new_tokens=12) for prompt in prompts]
        pieces: list[list[Delta]] = [[], []]
        iterators = [(index, iter(job)) for index, job in enumerate(jobs)]
        while iterators:
            for entry in list(iterators):
                delta = next(entry[1], None)
                if delta is None:
                    iterators.remove(entry)
                else:
                    pieces[entry[0]].append(delta)
        self.assertEqual([job.result().as_dict() for job in jobs], expected)
        self.assertEqual([[i for delta in deltas for i in delta.ids] for deltas in pieces],
                         [result["ids"] for result in expected])
        self.assertEqual(["".join(delta.text for delta in deltas) for deltas in pieces],
                         [result["text"] for result in expected])

    def test_fifty_concurrent_prompts_over_two_decoders_equal_the_reference(self) -> None:
        self.start_workers(decoders=2)
        # Ten prompts from the fixture grammar whose greedy ids on the bundle all differ (checked below).
        distinct = ["the knight worries these red elegant bells", "the drum walked the cruel planets eagerly",
                    "these noisy witches test the nets", "some workers will wave the pilots",
                    "this happy maid collected the ants", "some chairs press a secret tree",
                    "the pilot tastes the flute badly", "this walrus points these brave cheetahs",
                    "this shy poet missed these helmets", "this thin rough aunt pushed the king"]
        flags = ("--max-new-tokens", "12", "--min-new-tokens", "6")
        expected = [reference(prompt, *flags) for prompt in distinct]
        self.assertEqual(len({tuple(result["ids"]) for result in expected}), 10, "a mixed-up result must show")
        prompts = [distinct[index % 10] for index in range(50)]
        results = self.client(timeout=20).generate_many(prompts, concurrency=50, max_new_tokens=12,
                                                         min_new_tokens=6)
        self.assertEqual(len(results), 50)
        for index, result in enumerate(results):
            self.assertIsInstance(result, Result, f"job {index}: {result}")
            self.assertEqual(result.as_dict(), expected[index % 10], f"job {index}")
        self.assertEqual(len({result.request_id for result in results}), 50)
        stats = self.client().stats()
        self.assertEqual((stats["jobs_done"], stats["jobs_failed"]), (50, 0))
        self.assertEqual(stats["cache"]["misses"], 10)
        self.assertEqual(stats["cache"]["hits"] + stats["cache"]["coalesced"], 40)
        self.assertEqual([worker["jobs_done"] for worker in stats["workers"] if worker["role"] == "encoder"], [10])
        per_decoder = [worker["jobs_done"] for worker in stats["workers"] if worker["role"] == "decoder"]
        self.assertEqual(sum(per_decoder), 50)
        self.assertTrue(all(done > 0 for done in per_decoder), f"both decoders got work: {per_decoder}")

    def test_cancel_mid_stream_keeps_what_was_streamed(self) -> None:
        self.start_workers(slots=1)
        client = self.client()
        job = client.stream("streaming along", **self.LONG)
        deltas = []
        for delta in job:
            deltas.append(delta)
            if len(deltas) == 3:
                self.assertTrue(job.cancel())
        result = job.result()
        self.assertEqual(result.finish_reason, "cancelled")
        self.assertEqual(result.ids, [i for delta in deltas for i in delta.ids])
        self.assertEqual(result.text, "".join(delta.text for delta in deltas))
        self.assertEqual(result.usage.completion_tokens, len(result.ids))
        self.assertTrue(3 <= len(result.ids) < 4096, f"{len(result.ids)} tokens before the cancel took effect")
        count = str(len(result.ids))
        prefix = reference("streaming along", "--max-new-tokens", count, "--min-new-tokens", count)
        self.assertEqual(result.ids, prefix["ids"], "the tokens streamed before the cancel are the reference's")
        # The decoder's only slot comes back: a next job runs to the end.
        self.assertEqual(client.generate("after", max_new_tokens=4).as_dict(),
                         reference("after", "--max-new-tokens", "4"))

    def test_stop_sequence_from_the_reference_text_ends_with_stop(self) -> None:
        self.start_workers()
        *deltas, full = run_bundle("the house is small", "--stream", "--max-new-tokens", "20",
                                   "--min-new-tokens", "20")
        stop = (deltas[4]["delta"] + deltas[5]["delta"]).strip()
        self.assertTrue(stop, f"deltas 4 and 5 of the reference are blank: {deltas[4:6]}")
        end = next(k for k in range(1, len(deltas) + 1) if stop in "".join(d["delta"] for d in deltas[:k]))
        self.assertLess(end, len(full["ids"]), "the stop string must end the job before max_new_tokens")
        text = "".join(delta["delta"] for delta in deltas[:end])
        # OpenAI's semantics: the text ends right before the stop string, which the id at `end` completed.
        expected = {"text": text[:text.index(stop)], "ids": full["ids"][:end], "finish_reason": "stop",
                    "usage": {"prompt_tokens": full["usage"]["prompt_tokens"], "completion_tokens": end}}
        result = self.client().generate("the house is small", max_new_tokens=20, min_new_tokens=20,
                                        stop=["~~not there~~", stop])
        self.assertEqual(result.as_dict(), expected)
        # l2s run --bundle applies the same rule in the same code.
        self.assertEqual(run_bundle("the house is small", "--max-new-tokens", "20", "--min-new-tokens", "20",
                                    "--stop", "~~not there~~", "--stop", stop)[-1], expected)

    def test_penalties_give_l2s_runs_answer(self) -> None:
        self.start_workers()
        prompt = "these noisy witches test the nets"
        flags = ("--max-new-tokens", "12", "--repetition-penalty", "1.3", "--no-repeat-ngram-size", "2",
                 "--presence-penalty", "0.5", "--frequency-penalty", "0.4")
        expected = run_bundle(prompt, *flags)[-1]
        self.assertNotEqual(expected["ids"], run_bundle(prompt, "--max-new-tokens", "12")[-1]["ids"],
                            "the penalties must change this answer, or this test proves nothing")
        result = self.client().generate(prompt, max_new_tokens=12, repetition_penalty=1.3, no_repeat_ngram_size=2,
                                        presence_penalty=0.5, frequency_penalty=0.4)
        self.assertEqual(result.as_dict(), expected)

    def test_beam_search_gives_l2s_runs_answer(self) -> None:
        self.start_workers()
        prompt = "these noisy witches test the nets"
        flags = ("--max-new-tokens", "12", "--num-beams", "3", "--length-penalty", "0.6", "--early-stopping", "true")
        expected = run_bundle(prompt, *flags)[-1]
        self.assertNotEqual(expected["ids"], run_bundle(prompt, "--max-new-tokens", "12")[-1]["ids"],
                            "beam search must change this answer, or this test proves nothing")
        result = self.client().generate(prompt, max_new_tokens=12, num_beams=3, length_penalty=0.6,
                                        early_stopping=True)
        self.assertEqual(result.as_dict(), expected)
        # Streamed, a beam job's one delta is the whole answer, at its end.
        deltas = list(self.client().stream(prompt, max_new_tokens=12, num_beams=3, length_penalty=0.6,
                                           early_stopping=True))
        self.assertEqual([(d.text, d.ids) for d in deltas], [(expected["text"], expected["ids"])])
        with self.assertRaises(L2SError) as caught:
            self.client().generate(prompt, num_beams=3, temperature=0.7)
        self.assertEqual(caught.exception.code, "BAD_REQUEST")
        self.assertIn("num_beams", caught.exception.message)

    def test_logprobs_equal_l2s_runs_numbers(self) -> None:
        self.start_workers()
        prompt = "these noisy witches test the nets"
        flags = ("--max-new-tokens", "8", "--repetition-penalty", "1.3", "--logprobs", "2")
        expected = run_bundle(prompt, *flags)[-1]
        self.assertEqual(len(expected["logprobs"]), len(expected["ids"]))
        self.assertEqual([entry["id"] for entry in expected["logprobs"]], expected["ids"])
        result = self.client().generate(prompt, max_new_tokens=8, repetition_penalty=1.3, logprobs=2)
        self.assertEqual(result.as_dict(), expected)
        self.assertTrue(all(entry.text for entry in result.logprobs), "each id comes with the decoder's text")
        # `l2s generate --logprobs` prints what `l2s run --logprobs` prints, streamed or not.
        for stream in ([], ["--stream"]):
            done = subprocess.run([str(l2s_binary()), "generate", "--router", self.router.clients, prompt, *stream,
                                   *flags], capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual([json.loads(line) for line in done.stdout.splitlines()],
                             run_bundle(prompt, *stream, *flags))
        # Streamed: each delta carries its ids' entries, as `l2s run --stream` prints them; sampled jobs too.
        sampled = ("--max-new-tokens", "6", "--temperature", "0.8", "--seed", "3", "--logprobs", "1")
        *deltas, expected = run_bundle(prompt, "--stream", *sampled)
        job = self.client().stream(prompt, max_new_tokens=6, temperature=0.8, seed=3, logprobs=1)
        self.assertEqual([delta.as_dict() for delta in job], deltas)
        self.assertEqual(job.result().as_dict(), expected)
        # Without the option nothing changes (no "logprobs" key), and out of range is refused by the router.
        self.assertNotIn("logprobs", self.client().generate(prompt, max_new_tokens=2).as_dict())
        with self.assertRaises(L2SError) as caught:
            self.client(validate=False).generate(prompt, logprobs=21)
        self.assertEqual((caught.exception.code, caught.exception.message),
                         ("BAD_REQUEST", "logprobs must be in 0...20, got 21"))

    def test_n_samples_are_seeded_seed_plus_j(self) -> None:
        self.start_workers()
        prompt = "the house is small"
        flags = ("--max-new-tokens", "8", "--temperature", "0.9")
        expected = [run_bundle(prompt, *flags, "--seed", str(seed))[-1] for seed in (7, 8)]
        self.assertNotEqual(expected[0]["ids"], expected[1]["ids"], "the two seeds must differ for this test")
        results = self.client().generate_many([prompt], n=2, max_new_tokens=8, temperature=0.9, seed=7)
        self.assertEqual([result.as_dict() for result in results], expected)
        self.assertEqual(run_bundle(prompt, *flags, "--seed", "7", "--n", "2"), expected)
        greedy = self.client().generate_many([prompt], n=2, max_new_tokens=8)
        self.assertEqual(greedy[0].as_dict(), greedy[1].as_dict())
        self.assertEqual(greedy[0].as_dict(), run_bundle(prompt, "--max-new-tokens", "8")[-1])

    def test_deadline_passing_while_generating(self) -> None:
        self.start_workers()
        client = self.client()
        # Chunks keep coming, so only the router's deadline can end this 4096-token job with an error that says
        # how many tokens it had generated.
        with self.assertRaises(L2SError) as caught:
            client.generate("slow", deadline_s=0.2, **self.LONG)
        self.assertEqual(caught.exception.code, "DEADLINE_EXCEEDED")
        self.assertIn("generated tokens", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
