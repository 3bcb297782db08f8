"""Envelope + tensor frame encoding, mirroring Sources/Wire/Codec/WireCodec.swift.

A message is one protobuf `l2s.Envelope` frame, followed by exactly one raw little-endian tensor frame
when the body carries a `TensorInfo` (`encoding`, `decode_job`), and by nothing otherwise.
"""

from __future__ import annotations

from typing import Optional, Sequence

from google.protobuf.message import DecodeError

from . import l2s_pb2

PROTOCOL_VERSION = l2s_pb2.PROTOCOL_VERSION_CURRENT

ELEMENT_SIZE = {l2s_pb2.DTYPE_FLOAT32: 4, l2s_pb2.DTYPE_FLOAT16: 2, l2s_pb2.DTYPE_BFLOAT16: 2}


class WireError(ValueError):
    """A frame sequence that is not a valid l2s message; the text names the field and values."""


def tensor_info(envelope: l2s_pb2.Envelope) -> Optional[l2s_pb2.TensorInfo]:
    """The TensorInfo describing the tensor frame that follows `envelope`, or None for bodies without one."""
    body = envelope.WhichOneof("body")
    if body == "encoding":
        return envelope.encoding.tensor
    if body == "decode_job":
        return envelope.decode_job.encoding.tensor
    return None


def _check_tensor(field: str, info: l2s_pb2.TensorInfo, byte_count: int) -> None:
    if info.dtype not in ELEMENT_SIZE:
        raise WireError(f"{field}.dtype: unknown dtype {info.dtype} (expected 1 float32, 2 float16 or 3 bfloat16)")
    expected = ELEMENT_SIZE[info.dtype]
    for dimension in info.shape:
        expected *= dimension
    if expected != byte_count:
        raise WireError(
            f"{field}: dtype {l2s_pb2.DType.Name(info.dtype)} shape {list(info.shape)} needs {expected} bytes, "
            f"tensor frame has {byte_count}"
        )


def encode(envelope: l2s_pb2.Envelope, tensor: Optional[bytes] = None) -> list[bytes]:
    """The frames of `envelope` (its version is set to the current one) and its tensor bytes, if any."""
    envelope.version = PROTOCOL_VERSION
    body = envelope.WhichOneof("body")
    if body is None:
        raise WireError("envelope has no body set")
    info = tensor_info(envelope)
    if info is None:
        if tensor is not None:
            raise WireError(f"{body} carries no tensor, but tensor bytes were given")
        return [envelope.SerializeToString()]
    if tensor is None:
        raise WireError(f"{body} carries a tensor but no tensor bytes were given")
    _check_tensor(f"{body}.tensor", info, len(tensor))
    return [envelope.SerializeToString(), bytes(tensor)]


def decode(frames: Sequence[bytes]) -> tuple[l2s_pb2.Envelope, Optional[bytes]]:
    """The envelope and tensor bytes (None when the body has no tensor) in `frames`, validated."""
    if not frames:
        raise WireError("no frames in message")
    envelope = l2s_pb2.Envelope()
    try:
        envelope.ParseFromString(bytes(frames[0]))
    except DecodeError as error:
        raise WireError(f"envelope frame ({len(frames[0])} bytes) is not a valid l2s.Envelope protobuf: {error}")
    if envelope.version != PROTOCOL_VERSION:
        raise WireError(f"unsupported protocol version: expected {PROTOCOL_VERSION}, got {envelope.version}")
    body = envelope.WhichOneof("body")
    if body is None:
        raise WireError("envelope has no body set")
    info = tensor_info(envelope)
    expected_frames = 1 if info is None else 2
    if len(frames) < expected_frames:
        raise WireError(f"{body} carries a tensor but no tensor frame follows the envelope")
    if len(frames) > expected_frames:
        raise WireError(f"{body}: expected {expected_frames} frame(s), got {len(frames)}")
    if info is None:
        return envelope, None
    tensor = bytes(frames[1])
    _check_tensor(f"{body}.tensor", info, len(tensor))
    return envelope, tensor
