"""Test cases' common ground: a per-test watchdog, a router per test, real encoder and decoder processes on demand."""

from __future__ import annotations

import signal
import socket
import time
import unittest

import services
from l2s_client import Client
from services import RouterProcess, ServiceProcess

TEST_LIMIT_S = 30
WORKERS_TIMEOUT_S = 15


def unused_endpoint() -> str:
    """A tcp endpoint on 127.0.0.1 nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


class Watchdog(unittest.TestCase):
    """Fails a test that runs past `time_limit_s` instead of letting it hang the suite."""

    time_limit_s = TEST_LIMIT_S

    def setUp(self) -> None:
        def expired(signum: int, frame: object) -> None:
            raise AssertionError(f"test still running after {self.time_limit_s} s")

        self.addCleanup(signal.signal, signal.SIGALRM, signal.signal(signal.SIGALRM, expired))
        self.addCleanup(signal.alarm, 0)
        signal.alarm(self.time_limit_s)


class RouterCase(Watchdog):
    router_flags: tuple[str, ...] = ()

    def setUp(self) -> None:
        super().setUp()
        self.router = RouterProcess(*self.router_flags)
        self.addCleanup(self.router.stop)
        self.workers: list[ServiceProcess] = []

    def tearDown(self) -> None:
        for worker in self.workers:
            worker.stop()

    def client(self, timeout: float = 5.0, **options: object) -> Client:
        client = Client(self.router.clients, timeout=timeout, **options)
        self.addCleanup(client.close)
        return client

    def assert_queue_depth_becomes(self, expected: int, within_s: float = 2.0) -> None:
        """Another client's messages may be read before this probe's (the router fair-queues its peers)."""
        with Client(self.router.clients, timeout=5) as probe:
            deadline = time.monotonic() + within_s
            while (depth := probe.stats()["queue_depth"]) != expected:
                self.assertLess(time.monotonic(), deadline, f"queue depth stays {depth}, expected {expected}")
                time.sleep(0.02)

    def start_workers(self, decoders: int = 1, slots: int = 4, decoder_flags: tuple[str, ...] = ()) -> None:
        """`l2s encoder` and `decoders` times `l2s decoder` (with `decoder_flags`) on the t5-add fixture bundle,
        returning once the router's stats list them all; a worker that exits or does not join within
        WORKERS_TIMEOUT_S fails the test with its log."""
        self.workers.append(services.encoder(self.router))
        self.workers.extend(services.decoder(self.router, slots, *decoder_flags) for _ in range(decoders))
        with Client(self.router.clients, timeout=5) as probe:
            deadline = time.monotonic() + WORKERS_TIMEOUT_S
            while len(probe.stats()["workers"]) < decoders + 1:
                for worker in self.workers:
                    if worker.process.poll() is not None:
                        self.fail(f"l2s {worker.name} exited with {worker.process.returncode}: {worker.log_text()}")
                if time.monotonic() > deadline:
                    self.fail(f"the workers did not join the router within {WORKERS_TIMEOUT_S} s: "
                              + " | ".join(worker.log_text() for worker in self.workers))
                time.sleep(0.02)
