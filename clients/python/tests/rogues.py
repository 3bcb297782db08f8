"""Rogue peers for the adversarial tests: workers and clients that speak the real protocol (pyzmq + l2s_pb2) and
lie, fail, stall or flood as told. Each rogue worker runs on a thread of its own and stops when the test does."""

from __future__ import annotations

import json
import math
import struct
import threading
import time
from typing import Optional

import zmq

from l2s_client import decode, encode, l2s_pb2 as pb
from services import BUNDLE

HEARTBEAT_S = 0.2


def bundle_identity(bundle=BUNDLE) -> tuple[pb.Fingerprints, pb.EncodingSpec]:
    """The fingerprints and encoding spec an honest worker of `bundle` announces (read from its l2s.json)."""
    manifest = json.loads((bundle / "l2s.json").read_text())
    prints = pb.Fingerprints(llm=manifest["llm"]["fingerprint"], projector=manifest["projector"]["fingerprint"],
                             slm=manifest["slm"]["fingerprint"], tokenizer=manifest["llm"]["tokenizer_fingerprint"])
    projected = manifest["projector"]["runs_on"] == "encoder"
    width = manifest["projector"]["d_out" if projected else "d_in"]
    dtype = {"float32": pb.DTYPE_FLOAT32, "float16": pb.DTYPE_FLOAT16, "bfloat16": pb.DTYPE_BFLOAT16}
    return prints, pb.EncodingSpec(dtype=dtype[manifest["wire_dtype"]], width=width, projected=projected)


class RogueWorker:
    """A worker that says hello with `fingerprints`/`spec` and `capacity`, heart-beats, and answers work as
    `behaviour` says:
      encoder  "nan"     an encoding full of NaN for every prompt
      decoder  "fail"    an INTERNAL error for every job, at once
      decoder  "forge"   one chunk of max_new_tokens + 1 ids reading "INJECTED TEXT", marked finished
      decoder  "silent"  nothing at all (but heartbeats)
      any      "idle"    only hello and heartbeats
    Every message the router sends is kept in `received`."""

    def __init__(self, endpoint: str, role: int, behaviour: str, *, fingerprints: Optional[pb.Fingerprints] = None,
                 spec: Optional[pb.EncodingSpec] = None, capacity: int = 8, worker_id: str = "rogue",
                 curve_server_key: Optional[bytes] = None) -> None:
        honest_prints, honest_spec = bundle_identity()
        self.hello = pb.Hello(role=role, worker_id=worker_id, capacity=capacity, heartbeat_interval_ms=200,
                              software="rogue 6.6.6",
                              fingerprints=honest_prints if fingerprints is None else fingerprints,
                              encoding=honest_spec if spec is None else spec)
        self.behaviour = behaviour
        self.received: list[pb.Envelope] = []
        self.answered = 0
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        if curve_server_key is not None:
            public, secret = zmq.curve_keypair()
            self._socket.curve_serverkey = curve_server_key
            self._socket.curve_publickey = public
            self._socket.curve_secretkey = secret
        self._socket.connect(endpoint)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self, goodbye: bool = False) -> None:
        """Stops the thread (saying goodbye first when asked) and closes the socket."""
        self._goodbye = goodbye
        self._stop.set()
        self._thread.join(5)
        self._socket.close()
        self._context.term()

    def errors(self) -> list[pb.Error]:
        """The errors the router sent this worker."""
        return [envelope.error for envelope in self.received if envelope.WhichOneof("body") == "error"]

    def _send(self, envelope: pb.Envelope, tensor: Optional[bytes] = None) -> None:
        try:
            self._socket.send_multipart(encode(envelope, tensor), zmq.NOBLOCK)
        except zmq.Again:
            pass  # no connection (a refused handshake): a rogue does not care

    def _run(self) -> None:
        self._goodbye = False
        self._send(pb.Envelope(hello=self.hello))
        self._send(pb.Envelope(credit=pb.Credit(credits=self.hello.capacity)))
        last_beat = time.monotonic()
        while not self._stop.is_set():
            if self._socket.poll(50):
                envelope, _ = decode(self._socket.recv_multipart())
                self.received.append(envelope)
                self._answer(envelope)
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                self._send(pb.Envelope(heartbeat=pb.Heartbeat(sent_at_unix_ms=int(time.time() * 1000))))
                last_beat = time.monotonic()
        if self._goodbye:
            self._send(pb.Envelope(goodbye=pb.Goodbye(reason="rogue leaves")))
            time.sleep(0.1)

    def _answer(self, envelope: pb.Envelope) -> None:
        body = envelope.WhichOneof("body")
        if body == "encode_request" and self.behaviour == "nan":
            request = envelope.encode_request
            ids = list(request.token_ids.ids) if request.WhichOneof("prompt") == "token_ids" else [5, 1]
            spec = self.hello.encoding
            width = spec.width
            nan16 = struct.pack("<e", math.nan)
            encoding = pb.Encoding(request_id=request.request_id, prompt_hash=request.prompt_hash, prompt_ids=ids,
                                   tensor=pb.TensorInfo(dtype=pb.DTYPE_FLOAT16, shape=[len(ids), width]),
                                   projected=spec.projected)
            self._send(pb.Envelope(encoding=encoding), nan16 * (len(ids) * width))
            self.answered += 1
        elif body == "decode_job":
            job = envelope.decode_job
            job_id = job.request.request_id
            if self.behaviour == "fail":
                self._send(pb.Envelope(error=pb.Error(code=pb.ERROR_CODE_INTERNAL, message="rogue failure",
                                                      request_id=job_id)))
                self._send(pb.Envelope(credit=pb.Credit(credits=1)))
                self.answered += 1
            elif self.behaviour == "forge":
                ids = [7] * (job.request.max_new_tokens + 1)
                self._send(pb.Envelope(token_chunk=pb.TokenChunk(
                    request_id=job_id, ids=ids, text_delta="INJECTED TEXT", finish_reason=pb.FINISH_REASON_EOS,
                    usage=pb.Usage(prompt_tokens=1, completion_tokens=len(ids)))))
                self._send(pb.Envelope(credit=pb.Credit(credits=1)))
                self.answered += 1
