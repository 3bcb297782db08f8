"""What a job gives back: streamed deltas, the final result, or a typed error from the router."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Optional

from . import l2s_pb2

# Wire finish reasons -> the strings `l2s run` / `l2s generate` print.
FINISH_REASONS = {
    l2s_pb2.FINISH_REASON_EOS: "eos",
    l2s_pb2.FINISH_REASON_LENGTH: "length",
    l2s_pb2.FINISH_REASON_STOP: "stop",
    l2s_pb2.FINISH_REASON_CANCELLED: "cancelled",
}


def error_code_name(code: int) -> str:
    """`ERROR_CODE_OVERLOADED` -> "OVERLOADED"; unknown numbers (a newer router) stay readable."""
    try:
        return l2s_pb2.ErrorCode.Name(code).removeprefix("ERROR_CODE_")
    except ValueError:
        return f"UNKNOWN_{code}"


class L2SError(Exception):
    """The router refused or failed a job (or the client refused to send it); `code` is the proto's ErrorCode
    name without its prefix ("BAD_REQUEST", "OVERLOADED", "DEADLINE_EXCEEDED", ...)."""

    def __init__(self, code: str, message: str, request_id: str = "") -> None:
        super().__init__(code, message, request_id)
        self.code = code
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        job = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}{job}: {self.message}"

    def as_dict(self) -> dict:
        """The object `l2s generate --file` prints for a failed job."""
        return {"error": {"code": self.code, "message": self.message}}


@dataclass(frozen=True)
class Usage:
    """Token counts of a job; `cached_encoding` says the router had the prompt's encoding cached."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_encoding: bool = False


def float32(value: float) -> float:
    """A float32 from the wire as `l2s run` prints it: its shortest decimal that reads back as the same float32
    (Swift's description), so the numbers compare equal to the CLI's."""
    if value != value or value in (float("inf"), float("-inf")):
        return value
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        shortest = float(f"{value:.{digits}g}")
        if struct.pack("<f", shortest) == packed:
            return shortest
    return value


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token's log-probability (docs/generation.md), its step's `top` alternatives as (id, logprob),
    most likely first, and the SLM tokenizer's text of the id (and of each alternative, in `top_texts`)."""

    id: int
    logprob: float
    top: list[tuple[int, float]]
    text: str = ""
    top_texts: list[str] = field(default_factory=list)

    @staticmethod
    def from_wire(entry: l2s_pb2.TokenLogprob) -> "TokenLogprob":
        return TokenLogprob(id=entry.id, logprob=float32(entry.logprob),
                            top=[(top.id, float32(top.logprob)) for top in entry.top], text=entry.text,
                            top_texts=[top.text for top in entry.top])

    def as_dict(self) -> dict:
        """The object `l2s run --logprobs` prints: {"id","logprob","top":[[id,logprob],...]} (non-finite as None)."""
        def number(value: float) -> Optional[float]:
            return value if value == value and abs(value) != float("inf") else None
        return {"id": self.id, "logprob": number(self.logprob), "top": [[i, number(v)] for i, v in self.top]}


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed job: the new token ids and the text they complete; `logprobs`, one per id, when the
    job asked for them."""

    text: str
    ids: list[int]
    logprobs: Optional[list[TokenLogprob]] = None

    def as_dict(self) -> dict:
        """The delta object `l2s run --stream` prints."""
        line: dict = {"delta": self.text, "ids": list(self.ids)}
        if self.logprobs is not None:
            line["logprobs"] = [entry.as_dict() for entry in self.logprobs]
        return line


@dataclass(frozen=True)
class Result:
    """A finished job: the whole generated text and ids, why it stopped and its usage."""

    request_id: str
    text: str
    ids: list[int]
    finish_reason: str  # "eos", "length", "stop" or "cancelled"
    usage: Usage = field(default_factory=Usage)
    logprobs: Optional[list[TokenLogprob]] = None  # one per id when the job asked for them

    def as_dict(self) -> dict:
        """Exactly the result object `l2s run --json` and `l2s generate --json` print."""
        result = {
            "text": self.text,
            "ids": list(self.ids),
            "finish_reason": self.finish_reason,
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
        }
        if self.logprobs is not None:
            result["logprobs"] = [entry.as_dict() for entry in self.logprobs]
        return result
