"""Prometheus metrics of the real services (`--metrics HOST:PORT`): every exposition must pass the official
Prometheus client's parser and `promtool check metrics`, and the counts must match what was run through the cluster
(jobs, tokens, encodes, workers joining and leaving, failovers)."""

from __future__ import annotations

import os
import pathlib
import signal
import sys
import time
import urllib.error
import urllib.request
from typing import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import services  # noqa: E402
from cases import RouterCase, unused_endpoint  # noqa: E402
from exposition import checked_exposition, samples  # noqa: E402
from services import BUNDLE  # noqa: E402


def free_address() -> str:
    return unused_endpoint().removeprefix("tcp://")


def scrape(address: str) -> dict[tuple[str, tuple], float]:
    """Every sample of http://ADDRESS/metrics by (name, sorted labels), once the parser and promtool accepted it."""
    return samples(checked_exposition(f"http://{address}/metrics"))


def status(address: str, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class MetricsTests(RouterCase):
    time_limit_s = 60

    def setUp(self) -> None:
        self.router_address = free_address()
        self.router_flags = ("--metrics", self.router_address)
        super().setUp()

    def wait_for(self, address: str, what: str, holds: Callable[[dict], bool], within_s: float = 10) -> dict:
        """Scrapes ADDRESS until `holds(samples)` (gauges and totals are refreshed on the router's tick, worker
        departures are noticed after missed heartbeats); fails after `within_s` with the last samples."""
        deadline = time.monotonic() + within_s
        while not holds(found := scrape(address)):
            self.assertLess(time.monotonic(), deadline, f"{what} never held: {found}")
            time.sleep(0.05)
        return found

    def start_decoder(self, address: str, slots: int = 4) -> services.ServiceProcess:
        decoder = services.ServiceProcess("decoder", "--router", self.router.decoders, "--bundle", str(BUNDLE),
                                          "--slots", str(slots), *services.WORKER_FLAGS, "--metrics", address)
        self.workers.append(decoder)
        return decoder

    def wait_ready(self, address: str) -> None:
        deadline = time.monotonic() + 20
        while status(address, "/ready") != 200:
            self.assertLess(time.monotonic(), deadline, f"{address} never became ready")
            time.sleep(0.1)

    def test_router_encoder_and_decoder_count_what_they_did(self) -> None:
        self.assertEqual(status(self.router_address, "/health"), 200)
        self.assertEqual(status(self.router_address, "/ready"), 503, "no workers yet")
        encoder_address, decoder_address = free_address(), free_address()
        self.workers.append(services.encoder(self.router, "--metrics", encoder_address))
        self.start_decoder(decoder_address, slots=3)
        for address in (self.router_address, encoder_address, decoder_address):
            self.wait_ready(address)
        client = self.client(timeout=20)
        jobs = [client.stream(prompt, max_new_tokens=6, min_new_tokens=6) for prompt in
                ["the house is small", "a dog sees the tiger", "the house is small", "the cruel pilots wave"]]
        for job in jobs:
            list(job)
        # The router copies its statistics into the gauges and totals every tick.
        router = self.wait_for(self.router_address, "24 tokens counted and the decoder's 3 credits back",
                               lambda found: found[("l2s_generation_tokens_total", ())] == 24
                               and found[("l2s_worker_free_credits", (("role", "decoder"),))] == 3)
        self.assertEqual(router[("l2s_requests_total", (("code", "length"), ("outcome", "done")))], 4)
        self.assertEqual(router[("l2s_time_to_first_token_seconds_count", ())], 4)
        self.assertEqual(router[("l2s_inter_token_latency_seconds_count", ())], 4 * 5)
        self.assertEqual(router[("l2s_e2e_request_latency_seconds_count", ())], 4)
        self.assertEqual(router[("l2s_request_queue_time_seconds_count", ())], 4)
        self.assertEqual(router[("l2s_workers", (("role", "decoder"),))], 1)
        lookups = {result: router[("l2s_encoding_cache_lookups_total", (("result", result),))]
                   for result in ("hit", "miss", "coalesced")}
        self.assertEqual(lookups["miss"], 3)
        self.assertEqual(lookups["hit"] + lookups["coalesced"], 1, "the repeated prompt never reached the encoder")
        self.assertEqual(router[("l2s_encoding_cache_entries", ())], 3)
        self.assertEqual(router[("l2s_encoding_cache_evictions_total", ())], 0, "256 MiB hold three prompts")
        for role in ("encoder", "decoder"):
            self.assertEqual(router[("l2s_workers_joined_total", (("role", role),))], 1)
            for reason in ("goodbye", "silent", "rejoined"):
                self.assertEqual(router[("l2s_workers_lost_total", (("reason", reason), ("role", role)))], 0)
        for reason in ("worker_fault", "worker_lost"):
            self.assertEqual(router[("l2s_failovers_total", (("reason", reason),))], 0)
        # Messages by link: the 4 requests in, their chunks out; at least the 3 encodings and the chunks of 4 jobs in.
        messages = {(link, direction): router[("l2s_router_messages_total", (("direction", direction), ("link", link)))]
                    for link in ("clients", "encoders", "decoders") for direction in ("received", "sent")}
        self.assertGreaterEqual(messages[("clients", "received")], 4)
        self.assertGreaterEqual(messages[("clients", "sent")], 4)
        self.assertGreaterEqual(messages[("encoders", "received")], 3)
        self.assertGreaterEqual(messages[("encoders", "sent")], 3)
        self.assertGreaterEqual(messages[("decoders", "received")], 4)
        self.assertGreaterEqual(messages[("decoders", "sent")], 4)
        # The decoder's gauges are set after the step that sent the last chunk: wait for it.
        decoder = self.wait_for(decoder_address, "every slot free again",
                                lambda found: found[("l2s_decoder_free_credits", ())] == 3)
        self.assertEqual(decoder[("l2s_decoder_slots", ())], 3)
        self.assertEqual(decoder[("l2s_decoder_running_sequences", ())], 0)
        self.assertEqual(decoder[("l2s_decoder_generation_tokens_total", ())], 24)
        self.assertEqual(decoder[("l2s_decoder_jobs_total", (("outcome", "admitted"),))], 4)
        # The repeated prompt's job started from the decoder's cached start (or shared the first job's prefill).
        self.assertEqual(decoder[("l2s_decoder_sequence_starts_total", (("source", "prefill"),))], 3)
        self.assertEqual(decoder[("l2s_decoder_sequence_starts_total", (("source", "cached"),))], 1)
        self.assertGreater(decoder[("l2s_decoder_prefill_cache_bytes", ())], 0)
        self.assertGreater(decoder[("l2s_decoder_step_seconds_count", ())], 0)
        encoder = scrape(encoder_address)
        self.assertEqual(encoder[("l2s_encoder_prompts_total", (("outcome", "encoded"),))], 3)
        # One observation per prompt pass in both histograms; their prompts add up to the prompts encoded.
        passes = encoder[("l2s_encoder_batch_seconds_count", ())]
        self.assertGreaterEqual(passes, 1)
        self.assertEqual(encoder[("l2s_encoder_batch_prompts_count", ())], passes)
        self.assertEqual(encoder[("l2s_encoder_batch_prompts_sum", ())], 3)
        self.assertEqual(encoder[("l2s_encoder_batch_prompts_bucket", (("le", "+Inf"),))], passes)

    def test_a_decoder_that_dies_mid_job_counts_as_lost_and_its_job_as_a_failover(self) -> None:
        encoder_address, doomed_address, spare_address = free_address(), free_address(), free_address()
        self.workers.append(services.encoder(self.router, "--metrics", encoder_address))
        doomed = self.start_decoder(doomed_address)
        for address in (self.router_address, encoder_address, doomed_address):
            self.wait_ready(address)
        client = self.client(timeout=20)
        # Long enough that it is still running on the first decoder when that one is killed.
        job = client.stream("the house is small", max_new_tokens=3000, min_new_tokens=3000)
        chunks = iter(job)
        next(chunks)
        self.wait_for(doomed_address, "one of its four slots taken by the job",
                      lambda found: found[("l2s_decoder_free_credits", ())] == 3)
        os.kill(doomed.process.pid, signal.SIGKILL)
        doomed.process.wait(5)
        self.start_decoder(spare_address)
        for _ in chunks:
            pass
        self.assertEqual(job.result().finish_reason, "length")
        self.assertEqual(len(job.result().ids), 3000, "resumed where the dead decoder stopped")
        router = self.wait_for(self.router_address, "the death and the failover counted",
                               lambda found: found[("l2s_failovers_total", (("reason", "worker_lost"),))] == 1)
        self.assertEqual(router[("l2s_workers_lost_total", (("reason", "silent"), ("role", "decoder")))], 1)
        self.assertEqual(router[("l2s_workers_joined_total", (("role", "decoder"),))], 2)
        self.assertEqual(router[("l2s_failovers_total", (("reason", "worker_fault"),))], 0)
        self.assertEqual(router[("l2s_time_to_first_token_seconds_count", ())], 1, "one job, one first token")
        # A decoder that shuts down cleanly says goodbye: counted as such, not as silence.
        self.workers[-1].stop()
        self.wait_for(self.router_address, "the goodbye counted",
                      lambda found: found[("l2s_workers_lost_total",
                                           (("reason", "goodbye"), ("role", "decoder")))] == 1)

    def test_refusals_are_counted_by_code(self) -> None:
        client = self.client(validate=False)
        for _ in range(2):
            try:
                client.generate("", max_new_tokens=2)
            except Exception:  # noqa: BLE001 - the refusal itself is what is counted
                pass
        router = scrape(self.router_address)
        self.assertEqual(router[("l2s_requests_total", (("code", "bad_request"), ("outcome", "refused")))], 2)


class JsonLogTests(RouterCase):
    def test_services_log_one_json_object_per_line(self) -> None:
        import os
        import subprocess
        environment = dict(os.environ, L2S_LOG_FORMAT="json")
        router = subprocess.Popen([str(services.l2s_binary()), "router", "--adopt-bundle", "--log-level", "info",
                                   "--clients", "tcp://127.0.0.1:*",
                                   "--encoders", "tcp://127.0.0.1:*", "--decoders", "tcp://127.0.0.1:*"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
        import json
        records = []
        try:
            # Every line is one JSON object; read them until the router says it listens.
            while not records or "listening" not in records[-1]["msg"]:
                line = router.stderr.readline().decode()
                self.assertTrue(line, f"the router's log ended before it listened (exit {router.poll()}): {records}")
                records.append(json.loads(line))
        finally:
            # At once: a SIGTERM in the router's first instants stays pending until its handler takes it (Signals.swift).
            router.terminate()
            router.wait(5)
            router.stdout.close()
            router.stderr.close()
        record = records[-1]
        self.assertEqual((record["service"], record["level"], record["pid"]), ("router", "info", router.pid))
        self.assertIn("T", record["ts"])
