"""What a job gives back: streamed deltas, the final result, or a typed error from the router."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed job: the new token ids and the text they complete."""

    text: str
    ids: list[int]


@dataclass(frozen=True)
class Result:
    """A finished job: the whole generated text and ids, why it stopped and its usage."""

    request_id: str
    text: str
    ids: list[int]
    finish_reason: str  # "eos", "length", "stop" or "cancelled"
    usage: Usage = field(default_factory=Usage)

    def as_dict(self) -> dict:
        """Exactly the result object `l2s run --json` and `l2s generate --json` print."""
        return {
            "text": self.text,
            "ids": list(self.ids),
            "finish_reason": self.finish_reason,
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
        }
