"""The Python client against the real `l2s router` process (ephemeral ports on 127.0.0.1).

Without workers: stats, the router's request checks, the bounded queue, cancel, deadlines, timeouts.
With the scripted worker peers of protocol_peers.py: whole results, streams, the cache flag, many jobs in
flight, cancel mid-stream, stop and deadline while generating.
Needs a built l2s (`swift build --product l2s`); every test is bounded by a SIGALRM watchdog (cases.py).
"""

from __future__ import annotations

import pathlib
import sys
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cases import RouterCase, Watchdog, unused_endpoint  # noqa: E402
from l2s_client import Client, Delta, L2SError, Result, Usage  # noqa: E402
from protocol_peers import echo  # noqa: E402
from router_process import RouterProcess  # noqa: E402


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
        started = time.monotonic()
        with self.assertRaises(L2SError) as caught:
            client.generate("three")
        self.assertLess(time.monotonic() - started, 1.0)
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
        started = time.monotonic()
        with self.assertRaises(L2SError) as caught:
            self.client().generate("soon", deadline_s=0.3)
        self.assertEqual(caught.exception.code, "DEADLINE_EXCEEDED")
        self.assertLess(time.monotonic() - started, 3.0)

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


class RouterDownTests(Watchdog):
    def test_silent_endpoint_raises_timeout_quickly(self) -> None:
        endpoint = unused_endpoint()
        with Client(endpoint, timeout=0.3) as client:
            for call in (client.stats, lambda: client.generate("hello"), lambda: list(client.stream("hello"))):
                started = time.monotonic()
                with self.assertRaises(TimeoutError) as caught:
                    call()
                self.assertLess(time.monotonic() - started, 1.5)
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


class WithScriptedWorkersTests(RouterCase):
    def test_generate_returns_the_whole_result(self) -> None:
        self.start_workers()
        result = self.client().generate("hello", max_new_tokens=7)
        self.assertEqual(result.text, "hellohe")
        self.assertEqual(result.ids, echo(b"hello", 7))
        self.assertEqual(result.finish_reason, "length")
        self.assertEqual(result.usage, Usage(prompt_tokens=5, completion_tokens=7, cached_encoding=False))
        self.assertEqual(result.as_dict(), {"text": "hellohe", "ids": echo(b"hello", 7), "finish_reason": "length",
                                            "usage": {"prompt_tokens": 5, "completion_tokens": 7}})

    def test_identical_prompt_uses_the_cached_encoding(self) -> None:
        encoder = self.start_workers()
        client = self.client()
        first = client.generate("cache me", max_new_tokens=3)
        second = client.generate("cache me", max_new_tokens=3)
        salted = client.generate("cache me", max_new_tokens=3, tenant_salt="tenant-b")
        self.assertEqual((first.usage.cached_encoding, second.usage.cached_encoding, salted.usage.cached_encoding),
                         (False, True, False))
        self.assertEqual(first.as_dict(), second.as_dict())
        self.assertEqual(encoder.encodes, 2)
        cache = client.stats()["cache"]
        self.assertEqual((cache["hits"], cache["misses"], cache["entries"]), (1, 2, 2))

    def test_stream_yields_deltas_then_the_result(self) -> None:
        self.start_workers()
        client = self.client()
        job = client.stream([72, 105, 33], max_new_tokens=5)
        deltas = list(job)
        self.assertEqual(deltas, [Delta(text=chr(i), ids=[i]) for i in echo([72, 105, 33], 5)])
        result = job.result()
        self.assertEqual(result.text, "Hi!Hi")
        self.assertEqual(result.ids, [i for delta in deltas for i in delta.ids])
        self.assertEqual(result.as_dict(), client.generate([72, 105, 33], max_new_tokens=5).as_dict())

    def test_two_streams_interleaved_on_one_client(self) -> None:
        self.start_workers(slots=2, tick_s=0.02)
        client = self.client()
        first, second = client.stream("abc", max_new_tokens=6), client.stream("xyz", max_new_tokens=6)
        text = {first.request_id: "", second.request_id: ""}
        iterators = [(first, iter(first)), (second, iter(second))]
        while iterators:
            for entry in list(iterators):
                delta = next(entry[1], None)
                if delta is None:
                    iterators.remove(entry)
                else:
                    text[entry[0].request_id] += delta.text
        self.assertEqual((first.result().text, second.result().text), ("abcabc", "xyzxyz"))
        self.assertEqual(list(text.values()), ["abcabc", "xyzxyz"])

    def test_generate_many_keeps_jobs_in_flight(self) -> None:
        self.start_workers(decoders=2, slots=2)
        prompts = [f"prompt {index}" for index in range(30)] + [""]
        started = time.monotonic()
        results = self.client(validate=False).generate_many(prompts, concurrency=8, max_new_tokens=4)
        elapsed = time.monotonic() - started
        for prompt, result in zip(prompts[:-1], results[:-1]):
            self.assertIsInstance(result, Result)
            self.assertEqual(result.ids, echo(prompt.encode(), 4))
            self.assertEqual(result.finish_reason, "length")
        self.assertIsInstance(results[-1], L2SError)
        self.assertEqual(len({result.request_id for result in results}), len(prompts))
        stats = self.client().stats()
        self.assertEqual(stats["jobs_done"], 30)
        self.assertEqual(sum(worker["jobs_done"] for worker in stats["workers"] if worker["role"] == "decoder"), 30)
        self.assertTrue(all(worker["jobs_done"] > 0 for worker in stats["workers"]), "both decoders got work")
        self.assertLess(elapsed, 10)

    def test_cancel_mid_stream_keeps_what_was_streamed(self) -> None:
        self.start_workers(tick_s=0.05)
        client = self.client()
        job = client.stream("streaming", max_new_tokens=500)
        deltas = []
        for delta in job:
            deltas.append(delta)
            if len(deltas) == 3:
                self.assertTrue(job.cancel())
        result = job.result()
        self.assertEqual(result.finish_reason, "cancelled")
        self.assertEqual(result.ids, [i for delta in deltas for i in delta.ids])
        self.assertEqual(result.text, "".join(delta.text for delta in deltas))
        self.assertGreaterEqual(len(result.ids), 3)
        self.assertEqual(result.usage.completion_tokens, len(result.ids))
        deadline = time.monotonic() + 2
        while self.workers[1].cancels == 0:
            self.assertLess(time.monotonic(), deadline, "the router did not pass the cancel on to the decoder")
            time.sleep(0.02)

    def test_stop_sequence_ends_with_stop(self) -> None:
        self.start_workers()
        result = self.client().generate("abcdef", max_new_tokens=20, stop=["zz", "fab"])
        self.assertEqual((result.text, result.finish_reason), ("abcdefab", "stop"))

    def test_deadline_passing_while_generating(self) -> None:
        self.start_workers(tick_s=0.05)
        with self.assertRaises(L2SError) as caught:
            self.client().generate("slow", max_new_tokens=1000, deadline_s=0.5)
        self.assertEqual(caught.exception.code, "DEADLINE_EXCEEDED")
        self.assertIn("generated tokens", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
