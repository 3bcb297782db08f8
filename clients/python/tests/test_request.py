"""Client-side request checks and request building; no router is needed (the endpoint has no listener)."""

from __future__ import annotations

import pathlib
import sys
import time
import unittest
from unittest import mock

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cases import Watchdog, unused_endpoint  # noqa: E402
from l2s_client import Client, L2SError  # noqa: E402
from l2s_client.request import build_request  # noqa: E402


class ClientSideChecksTests(Watchdog):
    """Checks that need no router: they fail before anything is sent (the endpoint has no listener)."""

    def setUp(self) -> None:
        super().setUp()
        self.client = Client(unused_endpoint(), timeout=0.3)
        self.addCleanup(self.client.close)

    def test_range_errors_name_the_field_like_the_router(self) -> None:
        cases = [
            ("", {}, "the prompt text is empty"),
            ([], {}, "prompt token_ids is empty"),
            ([3, -1], {}, "prompt token_ids[1] is negative (-1)"),
            ([2**31], {}, "prompt token_ids[0] = 2147483648 does not fit in int32"),
            ("x", {"max_new_tokens": 0}, "max_new_tokens must be at least 1, got 0"),
            ("x", {"max_new_tokens": -1}, "max_new_tokens must be in 0...4294967295, got -1"),
            ("x", {"max_new_tokens": 2, "min_new_tokens": 3}, "min_new_tokens (3) exceeds max_new_tokens (2)"),
            ("x", {"temperature": -1}, "sampling: temperature must be in (0, 100], got -1.0"),
            ("x", {"temperature": float("nan")}, "sampling: temperature must be in (0, 100], got nan"),
            ("x", {"top_p": 0}, "sampling: top_p must be in (0, 1], got 0.0"),
            ("x", {"top_k": -1}, "sampling: top_k must be in 0...4294967295, got -1"),
            ("x", {"seed": -1}, "sampling: seed must be in 0..."),
            ("x", {"stop": ""}, "stop[0] is an empty string"),
            ("x", {"stop": ["a", "b", "c", "d", "e"]}, "5 stop sequences; at most 4 are allowed"),
            ("x", {"stop": ["é" * 129]}, "stop[0] is 258 bytes; limit 256"),
            ("x", {"repetition_penalty": 0}, "sampling: repetition_penalty must be in (0, 10], got 0.0"),
            ("x", {"no_repeat_ngram_size": 65}, "sampling: no_repeat_ngram_size must be in 0...64, got 65"),
            ("x", {"presence_penalty": 2.5}, "sampling: presence_penalty must be in [-2, 2], got 2.5"),
            ("x", {"frequency_penalty": float("nan")}, "sampling: frequency_penalty must be in [-2, 2], got nan"),
            ("x", {"tenant_salt": b"s" * 257}, "tenant_salt is 257 bytes; limit 256"),
            ("x", {"deadline_s": float("inf")}, "deadline_s must be finite"),
        ]
        # Client-side checks must not wait for the router: anything sent or awaited fails the test at once.
        never = AssertionError("a client-side check reached the router")
        for prompt, params, message in cases:
            with self.subTest(params=params, prompt=prompt):
                with mock.patch.object(self.client, "_send", side_effect=never), \
                        mock.patch.object(self.client, "_receive", side_effect=never):
                    with self.assertRaises(L2SError) as caught:
                        self.client.generate(prompt, **params)
                self.assertEqual(caught.exception.code, "BAD_REQUEST")
                self.assertIn(message, caught.exception.message)

    def test_type_errors(self) -> None:
        for prompt, params in [(b"bytes", {}), (None, {}), ([1, "2"], {}), ([True], {}), ("x", {"max_new_tokens": 2.5}),
                               ("x", {"temperature": "hot"}), ("x", {"stop": [1]}), ("x", {"tenant_salt": 5}),
                               ("x", {"greedy": "yes"})]:
            with self.subTest(prompt=prompt, params=params):
                with self.assertRaises(TypeError):
                    self.client.generate(prompt, **params)
        with self.assertRaisesRegex(ValueError, "greedy=True contradicts temperature=0.5"):
            self.client.generate("x", greedy=True, temperature=0.5)
        with self.assertRaisesRegex(ValueError, "concurrency"):
            self.client.generate_many(["x"], concurrency=0)
        with self.assertRaisesRegex(ValueError, "timeout"):
            Client("tcp://127.0.0.1:1", timeout=0)
        with self.assertRaisesRegex(ValueError, "cannot connect"):
            Client("nonsense://here")

    def test_sampling_request_matches_the_cli(self) -> None:
        greedy = build_request("1", "x").sampling
        self.assertEqual((greedy.greedy, greedy.temperature, greedy.top_k, greedy.top_p), (True, 1.0, 0, 1.0))
        sampled = build_request("1", "x", top_k=5, seed=7).sampling
        self.assertEqual((sampled.greedy, sampled.temperature, sampled.top_k, sampled.top_p, sampled.seed),
                         (False, 1.0, 5, 1.0, 7))
        before = int(time.time() * 1000)
        deadline = build_request("1", "x", deadline_s=2).deadline_unix_ms
        self.assertTrue(before + 2000 <= deadline <= int(time.time() * 1000) + 2000)


if __name__ == "__main__":
    unittest.main()
