"""Prometheus metrics of the real services (`--metrics HOST:PORT`), read with the official Prometheus client's
parser: every exposition must parse, and the counts must match the jobs run through the cluster."""

from __future__ import annotations

import pathlib
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import services  # noqa: E402
from cases import RouterCase, unused_endpoint  # noqa: E402
from services import BUNDLE  # noqa: E402


def free_address() -> str:
    return unused_endpoint().removeprefix("tcp://")


def scrape(address: str) -> dict[tuple[str, tuple], float]:
    """Every sample of http://ADDRESS/metrics by (name, sorted labels), parsed by prometheus_client."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


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
        self.workers.append(services.ServiceProcess("decoder", "--router", self.router.decoders, "--bundle",
                                                    str(BUNDLE), *services.WORKER_FLAGS, "--metrics", decoder_address))
        for address in (self.router_address, encoder_address, decoder_address):
            self.wait_ready(address)
        client = self.client(timeout=20)
        jobs = [client.stream(prompt, max_new_tokens=6, min_new_tokens=6) for prompt in
                ["the house is small", "a dog sees the tiger", "the house is small", "the cruel pilots wave"]]
        for job in jobs:
            list(job)
        time.sleep(0.6)  # the router copies its statistics into the gauges every tick
        router = scrape(self.router_address)
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
        self.assertEqual(router[("l2s_generation_tokens_total", ())], 24)
        decoder = scrape(decoder_address)
        self.assertEqual(decoder[("l2s_decoder_generation_tokens_total", ())], 24)
        self.assertEqual(decoder[("l2s_decoder_jobs_total", (("outcome", "admitted"),))], 4)
        self.assertGreater(decoder[("l2s_decoder_step_seconds_count", ())], 0)
        encoder = scrape(encoder_address)
        self.assertEqual(encoder[("l2s_encoder_prompts_total", (("outcome", "encoded"),))], 3)

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
