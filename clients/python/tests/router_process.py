"""Runs the real `l2s router` binary for a test: ephemeral ports on 127.0.0.1, bounded start, killed after."""

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
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


def l2s_binary() -> pathlib.Path:
    """$L2S_BIN, else the newer of .build/release/l2s and .build/debug/l2s; AssertionError when none exists
    (the tests need the real router, so a missing build fails them rather than skipping them)."""
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


class RouterProcess:
    """`l2s router --clients/--encoders/--decoders tcp://127.0.0.1:* [extra flags]` as a child process."""

    def __init__(self, *extra: str) -> None:
        command = [str(l2s_binary()), "router", "--clients", "tcp://127.0.0.1:*", "--encoders", "tcp://127.0.0.1:*",
                   "--decoders", "tcp://127.0.0.1:*", *extra]
        # The log goes to a file, not a pipe nobody drains (a full pipe would stall the router).
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
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
        self.log.close()
        return self.process.returncode

    def log_text(self) -> str:
        """What the router logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
