"""An HTTP request's x-request-id through the whole cluster: the gateway returns it and sends it with every job as
the trace id; the router logs one line per finished job under it, and the encoder and decoder log their part of the
job under it too (`--log-format json`, field `request_id`)."""

from __future__ import annotations

import json
import pathlib
import sys
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import services  # noqa: E402
from cases import RouterCase  # noqa: E402
from l2s_client import L2SError, decode, encode, l2s_pb2 as pb  # noqa: E402
from test_adversarial import raw_client  # noqa: E402
from services import BUNDLE  # noqa: E402
from test_gateway import GatewayProcess  # noqa: E402

JSON_LOGS = ("--log-format", "json", "--log-level", "debug")


def records(process: services.ServiceProcess) -> list[dict]:
    """Every line the service logged so far, each of which must be one JSON object."""
    return [json.loads(line) for line in process.log_text().splitlines()]


class RequestIdTests(RouterCase):
    router_flags = ("--log-format", "json")
    time_limit_s = 60

    def setUp(self) -> None:
        super().setUp()
        self.encoder = services.encoder(self.router, *JSON_LOGS)
        self.decoder = services.ServiceProcess("decoder", "--router", self.router.decoders, "--bundle", str(BUNDLE),
                                               *services.WORKER_FLAGS, *JSON_LOGS)
        self.workers += [self.encoder, self.decoder]
        self.gateway = GatewayProcess(self.router)
        self.addCleanup(self.gateway.stop)
        deadline = time.monotonic() + 20
        while self.ready_status() != 200:
            self.assertLess(time.monotonic(), deadline, "the gateway never became ready")
            time.sleep(0.1)

    def ready_status(self) -> int:
        try:
            with urllib.request.urlopen(self.gateway.url + "/ready", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def complete(self, body: dict, request_id: str | None) -> tuple[str, dict]:
        headers = {"Content-Type": "application/json"} | ({"x-request-id": request_id} if request_id else {})
        request = urllib.request.Request(self.gateway.url + "/v1/completions", method="POST", headers=headers,
                                         data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["x-request-id"], json.loads(response.read())

    def lines_about(self, process: services.ServiceProcess, trace: str, event: str, count: int) -> list[dict]:
        """The `event` lines of `process` under `trace`, once there are `count` (logs are written as jobs end)."""
        deadline = time.monotonic() + 10
        while len(found := [record for record in records(process)
                            if record.get("request_id") == trace and record.get("event") == event]) < count:
            self.assertLess(time.monotonic(), deadline, f"{process.name} logged {found} for {trace}, "
                                                        f"expected {count} {event} lines: {process.log_text()}")
            time.sleep(0.05)
        return found

    def test_the_request_id_reaches_the_router_encoder_and_decoder_logs(self) -> None:
        trace = "trace-7 checkout/42"
        returned, answer = self.complete({"prompt": ["the house is small", "a dog sees the tiger"], "max_tokens": 3,
                                          "min_tokens": 3}, trace)
        self.assertEqual(returned, trace)
        self.assertEqual([choice["finish_reason"] for choice in answer["choices"]], ["length", "length"])
        ends = self.lines_about(self.router, trace, "job_end", 2)
        self.assertEqual(len(ends), 2, "one line per job")
        self.assertEqual(len({end["client_request_id"] for end in ends}), 2, "each job names the gateway's own id")
        for end in ends:
            self.assertTrue(end["client_request_id"].startswith(trace + "/"))
            self.assertEqual((end["outcome"], end["code"], end["completion_tokens"], end["attempts"], end["level"]),
                             ("done", "length", 3, 1, "info"))
            self.assertGreater(end["prompt_tokens"], 0)
            self.assertLessEqual(end["ttft_s"], end["e2e_s"], "the first token came before the end")
        admitted = self.lines_about(self.decoder, trace, "job_admitted", 2)
        finished = self.lines_about(self.decoder, trace, "job_finished", 2)
        self.assertEqual([line["completion_tokens"] for line in finished], [3, 3])
        self.assertEqual({line["job"] for line in admitted}, {line["job"] for line in finished})
        # Both prompts missed the cache: the encoder names the request whose miss asked for each encode.
        self.assertEqual(len(self.lines_about(self.encoder, trace, "encoded", 2)), 2)

    def test_an_id_logs_cannot_carry_as_it_is_is_replaced(self) -> None:
        body = {"prompt": "the house is small", "max_tokens": 2}
        for unusable in ("x" * 129, "tab\there"):
            returned, _ = self.complete(body, unusable)
            self.assertNotEqual(returned, unusable)
            self.assertTrue(returned.startswith("req-"))
            self.assertEqual(len(self.lines_about(self.router, returned, "job_end", 1)), 1)
        made, _ = self.complete(body, None)
        self.assertTrue(made.startswith("req-"))
        self.assertEqual(len(self.lines_about(self.router, made, "job_end", 1)), 1)

    def test_the_python_client_traces_its_jobs_too(self) -> None:
        client = self.client(timeout=20)
        result = client.generate("the house is small", max_new_tokens=2, min_new_tokens=2, trace_id="py-trace-1")
        end = self.lines_about(self.router, "py-trace-1", "job_end", 1)[0]
        self.assertEqual((end["client_request_id"], end["completion_tokens"]), (result.request_id, 2))
        self.assertEqual(len(self.lines_about(self.decoder, "py-trace-1", "job_finished", 1)), 1)
        with self.assertRaises(L2SError) as caught:
            client.generate("the house is small", max_new_tokens=2, trace_id="é")
        self.assertEqual(caught.exception.code, "BAD_REQUEST")
        self.assertIn("trace_id", caught.exception.message)


class TextLogTests(RouterCase):
    time_limit_s = 60

    def test_an_id_with_a_line_break_cannot_forge_a_text_log_line(self) -> None:
        self.start_workers()
        forged = "23:59:59.000 router warning: forged"
        context, socket = raw_client(self.router.clients)
        try:
            socket.send_multipart(encode(pb.Envelope(generate=pb.GenerateRequest(
                request_id=f"one\n{forged}", text="the house is small", max_new_tokens=2))))
            while True:
                self.assertTrue(socket.poll(10_000), "no answer from the router")
                envelope, _ = decode(socket.recv_multipart())
                self.assertFalse(envelope.HasField("error"), envelope.error.message)
                if envelope.token_chunk.finish_reason != pb.FINISH_REASON_UNSPECIFIED:
                    break
        finally:
            socket.close()
            context.term()
        deadline = time.monotonic() + 10
        while "job done" not in (log := self.router.log_text()):
            self.assertLess(time.monotonic(), deadline, f"no job line in the router's log: {log}")
            time.sleep(0.05)
        self.assertFalse([line for line in log.splitlines() if line.startswith(forged)], log)
        self.assertIn(f"[one\ufffd{forged}]", log)
