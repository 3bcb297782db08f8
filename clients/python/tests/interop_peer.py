"""Interop peer for Tests/WireTests/InteropTests.swift: proves proto/l2s.proto is the real contract.

Usage: interop_peer.py ENDPOINT
Connects a DEALER to the Swift test's ROUTER at ENDPOINT, sends every sample message below (built with
the official protobuf runtime), then receives the same samples as encoded by Swift and checks every
field (protobuf message equality) and every tensor byte. Exits 0 when all match, 1 with a report
otherwise. The samples must stay identical to Tests/WireTests/WireSamples.swift.
"""

from __future__ import annotations

import pathlib
import sys

import zmq

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from l2s_client import decode, encode, l2s_pb2 as pb  # noqa: E402

TIMEOUT_MS = 10_000


def pattern(count: int, seed: int) -> bytes:
    """Deterministic tensor bytes; WireSamples.pattern in Swift computes the same."""
    return bytes((index * 7 + seed) % 256 for index in range(count))


PROMPT_HASH = bytes(range(32))
TEXT = "Translate: Grüße, 世界 🌍"


def generate_text() -> pb.GenerateRequest:
    return pb.GenerateRequest(
        request_id="req-1",
        text=TEXT,
        max_new_tokens=32,
        min_new_tokens=2,
        sampling=pb.SamplingParams(
            greedy=False, temperature=0.75, top_k=40, top_p=0.5, seed=12345678901234, repetition_penalty=1.25
        ),
        stop=["\n\n", "END"],
        deadline_unix_ms=1732400009999,
        tenant_salt=bytes([0, 1, 2, 255]),
        stream=True,
        trace_id="trace-7 checkout/42",
    )


def generate_ids() -> pb.GenerateRequest:
    return pb.GenerateRequest(
        request_id="req-2", token_ids=pb.TokenIds(ids=[0, 1, 2147483647, -1, 250001]), max_new_tokens=4
    )


def samples() -> list[tuple[pb.Envelope, bytes | None]]:
    """Every body kind at least once, with every field set to a non-default value somewhere."""
    f16 = pb.Encoding(
        request_id="req-1",
        prompt_hash=PROMPT_HASH,
        prompt_ids=[13, 8, 21],
        tensor=pb.TensorInfo(dtype=pb.DTYPE_FLOAT16, shape=[3, 4]),
        projected=True,
    )
    f32 = pb.Encoding(
        request_id="req-4", prompt_hash=b"", prompt_ids=[99], tensor=pb.TensorInfo(dtype=pb.DTYPE_FLOAT32, shape=[1, 5])
    )
    bf16 = pb.Encoding(
        request_id="req-2",
        prompt_hash=PROMPT_HASH[:8],
        prompt_ids=[1, 2],
        tensor=pb.TensorInfo(dtype=pb.DTYPE_BFLOAT16, shape=[2, 3]),
        projected=True,
    )
    return [
        (
            pb.Envelope(
                hello=pb.Hello(
                    role=pb.ROLE_DECODER,
                    worker_id="decoder-1",
                    fingerprints=pb.Fingerprints(llm="a1" * 32, projector="b2" * 32, slm="c3" * 32, tokenizer="d4" * 32),
                    capacity=8,
                    heartbeat_interval_ms=500,
                    software="l2s 0.1.0",
                    encoding=pb.EncodingSpec(dtype=pb.DTYPE_FLOAT16, width=32, projected=True),
                    kernels="avx2",
                )
            ),
            None,
        ),
        (pb.Envelope(heartbeat=pb.Heartbeat(sent_at_unix_ms=1732400000123)), None),
        (pb.Envelope(credit=pb.Credit(credits=5)), None),
        (pb.Envelope(generate=generate_text()), None),
        (pb.Envelope(generate=generate_ids()), None),
        (pb.Envelope(cancel=pb.Cancel(request_id="req-1")), None),
        (pb.Envelope(encode_request=pb.EncodeRequest(request_id="req-1", prompt_hash=PROMPT_HASH, text=TEXT,
                                                                 trace_id="trace-7")), None),
        (
            pb.Envelope(
                encode_request=pb.EncodeRequest(request_id="req-2", prompt_hash=PROMPT_HASH, token_ids=pb.TokenIds(ids=[5, 6, 7]))
            ),
            None,
        ),
        (pb.Envelope(encoding=f16), pattern(3 * 4 * 2, 3)),
        (pb.Envelope(encoding=f32), pattern(1 * 5 * 4, 11)),
        (pb.Envelope(decode_job=pb.DecodeJob(request=generate_ids(), encoding=bf16, resume_ids=[7, 8, 9])), pattern(2 * 3 * 2, 5)),
        (
            pb.Envelope(
                token_chunk=pb.TokenChunk(
                    request_id="req-1",
                    ids=[42, 7],
                    text_delta="Grüße",
                    finish_reason=pb.FINISH_REASON_LENGTH,
                    usage=pb.Usage(prompt_tokens=3, completion_tokens=2, cached_encoding=True),
                )
            ),
            None,
        ),
        (pb.Envelope(token_chunk=pb.TokenChunk(request_id="req-2", ids=[9], text_delta=" world")), None),
        (
            pb.Envelope(
                token_chunks=pb.TokenChunks(
                    chunks=[
                        pb.TokenChunk(request_id="j1", ids=[3], text_delta="a"),
                        pb.TokenChunk(request_id="j2", ids=[1], finish_reason=pb.FINISH_REASON_EOS,
                                      usage=pb.Usage(prompt_tokens=4, completion_tokens=9)),
                    ]
                )
            ),
            None,
        ),
        (pb.Envelope(error=pb.Error(code=pb.ERROR_CODE_OVERLOADED, message="queue full: 64 of 64", request_id="req-3")), None),
        (pb.Envelope(stats_request=pb.StatsRequest()), None),
        (
            pb.Envelope(
                stats_reply=pb.StatsReply(
                    workers=[
                        pb.WorkerStats(
                            worker_id="encoder-1", role=pb.ROLE_ENCODER, capacity=4, credits=3, outstanding=1, jobs_done=10, last_seen_ms_ago=120
                        ),
                        pb.WorkerStats(worker_id="decoder-1", role=pb.ROLE_DECODER, capacity=8, jobs_done=1 << 40),
                    ],
                    queue_depth=3,
                    max_queue=64,
                    cache=pb.CacheStats(hits=7, misses=2, evictions=1, entries=5, bytes=1 << 33, capacity_bytes=1 << 34, coalesced=4),
                    jobs_done=17,
                    jobs_failed=1,
                    tokens_generated=123456,
                    tokens_per_second=123.5,
                    uptime_ms=987654321,
                    jobs_cancelled=3,
                    slow_client_cancels=2,
                    worker_faults=5,
                    retries=4,
                    refused_peers=1,
                )
            ),
            None,
        ),
        (pb.Envelope(goodbye=pb.Goodbye(reason="shutdown")), None),
        (pb.Envelope(goodbye=pb.Goodbye(reason="draining 3 jobs", draining=True)), None),
    ]


def main() -> int:
    endpoint = sys.argv[1]
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 2000)
    socket.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    socket.connect(endpoint)
    expected = samples()
    for envelope, tensor in expected:
        socket.send_multipart(encode(envelope, tensor))
    failures = []
    for index, (want, want_tensor) in enumerate(expected):
        try:
            frames = socket.recv_multipart(copy=True)
        except zmq.Again:
            failures.append(f"sample {index}: nothing received within {TIMEOUT_MS} ms")
            break
        got, got_tensor = decode(frames)
        want.version = pb.PROTOCOL_VERSION_CURRENT
        if got != want:
            failures.append(f"sample {index}: fields differ\nexpected:\n{want}\ngot:\n{got}")
        if got_tensor != want_tensor:
            failures.append(f"sample {index}: tensor bytes differ: expected {want_tensor!r}, got {got_tensor!r}")
    socket.close()
    context.term()
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    print(f"interop: {len(expected)} messages checked in both directions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
