"""Issue 14: decode jobs with numeric fields at 0, negative, NaN or huge, sent straight to a real decoder's socket by
a test that plays its router (pyzmq ROUTER + the real protobuf schema): each gets an error reply naming the field,
its slot comes back as credit, and the decoder serves a good job afterwards."""

from __future__ import annotations

import math
import sys
import time
import unittest
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import services  # noqa: E402
from l2s_client import decode, encode, l2s_pb2 as pb  # noqa: E402
from rogues import bundle_identity  # noqa: E402

WAIT_S = 60


def request(request_id: str, max_new_tokens: int = 4, **fields) -> pb.GenerateRequest:
    """A greedy request on two prompt ids; `fields` set on it (`sampling`, `beams`, ...)."""
    return pb.GenerateRequest(request_id=request_id, max_new_tokens=max_new_tokens,
                              token_ids=pb.TokenIds(ids=[5, 1]), **fields)


def sampling(**fields) -> pb.SamplingParams:
    return pb.SamplingParams(**{"greedy": True, **fields})


class DecoderSocketTests(unittest.TestCase):
    def setUp(self) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.decoder = services.ServiceProcess("decoder", "--router", f"tcp://127.0.0.1:{port}", "--bundle",
                                               str(services.BUNDLE), "--slots", "2", *services.WORKER_FLAGS)
        self.addCleanup(self.context.term)
        self.addCleanup(self.socket.close)
        self.addCleanup(self.decoder.stop)

    def receive(self, deadline: float) -> tuple[bytes, pb.Envelope] | None:
        if not self.socket.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            return None
        identity, *frames = self.socket.recv_multipart()
        envelope, _ = decode(frames)
        return identity, envelope

    def send(self, identity: bytes, envelope: pb.Envelope, tensor: bytes | None = None) -> None:
        self.socket.send_multipart([identity, *encode(envelope, tensor)])

    def test_bad_numeric_fields_get_errors_and_the_decoder_serves_on(self) -> None:
        deadline = time.monotonic() + WAIT_S
        identity = None
        while identity is None:
            received = self.receive(deadline)
            self.assertIsNotNone(received, f"the decoder never said hello: {self.decoder.log_text()}")
            if received[1].WhichOneof("body") == "hello":
                identity = received[0]
        self.send(identity, pb.Envelope(heartbeat=pb.Heartbeat(sent_at_unix_ms=int(time.time() * 1000))))

        _, spec = bundle_identity()
        width, ids = spec.width, [5, 1]
        zeros = bytes((4 if spec.dtype == pb.DTYPE_FLOAT32 else 2) * len(ids) * width)  # the bundle's wire dtype
        encoding = pb.Encoding(request_id="e", prompt_ids=ids, projected=spec.projected,
                               tensor=pb.TensorInfo(dtype=spec.dtype, shape=[len(ids), width]))
        huge = 2**32 - 1
        bad = {
            "zero-tokens": (request("zero-tokens", 0), "max_new_tokens"),
            "min-above-max": (request("min-above-max", 2, min_new_tokens=3), "min_new_tokens"),
            "nan-temperature": (request("nan-temperature", sampling=pb.SamplingParams(greedy=False,
                                                                                      temperature=math.nan)),
                                "temperature"),
            "negative-temperature": (request("negative-temperature",
                                             sampling=pb.SamplingParams(greedy=False, temperature=-1)),
                                     "temperature"),
            "huge-top-p": (request("huge-top-p", sampling=pb.SamplingParams(greedy=False, temperature=1, top_p=9)),
                           "top_p"),
            "nan-repetition": (request("nan-repetition", sampling=sampling(repetition_penalty=math.nan)),
                               "repetition_penalty"),
            "negative-repetition": (request("negative-repetition", sampling=sampling(repetition_penalty=-2)),
                                    "repetition_penalty"),
            "huge-ngram": (request("huge-ngram", sampling=sampling(no_repeat_ngram_size=huge)),
                           "no_repeat_ngram_size"),
            "inf-presence": (request("inf-presence", sampling=sampling(presence_penalty=math.inf)),
                             "presence_penalty"),
            "huge-frequency": (request("huge-frequency", sampling=sampling(frequency_penalty=1e30)),
                               "frequency_penalty"),
            "huge-beams": (request("huge-beams", beams=pb.BeamParams(num_beams=huge, length_penalty=1)), "num_beams"),
            "nan-length-penalty": (request("nan-length-penalty", beams=pb.BeamParams(num_beams=2,
                                                                                      length_penalty=math.nan)),
                                   "length_penalty"),
            "huge-returns": (request("huge-returns", beams=pb.BeamParams(num_beams=2, length_penalty=1,
                                                                         num_return_sequences=huge)),
                             "num_return_sequences"),
        }
        for job, _ in bad.values():
            self.send(identity, pb.Envelope(decode_job=pb.DecodeJob(request=job, encoding=encoding)), zeros)
        # Resume ids that leave nothing to do, or are negative.
        self.send(identity, pb.Envelope(decode_job=pb.DecodeJob(request=request("resumed-all", 2), encoding=encoding,
                                                                resume_ids=[7, 7])), zeros)
        self.send(identity, pb.Envelope(decode_job=pb.DecodeJob(request=request("resumed-negative", 4),
                                                                encoding=encoding, resume_ids=[-3])), zeros)
        self.send(identity, pb.Envelope(decode_job=pb.DecodeJob(request=request("good", 6), encoding=encoding)),
                  zeros)

        errors: dict[str, str] = {}
        good: list[pb.TokenChunk] = []
        credits = 0
        expected_errors = len(bad) + 2
        while len(errors) < expected_errors or not (good and good[-1].finish_reason):
            received = self.receive(deadline)
            self.assertIsNotNone(received, f"timed out: errors {sorted(errors)}, good {len(good)} chunks; "
                                           f"log: {self.decoder.log_text()}")
            envelope = received[1]
            body = envelope.WhichOneof("body")
            if body == "error":
                errors[envelope.error.request_id] = envelope.error.message
            elif body == "credit":
                credits += envelope.credit.credits
            elif body == "token_chunk":
                good.append(envelope.token_chunk)
            elif body == "token_chunks":
                good.extend(envelope.token_chunks.chunks)
        for name, (_, field) in bad.items():
            self.assertIn(name, errors)
            self.assertIn(field, errors[name], name)
        self.assertIn("resume_ids", errors["resumed-all"])
        self.assertIn("resume_ids", errors["resumed-negative"])
        self.assertEqual({chunk.request_id for chunk in good}, {"good"})
        self.assertEqual(sum(len(chunk.ids) for chunk in good), good[-1].usage.completion_tokens)
        self.assertLessEqual(good[-1].usage.completion_tokens, 6)
        self.assertGreaterEqual(credits, expected_errors + 1, "every refused job's slot, and the good one's, is free")
        self.assertIsNone(self.decoder.process.poll(), "the decoder must still run")


if __name__ == "__main__":
    unittest.main()
