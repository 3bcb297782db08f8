"""The client over CURVE: a router started with --curve-secret-file serves clients that know its public key
and nobody else (real `l2s keygen` and `l2s router` processes)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cases import Watchdog  # noqa: E402
from l2s_client import Client  # noqa: E402
from services import RouterProcess, l2s_binary  # noqa: E402


class CurveTests(Watchdog):
    def test_only_clients_with_the_routers_key_are_answered(self) -> None:
        keys = subprocess.run([str(l2s_binary()), "keygen"], capture_output=True, text=True, timeout=10, check=True)
        pair = json.loads(keys.stdout)
        with tempfile.NamedTemporaryFile("w", suffix=".key", delete=False) as handle:
            handle.write(keys.stdout)
        self.addCleanup(pathlib.Path(handle.name).unlink)
        worker = json.loads(subprocess.run([str(l2s_binary()), "keygen"], capture_output=True, text=True, timeout=10,
                                           check=True).stdout)
        with tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False) as workers:
            workers.write(worker["public"] + "\n")
        self.addCleanup(pathlib.Path(workers.name).unlink)
        router = RouterProcess("--curve-secret-file", handle.name, "--worker-keys", workers.name)
        self.addCleanup(router.stop)
        with Client(router.clients, timeout=5, curve_server_key=pair["public"]) as client:
            self.assertEqual(client.stats()["workers"], [])
        with Client(router.clients, timeout=0.5) as outsider:
            with self.assertRaises(TimeoutError):
                outsider.stats()
        with self.assertRaises(ValueError):
            Client(router.clients, curve_server_key="short")
