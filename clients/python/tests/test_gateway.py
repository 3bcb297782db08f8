"""`l2s gateway` through the official `openai` package (and raw HTTP where the package hides what is checked), in
front of a real router, encoder and decoder on the t5-add fixture bundle: every answer must equal `l2s run
--bundle`, errors must be OpenAI error objects with the right status, and a client that disconnects must have its
job cancelled on the router."""

from __future__ import annotations

import json
import pathlib
import sys
import time
import urllib.error
import urllib.request

import openai
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import services  # noqa: E402
from cases import RouterCase  # noqa: E402
from exposition import checked_exposition  # noqa: E402
from l2s_client import Client  # noqa: E402
from services import BUNDLE, reference  # noqa: E402
from test_metrics import free_address, scrape  # noqa: E402

PROMPTS = ["the house is small", "these noisy witches test the nets"]


class GatewayProcess(services.ServiceProcess):
    """`l2s gateway --router EP --listen 127.0.0.1:0 --bundle BUNDLE`, with its URL once it listens."""

    def __init__(self, router: services.RouterProcess) -> None:
        import subprocess
        super().__init__("gateway", "--router", router.clients, "--listen", "127.0.0.1:0", "--bundle", str(BUNDLE),
                         stdout=subprocess.PIPE)
        line = self.process.stdout.readline().decode()
        if not line:
            raise AssertionError(f"l2s gateway did not start: {self.log_text()}")
        self.url: str = json.loads(line)["http"]


class GatewayCase(RouterCase):
    """A router, an encoder, a decoder and a gateway in front, with an `openai` client on it."""

    time_limit_s = 60
    decoder_flags: tuple[str, ...] = ()

    def setUp(self) -> None:
        super().setUp()
        self.start_workers(decoder_flags=self.decoder_flags)
        self.gateway = GatewayProcess(self.router)
        self.addCleanup(self.gateway.stop)
        self.api = openai.OpenAI(base_url=self.gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30)

    def raw(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.gateway.url + path, method=method, headers=headers or {},
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())


class GatewayTests(GatewayCase):
    def test_completions_equal_the_in_process_reference(self) -> None:
        expected = [reference(prompt, "--max-new-tokens", "8") for prompt in PROMPTS]
        whole = self.api.completions.create(model="t5-add", prompt=PROMPTS, max_tokens=8)
        self.assertEqual([choice.text for choice in whole.choices], [result["text"] for result in expected])
        self.assertEqual([choice.index for choice in whole.choices], [0, 1])
        self.assertEqual(whole.usage.completion_tokens, sum(len(result["ids"]) for result in expected))
        self.assertEqual([choice.finish_reason for choice in whole.choices],
                         ["length" if result["finish_reason"] == "length" else "stop" for result in expected])
        pieces = list(self.api.completions.create(model="t5-add", prompt=PROMPTS[0], max_tokens=8, stream=True))
        self.assertEqual("".join(piece.choices[0].text for piece in pieces), expected[0]["text"])
        self.assertIsNotNone(pieces[-1].choices[0].finish_reason)

    def test_curl_sees_the_raw_server_sent_events_framing(self) -> None:
        """`curl -N` as the README shows it: `data: {json}` events separated by blank lines, `data: [DONE]` last."""
        import subprocess
        expected = reference(PROMPTS[0], "--max-new-tokens", "6")
        body = json.dumps({"model": "t5-add", "prompt": PROMPTS[0], "max_tokens": 6, "stream": True})
        done = subprocess.run(["curl", "-N", "-s", "-S", "-i", "--max-time", "60", self.gateway.url + "/v1/completions",
                               "-H", "Content-Type: application/json", "-d", body],
                              capture_output=True, text=True, timeout=90)
        self.assertEqual(done.returncode, 0, done.stderr)
        head, _, events = done.stdout.replace("\r\n", "\n").partition("\n\n")
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        self.assertIn("content-type: text/event-stream", head.lower())
        blocks = events.split("\n\n")
        self.assertEqual(blocks[-1], "", "the stream ends with a blank line")
        self.assertEqual(blocks[-2], "data: [DONE]")
        chunks = []
        for block in blocks[:-2]:
            self.assertTrue(block.startswith("data: ") and "\n" not in block, repr(block))
            chunks.append(json.loads(block.removeprefix("data: ")))
        self.assertEqual("".join(chunk["choices"][0]["text"] for chunk in chunks), expected["text"])
        self.assertEqual({chunk["object"] for chunk in chunks}, {"text_completion"})
        self.assertIsNotNone(chunks[-1]["choices"][0]["finish_reason"])

    def test_chat_answers_the_last_user_message(self) -> None:
        expected = reference(PROMPTS[1], "--max-new-tokens", "10")["text"]
        messages = [{"role": "system", "content": "translate"}, {"role": "user", "content": "ignored"},
                    {"role": "assistant", "content": "x"}, {"role": "user", "content": PROMPTS[1]}]
        chat = self.api.chat.completions.create(model="t5-add", messages=messages, max_tokens=10)
        self.assertEqual(chat.choices[0].message.content, expected)
        self.assertEqual(chat.choices[0].message.role, "assistant")
        stream = self.api.chat.completions.create(model="t5-add", messages=messages, max_tokens=10, stream=True)
        self.assertEqual("".join(chunk.choices[0].delta.content or "" for chunk in stream), expected)

    def test_models_health_ready_and_request_ids(self) -> None:
        self.assertEqual([model.id for model in self.api.models.list()], ["t5-add"])
        self.assertEqual(self.raw("GET", "/health")[0], 200)
        status, _, body = self.raw("GET", "/ready")
        self.assertEqual((status, body["encoders"], body["decoders"]), (200, 1, 1))
        status, headers, _ = self.raw("POST", "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": 2},
                                      {"x-request-id": "trace-42", "Content-Type": "application/json"})
        self.assertEqual((status, headers.get("x-request-id")), (200, "trace-42"))
        exposition = checked_exposition(self.gateway.url + "/metrics")
        families = {family.name: family for family in text_string_to_metric_families(exposition)}
        served = [sample for sample in families["l2s_gateway_requests"].samples
                  if sample.labels == {"route": "/v1/completions", "status": "200"} and sample.name.endswith("_total")]
        self.assertEqual([sample.value for sample in served], [1])

    def test_errors_are_openai_error_objects_with_the_right_status(self) -> None:
        with self.assertRaises(openai.BadRequestError) as caught:
            self.api.completions.create(model="t5-add", prompt="x", n=0)
        self.assertEqual(caught.exception.body["param"], "n")
        with self.assertRaises(openai.BadRequestError) as caught:
            self.api.completions.create(model="t5-add", prompt="x", temperature=7)
        self.assertIn("temperature", caught.exception.message)
        with self.assertRaises(openai.NotFoundError):
            self.api.completions.create(model="gpt-4", prompt="x")
        with self.assertRaises(openai.APIStatusError) as caught:
            self.api.completions.create(model="t5-add", prompt="a" * 300_000, max_tokens=2)
        self.assertEqual(caught.exception.status_code, 413)
        self.assertEqual(self.raw("GET", "/v2/nothing")[0], 404)
        self.assertEqual(self.raw("DELETE", "/v1/completions")[0], 405)

    def test_a_client_that_disconnects_cancels_its_job(self) -> None:
        stream = self.api.completions.create(model="t5-add", prompt=PROMPTS[0], max_tokens=4000, stream=True,
                                             extra_body={"min_tokens": 4000})
        for _, _ in zip(range(3), stream):
            pass
        stream.close()
        with Client(self.router.clients, timeout=5) as probe:
            deadline = time.monotonic() + 10
            while probe.stats()["faults"]["jobs_cancelled"] < 1:
                self.assertLess(time.monotonic(), deadline, "the router never heard of the cancel")
                time.sleep(0.1)
            self.assertLess(probe.stats()["tokens_generated"], 4000, "the job stopped early")


class GatewayWithoutWorkersTests(RouterCase):
    def test_not_ready_without_workers(self) -> None:
        gateway = GatewayProcess(self.router)
        self.addCleanup(gateway.stop)
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(gateway.url + "/ready", timeout=10)
        self.assertEqual(caught.exception.code, 503)


class GatewayInputTests(GatewayCase):
    """Stop strings, and bad HTTP, bodies and JSON: each a 4xx, never a crash."""

    def test_stop_ends_the_answer_with_finish_reason_stop(self) -> None:
        expected = reference(PROMPTS[0], "--max-new-tokens", "12")
        self.assertEqual(expected["finish_reason"], "length")
        stop = expected["text"][2:5]
        answer = self.api.completions.create(model="t5-add", prompt=PROMPTS[0], max_tokens=12, stop=[stop])
        self.assertEqual(answer.choices[0].finish_reason, "stop")
        # OpenAI's semantics: the text ends right before the stop string.
        self.assertEqual(answer.choices[0].text, expected["text"][:expected["text"].index(stop)])

    def test_penalties_reach_the_decoder_and_equal_l2s_run(self) -> None:
        flags = ("--max-new-tokens", "12", "--presence-penalty", "1.5", "--frequency-penalty", "0.5",
                 "--repetition-penalty", "1.3")
        expected = reference(PROMPTS[1], *flags)
        self.assertNotEqual(expected["ids"], reference(PROMPTS[1], "--max-new-tokens", "12")["ids"],
                            "the penalties must change this answer, or this test proves nothing")
        answer = self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=12, presence_penalty=1.5,
                                             frequency_penalty=0.5, extra_body={"repetition_penalty": 1.3})
        self.assertEqual(answer.choices[0].text, expected["text"])
        with self.assertRaises(openai.BadRequestError) as caught:
            self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=4, presence_penalty=2.5)
        self.assertEqual(caught.exception.body.get("param"), "presence_penalty")

    def test_beam_search_and_n_choices_equal_l2s_run(self) -> None:
        beams = reference(PROMPTS[1], "--max-new-tokens", "12", "--num-beams", "4")
        self.assertNotEqual(beams["ids"], reference(PROMPTS[1], "--max-new-tokens", "12")["ids"],
                            "beam search must change this answer, or this test proves nothing")
        answer = self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=12,
                                             extra_body={"num_beams": 4})
        self.assertEqual(answer.choices[0].text, beams["text"])
        # n samples: choice j is the job seeded seed + j.
        samples = [reference(PROMPTS[0], "--max-new-tokens", "8", "--temperature", "0.9", "--seed", str(seed))
                   for seed in (7, 8)]
        self.assertNotEqual(samples[0]["ids"], samples[1]["ids"], "the two seeds must differ for this test")
        answer = self.api.completions.create(model="t5-add", prompt=PROMPTS[0], max_tokens=8, temperature=0.9,
                                             seed=7, n=2)
        self.assertEqual([choice.index for choice in answer.choices], [0, 1])
        self.assertEqual([choice.text for choice in answer.choices], [sample["text"] for sample in samples])
        for body, param in (({"num_beams": 17}, "num_beams"), ({"num_beams": 2, "early_stopping": "soon"},
                                                                 "early_stopping")):
            with self.assertRaises(openai.BadRequestError) as caught:
                self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=4, extra_body=body)
            self.assertEqual(caught.exception.body.get("param"), param)
        with self.assertRaises(openai.BadRequestError) as caught:
            self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=4, n=65)
        self.assertEqual(caught.exception.body.get("param"), "n")

    def test_logprobs_equal_l2s_runs_numbers(self) -> None:
        expected = services.run_bundle(PROMPTS[1], "--max-new-tokens", "8", "--logprobs", "2")[-1]["logprobs"]
        numbers = [(entry["logprob"], [value for _, value in entry["top"]]) for entry in expected]
        with Client(self.router.clients, timeout=30) as client:  # the decoder's token texts, as the gateway gets them
            texts = [(entry.text, entry.top_texts) for entry in client.generate(PROMPTS[1], max_new_tokens=8,
                                                                                 logprobs=2).logprobs]
        # Completions: OpenAI's legacy object, one entry per token (the end-of-sequence one included).
        answer = self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=8, logprobs=2)
        logprobs = answer.choices[0].logprobs
        self.assertEqual(logprobs.token_logprobs, [lp for lp, _ in numbers])
        self.assertEqual(logprobs.tokens, [text for text, _ in texts])
        self.assertEqual([dict(top) for top in logprobs.top_logprobs],
                         [dict(zip(tops, values)) for (_, tops), (_, values) in zip(texts, numbers)])
        offsets = [sum(len(text) for text, _ in texts[:index]) for index in range(len(texts))]
        self.assertEqual(logprobs.text_offset, offsets)
        # Streamed, the chunks' entries concatenate to the same.
        chunks = list(self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=8, logprobs=2,
                                                  stream=True))
        self.assertEqual([lp for chunk in chunks if chunk.choices[0].logprobs
                          for lp in chunk.choices[0].logprobs.token_logprobs], [lp for lp, _ in numbers])
        self.assertEqual([offset for chunk in chunks if chunk.choices[0].logprobs
                          for offset in chunk.choices[0].logprobs.text_offset], offsets)
        # Chat: logprobs true with top_logprobs N.
        messages = [{"role": "user", "content": PROMPTS[1]}]
        chat = self.api.chat.completions.create(model="t5-add", messages=messages, max_tokens=8, logprobs=True,
                                                top_logprobs=2)
        content = chat.choices[0].logprobs.content
        self.assertEqual([(item.token, item.logprob) for item in content], [(text, lp) for (text, _), (lp, _)
                                                                             in zip(texts, numbers)])
        self.assertEqual([item.bytes for item in content], [list(text.encode()) for text, _ in texts])
        self.assertEqual([[(top.token, top.logprob) for top in item.top_logprobs] for item in content],
                         [list(zip(tops, values)) for (_, tops), (_, values) in zip(texts, numbers)])
        streamed = list(self.api.chat.completions.create(model="t5-add", messages=messages, max_tokens=8,
                                                         logprobs=True, top_logprobs=2, stream=True))
        self.assertEqual([item.logprob for chunk in streamed if chunk.choices[0].logprobs
                          for item in chunk.choices[0].logprobs.content], [lp for lp, _ in numbers])
        # Without them, null as before.
        plain = self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=2)
        self.assertIsNone(plain.choices[0].logprobs)
        # Bad values: 400 naming the parameter.
        for create, kwargs, param in (
                (self.api.completions.create, {"prompt": PROMPTS[1], "logprobs": 21}, "logprobs"),
                (self.api.completions.create, {"prompt": PROMPTS[1], "logprobs": -1}, "logprobs"),
                (self.api.completions.create, {"prompt": PROMPTS[1], "logprobs": 1, "extra_body": {"num_beams": 2}},
                 "logprobs"),
                (self.api.chat.completions.create, {"messages": messages, "logprobs": True, "top_logprobs": 21},
                 "top_logprobs"),
                (self.api.chat.completions.create, {"messages": messages, "top_logprobs": 2}, "top_logprobs")):
            with self.assertRaises(openai.BadRequestError) as caught:
                create(model="t5-add", max_tokens=4, **kwargs)
            self.assertEqual(caught.exception.body.get("param"), param, f"{kwargs}")

    def test_bad_http_bodies_and_json_get_4xx_and_the_gateway_lives(self) -> None:
        import socket
        self.assertEqual(self.raw("POST", "/v1/completions", None, {"Content-Type": "application/json"})[0], 400)
        request = urllib.request.Request(self.gateway.url + "/v1/completions", method="POST", data=b"{not json",
                                         headers={"Content-Type": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        self.assertEqual(caught.exception.code, 400)
        huge = urllib.request.Request(self.gateway.url + "/v1/completions", method="POST", data=b" " * (5 << 20))
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(huge, timeout=10)
        self.assertEqual(caught.exception.code, 413)
        host, port = self.gateway.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"BREW /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(raw.recv(64).startswith(b"HTTP/1.1 405"))
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"\x00\xffGARBAGE\r\n\r\n")  # not HTTP at all: dropped, nothing else happens
        self.assertEqual(self.raw("GET", "/health")[0], 200)


class GatewayStreamIntervalTests(GatewayCase):
    """A decoder sending streamed jobs' tokens every 3 steps (`l2s decoder --stream-interval 3`): streams come in
    fewer chunks of several tokens, whose text and logprobs concatenate to those of `l2s run --bundle`."""

    decoder_flags = ("--stream-interval", "3")

    def test_streamed_chunks_carry_several_tokens_and_equal_l2s_run(self) -> None:
        expected = reference(PROMPTS[1], "--max-new-tokens", "12", "--min-new-tokens", "12", "--logprobs", "1")
        self.assertEqual(len(expected["ids"]), 12)
        pieces = list(self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=12, logprobs=1,
                                                  stream=True, extra_body={"min_tokens": 12}))
        tokens = [len(piece.choices[0].logprobs.tokens) for piece in pieces if piece.choices[0].logprobs]
        self.assertEqual(sum(tokens), 12)
        self.assertEqual(tokens[0], 1, "the first token comes alone")
        self.assertGreater(max(tokens), 1, f"chunks of several tokens: {tokens}")
        self.assertEqual("".join(piece.choices[0].text for piece in pieces), expected["text"])
        self.assertEqual([value for piece in pieces if piece.choices[0].logprobs
                          for value in piece.choices[0].logprobs.token_logprobs],
                         [entry["logprob"] for entry in expected["logprobs"]])
        self.assertEqual(pieces[-1].choices[0].finish_reason, "length")
        # Whole answers are unchanged.
        whole = self.api.completions.create(model="t5-add", prompt=PROMPTS[1], max_tokens=12,
                                            extra_body={"min_tokens": 12})
        self.assertEqual(whole.choices[0].text, expected["text"])


class GatewayOverloadTests(RouterCase):
    router_flags = ("--max-queue", "1")

    def test_a_full_router_queue_is_429(self) -> None:
        import threading
        gateway = GatewayProcess(self.router)
        self.addCleanup(gateway.stop)
        api = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=3)
        waiting = threading.Thread(target=lambda: self.assertRaises(openai.APITimeoutError, api.completions.create,
                                                                    model="t5-add", prompt="queued", max_tokens=2))
        waiting.start()
        self.assert_queue_depth_becomes(1)
        with self.assertRaises(openai.RateLimitError):
            api.completions.create(model="t5-add", prompt="refused", max_tokens=2)
        waiting.join(10)


class GatewayDisconnectMetricsTests(RouterCase):
    """Issue 13: closing a stream mid-way frees the decoder slot, as `l2s stats` and the metrics both say."""

    time_limit_s = 60

    def setUp(self) -> None:
        self.router_address = free_address()
        self.router_flags = ("--metrics", self.router_address)
        super().setUp()

    def test_closing_a_stream_frees_the_decoder_slot_in_stats_and_metrics(self) -> None:
        router_address, decoder_address = self.router_address, free_address()
        self.workers.append(services.encoder(self.router))
        self.workers.append(services.ServiceProcess("decoder", "--router", self.router.decoders, "--bundle",
                                                    str(BUNDLE), "--slots", "2", *services.WORKER_FLAGS,
                                                    "--metrics", decoder_address))
        gateway = GatewayProcess(self.router)
        self.addCleanup(gateway.stop)
        api = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30)

        def wait_for(address: str, what: str, holds) -> dict:
            deadline = time.monotonic() + 15
            while True:
                try:
                    found = scrape(address)
                    if holds(found):
                        return found
                except (OSError, KeyError):
                    pass  # not listening yet, or a series not exported yet
                self.assertLess(time.monotonic(), deadline, f"{what} never held")
                time.sleep(0.05)

        wait_for(router_address, "a decoder joined", lambda found: found[("l2s_workers", (("role", "decoder"),))] == 1)
        stream = api.completions.create(model="t5-add", prompt=PROMPTS[0], max_tokens=4000, stream=True,
                                        extra_body={"min_tokens": 4000})
        for _, _ in zip(range(3), stream):
            pass
        wait_for(decoder_address, "one slot taken", lambda found: found[("l2s_decoder_free_credits", ())] == 1)
        stream.close()
        decoder = wait_for(decoder_address, "the slot freed",
                           lambda found: found[("l2s_decoder_free_credits", ())] == 2)
        self.assertEqual(decoder[("l2s_decoder_running_sequences", ())], 0)
        router = wait_for(router_address, "the cancel counted",
                          lambda found: found[("l2s_requests_total", (("code", "cancelled"), ("outcome", "cancelled")))]
                          == 1 and found[("l2s_worker_free_credits", (("role", "decoder"),))] == 2)
        self.assertEqual(router[("l2s_num_requests_running", ())], 0)
        with Client(self.router.clients, timeout=5) as probe:
            stats = probe.stats()
        self.assertEqual([(worker["credits"], worker["outstanding"]) for worker in stats["workers"]
                          if worker["role"] == "decoder"], [(2, 0)])
        self.assertLess(stats["tokens_generated"], 4000, "the job stopped early")
