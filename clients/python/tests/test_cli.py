"""`python -m l2s_client` against the real router, encoder and decoder: output equal to `l2s run --bundle`, exit
codes."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cases import RouterCase, unused_endpoint  # noqa: E402
from services import reference, run_bundle  # noqa: E402

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1]


class CommandLineTests(RouterCase):
    def run_cli(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "l2s_client", *arguments], cwd=PACKAGE_DIR, capture_output=True,
                              text=True, timeout=20)

    def test_json_and_stream_output_equal_the_reference(self) -> None:
        self.start_workers()
        done = self.run_cli("--router", self.router.clients, "--json", "--max-new-tokens", "4", "héllo")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout), reference("héllo", "--max-new-tokens", "4"))
        streamed = self.run_cli("--router", self.router.clients, "--json", "--stream", "--input-ids", "65,66",
                                "--max-new-tokens", "3")
        self.assertEqual(streamed.returncode, 0, streamed.stderr)
        self.assertEqual([json.loads(line) for line in streamed.stdout.splitlines()],
                         run_bundle([65, 66], "--stream", "--max-new-tokens", "3"))
        plain = self.run_cli("--router", self.router.clients, "--max-new-tokens", "6", "xy")
        self.assertEqual((plain.returncode, plain.stdout), (0, reference("xy", "--max-new-tokens", "6")["text"] + "\n"))
        # --logprobs (implies JSON), streamed: the lines of `l2s run --stream --logprobs`.
        flags = ("--stream", "--max-new-tokens", "4", "--logprobs", "3")
        logprobs = self.run_cli("--router", self.router.clients, *flags, "xy")
        self.assertEqual(logprobs.returncode, 0, logprobs.stderr)
        self.assertEqual([json.loads(line) for line in logprobs.stdout.splitlines()], run_bundle("xy", *flags))

    def test_failures_and_usage_errors(self) -> None:
        refused = self.run_cli("--router", self.router.clients, "--max-new-tokens", "0", "x")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("BAD_REQUEST", refused.stderr)
        self.assertIn("max_new_tokens", refused.stderr)
        down = self.run_cli("--router", unused_endpoint(), "--timeout-ms", "300", "x")
        self.assertEqual(down.returncode, 1)
        self.assertIn("no answer from the router", down.stderr)
        for arguments in [(), ("a", "--input-ids", "1"), ("--greedy", "--seed", "1", "x"), ("--input-ids", "1,-2")]:
            with self.subTest(arguments=arguments):
                self.assertEqual(self.run_cli(*arguments).returncode, 64)


if __name__ == "__main__":
    unittest.main()
