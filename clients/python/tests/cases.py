"""Test cases' common ground: a per-test watchdog, a router per test, scripted workers on demand."""

from __future__ import annotations

import signal
import socket
import time
import unittest

from l2s_client import Client, l2s_pb2 as pb
from protocol_peers import ScriptedWorker
from router_process import RouterProcess

TEST_LIMIT_S = 30


def unused_endpoint() -> str:
    """A tcp endpoint on 127.0.0.1 nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


class Watchdog(unittest.TestCase):
    """Fails a test that runs past TEST_LIMIT_S instead of letting it hang the suite."""

    def setUp(self) -> None:
        def expired(signum: int, frame: object) -> None:
            raise AssertionError(f"test still running after {TEST_LIMIT_S} s")

        self.addCleanup(signal.signal, signal.SIGALRM, signal.signal(signal.SIGALRM, expired))
        self.addCleanup(signal.alarm, 0)
        signal.alarm(TEST_LIMIT_S)


class RouterCase(Watchdog):
    router_flags: tuple[str, ...] = ()

    def setUp(self) -> None:
        super().setUp()
        self.router = RouterProcess(*self.router_flags)
        self.addCleanup(self.router.stop)
        self.workers: list[ScriptedWorker] = []

    def tearDown(self) -> None:
        for worker in self.workers:
            worker.stop()
            self.assertIsNone(worker.failure, f"scripted worker failed: {worker.failure!r}")

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

    def start_workers(self, decoders: int = 1, slots: int = 2, tick_s: float = 0.005) -> ScriptedWorker:
        """An encoder and `decoders` decoders, returned once the router lists them all; the encoder is returned."""
        encoder = ScriptedWorker(self.router.encoders, pb.ROLE_ENCODER, slots=2)
        self.workers.append(encoder)
        for _ in range(decoders):
            self.workers.append(ScriptedWorker(self.router.decoders, pb.ROLE_DECODER, slots=slots, tick_s=tick_s))
        for worker in self.workers:
            worker.start()
        with Client(self.router.clients, timeout=5) as probe:
            deadline = time.monotonic() + 5
            while len(probe.stats()["workers"]) < decoders + 1:
                self.assertLess(time.monotonic(), deadline, "the scripted workers did not join the router")
                time.sleep(0.02)
        return encoder
