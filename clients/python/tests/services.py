"""Runs the real `l2s` services for a test: `l2s router` on ephemeral ports on 127.0.0.1 and `l2s encoder` /
`l2s decoder` on a fixture bundle, each bounded at start and killed after; and `l2s run --bundle`, the in-process
reference every cluster result must equal."""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import signal
import subprocess
import tempfile
import time
from typing import Optional

REPO = pathlib.Path(__file__).resolve().parents[3]
BUNDLE = REPO / "Tests" / "Fixtures" / "bundles" / "t5-add"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
REFERENCE_TIMEOUT_S = 60.0
# Workers heartbeat often so the router notices them (and their departure) quickly; one BLAS thread each so a
# 2-core machine is not oversubscribed by the three or four processes of a test.
WORKER_FLAGS = ("--heartbeat-ms", "200", "--threads", "1")


def l2s_binary() -> pathlib.Path:
    """$L2S_BIN, else the newer of .build/release/l2s and .build/debug/l2s; AssertionError when none exists
    (the tests need the real services, so a missing build fails them rather than skipping them)."""
    override = os.environ.get("L2S_BIN")
    if override:
        path = pathlib.Path(override)
        if not os.access(path, os.X_OK):
            raise AssertionError(f"L2S_BIN={override} is not an executable file")
        return path
    candidates = [REPO / ".build" / mode / "l2s" for mode in ("release", "debug")]
    built = [path for path in candidates if os.access(path, os.X_OK)]
    if not built:
        raise AssertionError(
            f"no l2s binary at {candidates[0]} or {candidates[1]}: build it first "
            f"(`swift build --product l2s` or `swift build -c release --product l2s` in {REPO})")
    return max(built, key=lambda path: path.stat().st_mtime)


class ServiceProcess:
    """`l2s ARGUMENTS` as a child process in its own session; its log goes to a file, not a pipe nobody drains
    (a full pipe would stall the service)."""

    def __init__(self, *arguments: str, stdout: int = subprocess.DEVNULL) -> None:
        self.name = arguments[0]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([str(l2s_binary()), *arguments], stdout=stdout, stderr=self.log,
                                        start_new_session=True)

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        if self.process.stdout:
            self.process.stdout.close()
        if not self.log.closed:
            self.log.close()
        return self.process.returncode

    def log_text(self) -> str:
        """What the service logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


class RouterProcess(ServiceProcess):
    """`l2s router --clients/--encoders/--decoders tcp://127.0.0.1:* [extra flags]`, pinned to BUNDLE unless
    `extra` says --adopt-bundle or another --bundle."""

    def __init__(self, *extra: str) -> None:
        pin = () if "--adopt-bundle" in extra or "--bundle" in extra else ("--bundle", str(BUNDLE))
        super().__init__("router", "--clients", "tcp://127.0.0.1:*", "--encoders", "tcp://127.0.0.1:*",
                         "--decoders", "tcp://127.0.0.1:*", "--heartbeat-ms", "200", *pin, *extra,
                         stdout=subprocess.PIPE)
        try:
            ready = self._first_line(START_TIMEOUT_S)
            event = json.loads(ready)
            if event.get("event") != "listening":
                raise AssertionError(f"l2s router printed {ready!r}, expected the listening event")
        except BaseException:
            self.stop()
            raise
        self.clients: str = event["clients"]
        self.encoders: str = event["encoders"]
        self.decoders: str = event["decoders"]

    def _first_line(self, timeout: float) -> str:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        try:
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise AssertionError(f"l2s router did not report listening within {timeout} s")
                byte = os.read(self.process.stdout.fileno(), 1)
                if not byte:
                    raise AssertionError(f"l2s router exited with {self.process.wait()} before listening: "
                                         f"{self.log_text()}")
                line += byte
        finally:
            selector.close()
        return line.decode()


def encoder(router: RouterProcess, *extra: str) -> ServiceProcess:
    """`l2s encoder` on BUNDLE, connected to the router's encoders endpoint."""
    return ServiceProcess("encoder", "--router", router.encoders, "--bundle", str(BUNDLE), *WORKER_FLAGS, *extra)


def decoder(router: RouterProcess, slots: int = 4, *extra: str) -> ServiceProcess:
    """`l2s decoder` on BUNDLE with `slots` slots and flags `extra`, connected to the router's decoders endpoint."""
    return ServiceProcess("decoder", "--router", router.decoders, "--bundle", str(BUNDLE), "--slots", str(slots),
                          *WORKER_FLAGS, *extra)


def run_bundle(prompt: str | list[int], *flags: str) -> list[dict]:
    """The JSON lines `l2s run --bundle BUNDLE PROMPT --json --threads 1 FLAGS` prints (with --stream: one
    {"delta","ids"} per token, then the result object); `prompt` as a list of ints goes in as --input-ids."""
    source = ["--input-ids", ",".join(map(str, prompt))] if isinstance(prompt, list) else [prompt]
    done = subprocess.run([str(l2s_binary()), "run", "--bundle", str(BUNDLE), *source, "--json", "--threads", "1",
                           *flags], capture_output=True, text=True, timeout=REFERENCE_TIMEOUT_S)
    if done.returncode != 0:
        raise AssertionError(f"l2s run --bundle {prompt!r} {' '.join(flags)} exited with {done.returncode}: "
                             f"{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def reference(prompt: str | list[int], *flags: str) -> dict:
    """The result object of `l2s run --bundle`: what the cluster must return for the same prompt and flags."""
    lines = run_bundle(prompt, *flags)
    if len(lines) != 1:
        raise AssertionError(f"l2s run --bundle printed {len(lines)} lines, expected one result object")
    return lines[0]
