"""Checks of l2s_client.framing on good and bad frame sequences; run with
`.venv/bin/python -m unittest discover -s clients/python/tests`."""

from __future__ import annotations

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from interop_peer import samples  # noqa: E402
from l2s_client import WireError, decode, encode, l2s_pb2 as pb  # noqa: E402


def encoding_envelope(dtype: int, shape: list[int], version: int = 1) -> pb.Envelope:
    envelope = pb.Envelope(
        encoding=pb.Encoding(request_id="r", prompt_ids=[1, 2], tensor=pb.TensorInfo(dtype=dtype, shape=shape))
    )
    envelope.version = version
    return envelope


class FramingTests(unittest.TestCase):
    def test_every_sample_round_trips(self) -> None:
        for envelope, tensor in samples():
            got, got_tensor = decode(encode(envelope, tensor))
            self.assertEqual(got, envelope)
            self.assertEqual(got_tensor, tensor)

    def test_no_frames(self) -> None:
        with self.assertRaisesRegex(WireError, "no frames"):
            decode([])

    def test_invalid_protobuf(self) -> None:
        with self.assertRaisesRegex(WireError, "not a valid l2s.Envelope"):
            decode([b"\xff\xff\xff"])

    def test_unsupported_version(self) -> None:
        frame = pb.Envelope(version=2, credit=pb.Credit(credits=1)).SerializeToString()
        with self.assertRaisesRegex(WireError, "expected 1, got 2"):
            decode([frame])

    def test_no_body(self) -> None:
        with self.assertRaisesRegex(WireError, "no body"):
            decode([pb.Envelope(version=1).SerializeToString()])

    def test_missing_tensor_frame(self) -> None:
        frame = encoding_envelope(pb.DTYPE_FLOAT32, [2, 1]).SerializeToString()
        with self.assertRaisesRegex(WireError, "no tensor frame"):
            decode([frame])

    def test_extra_frame(self) -> None:
        frame = pb.Envelope(version=1, credit=pb.Credit(credits=1)).SerializeToString()
        with self.assertRaisesRegex(WireError, "expected 1 frame"):
            decode([frame, b""])

    def test_size_mismatch(self) -> None:
        frame = encoding_envelope(pb.DTYPE_FLOAT16, [2, 4]).SerializeToString()
        with self.assertRaisesRegex(WireError, "needs 16 bytes, tensor frame has 15"):
            decode([frame, bytes(15)])

    def test_unknown_dtype(self) -> None:
        frame = encoding_envelope(0, [2, 1]).SerializeToString()
        with self.assertRaisesRegex(WireError, "unknown dtype 0"):
            decode([frame, bytes(8)])

    def test_encode_refuses_tensor_mismatch(self) -> None:
        with self.assertRaisesRegex(WireError, "no tensor bytes"):
            encode(encoding_envelope(pb.DTYPE_FLOAT32, [2, 1]))
        with self.assertRaisesRegex(WireError, "carries no tensor"):
            encode(pb.Envelope(credit=pb.Credit(credits=1)), b"x")


if __name__ == "__main__":
    unittest.main()
