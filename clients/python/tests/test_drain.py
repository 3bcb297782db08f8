"""SIGTERM on the real services: a decoder or encoder drains (no new work, finishes what it holds, hands back the
rest), a router drains (refuses new jobs, finishes or ends open streams with a clear error), and a signal in a
service's first instants is never lost. Work is held in place deterministically by SIGSTOP (the router's liveness is
long enough that a stopped worker is not declared dead), never by timing."""

from __future__ import annotations

import os
import pathlib
import signal
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import services  # noqa: E402
from cases import RouterCase, Watchdog  # noqa: E402
from l2s_client import L2SError  # noqa: E402
from services import BUNDLE, WORKER_FLAGS, ServiceProcess, reference  # noqa: E402

PROMPTS = ["the knight worries these red elegant bells", "the drum walked the cruel planets eagerly",
           "these noisy witches test the nets"]
MAX_NEW_TOKENS = 24
WAIT_S = 15.0


class DrainCase(RouterCase):
    # 100 x 200 ms heartbeats: a worker frozen by SIGSTOP stays a member while the test holds it.
    router_flags: tuple[str, ...] = ("--liveness", "100")
    time_limit_s = 60

    def worker(self, role: str, name: str, *extra: str) -> ServiceProcess:
        endpoint = self.router.encoders if role == "encoder" else self.router.decoders
        process = ServiceProcess(role, "--router", endpoint, "--bundle", str(BUNDLE), *WORKER_FLAGS, "--id", name,
                                 *extra)
        self.workers.append(process)
        self.addCleanup(self.resume, process)
        return process

    @staticmethod
    def resume(process: ServiceProcess) -> None:
        if process.process.poll() is None:
            os.kill(process.process.pid, signal.SIGCONT)

    def wait_for(self, what: str, predicate) -> dict:
        """Polls the router's stats until `predicate(stats)` holds; fails after WAIT_S naming `what`."""
        deadline = time.monotonic() + WAIT_S
        with self.client(timeout=5) as probe:
            while not predicate(stats := probe.stats()):
                self.assertLess(time.monotonic(), deadline, f"never: {what}; stats {stats}")
                time.sleep(0.02)
        return stats

    def outstanding(self, name: str):
        return lambda stats: sum(w["outstanding"] for w in stats["workers"] if w["id"] == name)

    def members(self, *names: str):
        return lambda stats: sorted(w["id"] for w in stats["workers"]) == sorted(names)

    def expected(self, prompt: str) -> dict:
        return reference(prompt, "--max-new-tokens", str(MAX_NEW_TOKENS))

    def submit_held_by(self, process: ServiceProcess, name: str, count: int) -> list:
        """Freezes `process`, submits `count` streamed jobs and returns them once the router has sent all `count`
        to it: they sit in its socket, unread, until it is continued."""
        os.kill(process.process.pid, signal.SIGSTOP)
        client = self.client(timeout=30)
        jobs = [client.stream(prompt, max_new_tokens=MAX_NEW_TOKENS) for prompt in PROMPTS[:count]]
        self.wait_for(f"{count} jobs on {name}", lambda stats: self.outstanding(name)(stats) == count)
        return jobs

    def assert_identical(self, jobs: list) -> None:
        for prompt, job in zip(PROMPTS, jobs):
            self.assertEqual(job.result().as_dict(), self.expected(prompt), prompt)

    def wait_log(self, process: ServiceProcess, text: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while text not in process.log_text():
            self.assertLess(time.monotonic(), deadline, f"{process.name} never logged {text!r}: {process.log_text()}")
            time.sleep(0.02)


class WorkerDrainTests(DrainCase):
    def test_a_draining_decoder_finishes_every_job_it_holds_and_exits(self) -> None:
        self.workers.append(services.encoder(self.router))
        decoder = self.worker("decoder", "dec-a", "--drain-seconds", "60")
        self.wait_for("encoder and dec-a joined", lambda stats: len(stats["workers"]) == 2)
        jobs = self.submit_held_by(decoder, "dec-a", 3)
        # Frozen past its liveness bound (3 heartbeats of 200 ms): once continued, dec-a must not take its own stall
        # for the router's silence and leave with the jobs still unread in its socket.
        time.sleep(1)
        decoder.process.send_signal(signal.SIGTERM)
        os.kill(decoder.process.pid, signal.SIGCONT)
        # dec-a is the only decoder: had it handed a job back, nobody could finish it.
        self.assert_identical(jobs)
        self.assertEqual(decoder.process.wait(WAIT_S), 0, decoder.log_text())
        self.assertIn("drained: every job in hand finished", decoder.log_text())
        self.assertNotIn("handing", decoder.log_text())
        self.wait_for("dec-a left", lambda stats: all(w["id"] != "dec-a" for w in stats["workers"]))

    def test_a_decoder_that_cannot_wait_hands_its_jobs_back_and_they_end_identically(self) -> None:
        self.workers.append(services.encoder(self.router))
        leaving = self.worker("decoder", "dec-a", "--drain-seconds", "0")
        self.wait_for("encoder and dec-a joined", lambda stats: len(stats["workers"]) == 2)
        jobs = self.submit_held_by(leaving, "dec-a", 3)
        self.worker("decoder", "dec-b")
        self.wait_for("dec-b joined", lambda stats: len(stats["workers"]) == 3)
        leaving.process.send_signal(signal.SIGTERM)
        os.kill(leaving.process.pid, signal.SIGCONT)
        self.assert_identical(jobs)
        self.assertEqual(leaving.process.wait(WAIT_S), 0, leaving.log_text())
        stats = self.wait_for("dec-a left", lambda stats: all(w["id"] != "dec-a" for w in stats["workers"]))
        self.assertEqual([w["jobs_done"] for w in stats["workers"] if w["id"] == "dec-b"], [3])

    def test_a_draining_encoder_answers_the_prompts_it_holds(self) -> None:
        encoder = self.worker("encoder", "enc-a", "--drain-seconds", "60")
        self.worker("decoder", "dec-a")
        self.wait_for("enc-a and dec-a joined", lambda stats: len(stats["workers"]) == 2)
        jobs = self.submit_held_by(encoder, "enc-a", 2)
        encoder.process.send_signal(signal.SIGTERM)
        os.kill(encoder.process.pid, signal.SIGCONT)
        # enc-a is the only encoder: the jobs end only if it answered what it held before leaving.
        self.assert_identical(jobs)
        self.assertEqual(encoder.process.wait(WAIT_S), 0, encoder.log_text())
        self.assertIn("drained: every job in hand finished", encoder.log_text())


class RouterDrainTests(DrainCase):
    router_flags = DrainCase.router_flags + ("--drain-seconds", "60")

    def test_a_draining_router_refuses_new_jobs_and_finishes_the_open_streams(self) -> None:
        self.workers.append(services.encoder(self.router))
        decoder = self.worker("decoder", "dec-a")
        self.wait_for("encoder and dec-a joined", lambda stats: len(stats["workers"]) == 2)
        jobs = self.submit_held_by(decoder, "dec-a", 2)
        self.router.process.send_signal(signal.SIGTERM)
        self.wait_log(self.router, "draining: new jobs are refused")
        with self.assertRaises(L2SError) as refused:
            self.client(timeout=10).generate(PROMPTS[2], max_new_tokens=MAX_NEW_TOKENS)
        self.assertEqual(refused.exception.code, "UNAVAILABLE")
        self.assertIn("shutting down", refused.exception.message)
        os.kill(decoder.process.pid, signal.SIGCONT)
        self.assert_identical(jobs)
        self.assertEqual(self.router.process.wait(WAIT_S), 0, self.router.log_text())


class RouterDrainBoundTests(DrainCase):
    router_flags = DrainCase.router_flags + ("--drain-seconds", "0.5")

    def test_streams_still_open_at_the_bound_end_with_a_clear_error(self) -> None:
        self.workers.append(services.encoder(self.router))
        decoder = self.worker("decoder", "dec-a")
        self.wait_for("encoder and dec-a joined", lambda stats: len(stats["workers"]) == 2)
        jobs = self.submit_held_by(decoder, "dec-a", 2)
        # dec-a stays frozen: its jobs cannot end before the bound.
        self.router.process.send_signal(signal.SIGTERM)
        for job in jobs:
            with self.assertRaises(L2SError) as ended:
                job.result()
            self.assertEqual(ended.exception.code, "UNAVAILABLE")
            self.assertIn("router shut down", ended.exception.message)
        self.assertEqual(self.router.process.wait(WAIT_S), 0, self.router.log_text())
        os.kill(decoder.process.pid, signal.SIGCONT)


class EarlySignalTests(Watchdog):
    time_limit_s = 60

    def test_a_sigterm_in_a_services_first_instant_stops_it(self) -> None:
        # Before the fix a signal between SIG_IGN and the dispatch source being armed was lost: the service ran on.
        commands = [("router", "--adopt-bundle", "--clients", "tcp://127.0.0.1:*", "--encoders", "tcp://127.0.0.1:*",
                     "--decoders", "tcp://127.0.0.1:*"),
                    ("encoder", "--router", "tcp://127.0.0.1:9", "--bundle", str(BUNDLE), *WORKER_FLAGS),
                    ("decoder", "--router", "tcp://127.0.0.1:9", "--bundle", str(BUNDLE), *WORKER_FLAGS)]
        for command in commands:
            for _ in range(3):
                service = ServiceProcess(*command)
                service.process.send_signal(signal.SIGTERM)
                try:
                    status = service.process.wait(WAIT_S)
                except Exception:
                    service.stop()
                    raise AssertionError(f"l2s {command[0]} ignored a SIGTERM sent as it started")
                # 0 once its handler is installed; killed by the signal when it came before main even ran.
                self.assertIn(status, (0, -signal.SIGTERM), f"l2s {command[0]}: {service.log_text()}")
                service.stop()


class ReadinessTests(DrainCase):
    def test_a_draining_decoder_is_alive_but_not_ready(self) -> None:
        from test_metrics import free_address, status
        address = free_address()
        # Slow heartbeats: with the router frozen, the decoder waits for the drain's echo for seconds, not 600 ms.
        decoder = self.worker("decoder", "dec-a", "--metrics", address, "--heartbeat-ms", "2000", "--drain-seconds", "60")
        deadline = time.monotonic() + WAIT_S

        def ready() -> int:
            try:
                return status(address, "/ready")
            except OSError:  # the process has not opened its listener yet
                return 0

        while ready() != 200:
            self.assertLess(time.monotonic(), deadline, f"dec-a never became ready: {decoder.log_text()}")
            time.sleep(0.05)
        os.kill(self.router.process.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, self.router.process.pid, signal.SIGCONT)
        decoder.process.send_signal(signal.SIGTERM)
        self.wait_log(decoder, "draining: no new work")
        self.assertEqual(status(address, "/ready"), 503)
        self.assertEqual(status(address, "/health"), 200)
        os.kill(self.router.process.pid, signal.SIGCONT)
        self.assertEqual(decoder.process.wait(WAIT_S), 0, decoder.log_text())

    def test_a_worker_without_a_router_is_alive_but_not_ready(self) -> None:
        from cases import unused_endpoint
        from test_metrics import free_address, status
        address = free_address()
        worker = ServiceProcess("decoder", "--router", unused_endpoint(), "--bundle", str(BUNDLE), *WORKER_FLAGS,
                                "--metrics", address)
        self.workers.append(worker)
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                if status(address, "/health") == 200:
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, f"never alive: {worker.log_text()}")
            time.sleep(0.05)
        # Nobody listens at its router endpoint: it can never have joined.
        self.assertEqual(status(address, "/ready"), 503)
        worker.process.send_signal(signal.SIGTERM)
        self.assertEqual(worker.process.wait(WAIT_S), 0, worker.log_text())
