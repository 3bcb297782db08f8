"""Scripted encoder and decoder peers for the client tests: they speak the worker side of docs/cluster.md
(hello, credits, heartbeats, encodings, token chunks, cancel) over real sockets to the real router, so the
client's streaming, accumulation, cache and many-in-flight paths can be checked without a model.

They compute nothing a model would: an "encoding" is zeros, and the decoder echoes the prompt's ids
cyclically (token k = prompt_ids[k % m], its text the byte as a character), one token per slot per tick,
finishing with "length" at max_new_tokens or "stop" once the text contains a stop string. Results of the
real services are checked by their own end-to-end tests; these peers test the message flow.
"""

from __future__ import annotations

import struct
import threading
import time
from typing import Optional

import zmq

from l2s_client import decode, encode, l2s_pb2 as pb

FINGERPRINTS = {"llm": "a1" * 32, "projector": "b2" * 32, "slm": "c3" * 32, "tokenizer": "d4" * 32}
WIDTH = 2


class ScriptedWorker(threading.Thread):
    """One worker on its own thread with its own context; `stop()` ends it and closes its socket."""

    def __init__(self, endpoint: str, role: int, slots: int = 2, tick_s: float = 0.005,
                 heartbeat_s: float = 0.3) -> None:
        super().__init__(daemon=True)
        self.endpoint = endpoint
        self.role = role
        self.slots = slots
        self.tick_s = tick_s
        self.heartbeat_s = heartbeat_s
        self.encodes = 0
        self.decode_jobs = 0
        self.cancels = 0
        self.failure: Optional[BaseException] = None
        self._stopping = threading.Event()
        self._active: dict[str, dict] = {}
        self._last_sent = 0.0

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)

    def run(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            socket.connect(self.endpoint)
            fingerprints = pb.Fingerprints(**FINGERPRINTS)
            name = "scripted-encoder" if self.role == pb.ROLE_ENCODER else "scripted-decoder"
            self._send(socket, pb.Envelope(hello=pb.Hello(
                role=self.role, worker_id=f"{name}-{id(self) % 10000}", fingerprints=fingerprints,
                capacity=self.slots, heartbeat_interval_ms=int(self.heartbeat_s * 1000), software="protocol_peers")))
            self._send(socket, pb.Envelope(credit=pb.Credit(credits=self.slots)))
            while not self._stopping.is_set():
                if socket.poll(int(self.tick_s * 1000) or 1, zmq.POLLIN):
                    envelope, tensor = decode(socket.recv_multipart())
                    self._handle(socket, envelope)
                self._step(socket)
                if time.monotonic() - self._last_sent > self.heartbeat_s:
                    self._send(socket, pb.Envelope(heartbeat=pb.Heartbeat(sent_at_unix_ms=int(time.time() * 1000))))
            self._send(socket, pb.Envelope(goodbye=pb.Goodbye(reason="test over")))
        except BaseException as error:  # reported to the test through `failure`
            self.failure = error
        finally:
            socket.close()
            context.term()

    def _send(self, socket: zmq.Socket, envelope: pb.Envelope, tensor: Optional[bytes] = None) -> None:
        socket.send_multipart(encode(envelope, tensor))
        self._last_sent = time.monotonic()

    def _handle(self, socket: zmq.Socket, envelope: pb.Envelope) -> None:
        body = envelope.WhichOneof("body")
        if body == "encode_request":
            request = envelope.encode_request
            self.encodes += 1
            ids = list(request.token_ids.ids) if request.WhichOneof("prompt") == "token_ids" else list(
                request.text.encode("utf-8"))
            encoding = pb.Encoding(request_id=request.request_id, prompt_hash=request.prompt_hash, prompt_ids=ids,
                                   tensor=pb.TensorInfo(dtype=pb.DTYPE_FLOAT32, shape=[len(ids), WIDTH]),
                                   projected=True)
            self._send(socket, pb.Envelope(encoding=encoding), struct.pack(f"<{len(ids) * WIDTH}f",
                                                                           *([0.0] * (len(ids) * WIDTH))))
            self._send(socket, pb.Envelope(credit=pb.Credit(credits=1)))
        elif body == "decode_job":
            job = envelope.decode_job
            self.decode_jobs += 1
            self._active[job.request.request_id] = {
                "prompt": list(job.encoding.prompt_ids), "ids": list(job.resume_ids), "text": "",
                "max": job.request.max_new_tokens, "stop": list(job.request.stop)}
        elif body == "cancel":
            if self._active.pop(envelope.cancel.request_id, None) is not None:
                self.cancels += 1
                self._send(socket, pb.Envelope(credit=pb.Credit(credits=1)))

    def _step(self, socket: zmq.Socket) -> None:
        """One token for every active job."""
        for request_id, job in list(self._active.items()):
            prompt = job["prompt"]
            token = prompt[len(job["ids"]) % len(prompt)]
            text = chr(token) if 32 <= token < 127 else "?"
            job["ids"].append(token)
            job["text"] += text
            reason = pb.FINISH_REASON_UNSPECIFIED
            if any(stop in job["text"] for stop in job["stop"]):
                reason = pb.FINISH_REASON_STOP
            elif len(job["ids"]) >= job["max"]:
                reason = pb.FINISH_REASON_LENGTH
            chunk = pb.TokenChunk(request_id=request_id, ids=[token], text_delta=text, finish_reason=reason)
            if reason != pb.FINISH_REASON_UNSPECIFIED:
                chunk.usage.CopyFrom(pb.Usage(prompt_tokens=len(prompt), completion_tokens=len(job["ids"])))
                del self._active[request_id]
            self._send(socket, pb.Envelope(token_chunk=chunk))
            if reason != pb.FINISH_REASON_UNSPECIFIED:
                self._send(socket, pb.Envelope(credit=pb.Credit(credits=1)))


def echo(prompt: bytes | list[int], count: int) -> list[int]:
    """The ids the scripted decoder produces for `prompt` in `count` steps."""
    ids = list(prompt)
    return [ids[k % len(ids)] for k in range(count)]
