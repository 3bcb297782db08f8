"""Builds `GenerateRequest`s from Python arguments.

Two levels of checking. Always: types (TypeError) and what the wire cannot carry (a negative
max_new_tokens, a token id beyond int32), raised as L2SError BAD_REQUEST since no router could be asked.
With `validate=True` (the default) also the cheap range checks the router applies, with the router's
wording, so obvious mistakes fail without a round trip. The router checks everything again regardless;
`validate=False` sends what the wire can carry as it is (the tests use it to exercise the router's checks).
"""

from __future__ import annotations

import math
import operator
import time
from typing import Optional, Sequence, Union

from . import l2s_pb2
from .results import L2SError

Prompt = Union[str, Sequence[int]]

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
TENANT_SALT_LIMIT = 256
TRACE_ID_LIMIT = 128  # bytes of printable ASCII (proto/l2s.proto GenerateRequest.trace_id)
# The router's limits on stop strings and no_repeat_ngram_size (docs/generation.md).
STOP_LIMIT = 4
STOP_BYTES_LIMIT = 256
NO_REPEAT_NGRAM_LIMIT = 64
BEAM_LIMIT = 16  # num_beams (docs/generation.md)
LOGPROBS_LIMIT = 20  # alternatives per token (docs/generation.md)


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


class _Checker:
    """Raises L2SError(BAD_REQUEST) naming the field; `strict` adds the router's range checks."""

    def __init__(self, request_id: str, strict: bool) -> None:
        self.request_id = request_id
        self.strict = strict

    def wire(self, ok: bool, message: str) -> None:
        if not ok:
            raise L2SError("BAD_REQUEST", message, self.request_id)

    def range(self, ok: bool, message: str) -> None:
        if self.strict and not ok:
            raise L2SError("BAD_REQUEST", message, self.request_id)


def _set_prompt(request: l2s_pb2.GenerateRequest, prompt: Prompt, check: _Checker) -> None:
    if isinstance(prompt, str):
        check.range(prompt != "", "the prompt text is empty")
        request.text = prompt
        return
    if isinstance(prompt, (bytes, bytearray)) or not isinstance(prompt, Sequence):
        raise TypeError(f"prompt must be a str or a sequence of token ids, got {type(prompt).__name__}")
    ids = [_integer(f"prompt token_ids[{index}]", value) for index, value in enumerate(prompt)]
    check.range(len(ids) > 0, "prompt token_ids is empty")
    for index, value in enumerate(ids):
        check.wire(INT32_MIN <= value <= INT32_MAX, f"prompt token_ids[{index}] = {value} does not fit in int32")
        check.range(value >= 0, f"prompt token_ids[{index}] is negative ({value})")
    request.token_ids.SetInParent()
    request.token_ids.ids.extend(ids)


def _sampling(greedy: Optional[bool], temperature: Optional[float], top_k: Optional[int], top_p: Optional[float],
              seed: Optional[int], check: _Checker) -> l2s_pb2.SamplingParams:
    """Greedy unless a sampling parameter is given (as `l2s generate`); unset ones take the CLI's defaults."""
    given = {name: value for name, value in
             (("temperature", temperature), ("top_k", top_k), ("top_p", top_p), ("seed", seed)) if value is not None}
    if greedy is not None and not isinstance(greedy, bool):
        raise TypeError(f"greedy must be a bool or None, got {type(greedy).__name__} {greedy!r}")
    if greedy and given:
        name = next(iter(given))
        raise ValueError(f"greedy=True contradicts {name}={given[name]!r}; drop one of them")
    if greedy or (greedy is None and not given):
        return l2s_pb2.SamplingParams(greedy=True, temperature=1.0, top_k=0, top_p=1.0, seed=0)
    temperature = 1.0 if temperature is None else _number("temperature", temperature)
    top_k = 0 if top_k is None else _integer("top_k", top_k)
    top_p = 1.0 if top_p is None else _number("top_p", top_p)
    seed = 0 if seed is None else _integer("seed", seed)
    check.range(math.isfinite(temperature) and 0 < temperature <= 100,
                f"sampling: temperature must be in (0, 100], got {temperature}")
    check.wire(0 <= top_k <= UINT32_MAX, f"sampling: top_k must be in 0...{UINT32_MAX}, got {top_k}")
    check.range(math.isfinite(top_p) and 0 < top_p <= 1, f"sampling: top_p must be in (0, 1], got {top_p}")
    check.wire(0 <= seed <= UINT64_MAX, f"sampling: seed must be in 0...{UINT64_MAX}, got {seed}")
    return l2s_pb2.SamplingParams(greedy=False, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)


def _penalties(params: l2s_pb2.SamplingParams, repetition_penalty: Optional[float],
               no_repeat_ngram_size: Optional[int], presence_penalty: Optional[float],
               frequency_penalty: Optional[float], check: _Checker) -> None:
    """The penalties (docs/generation.md), which hold for greedy and sampled jobs alike; None leaves one off."""
    if repetition_penalty is not None:
        value = _number("repetition_penalty", repetition_penalty)
        check.range(math.isfinite(value) and 0 < value <= 10,
                    f"sampling: repetition_penalty must be in (0, 10], got {value}")
        params.repetition_penalty = value
    if no_repeat_ngram_size is not None:
        size = _integer("no_repeat_ngram_size", no_repeat_ngram_size)
        check.wire(0 <= size <= UINT32_MAX, f"sampling: no_repeat_ngram_size must be in 0...{UINT32_MAX}, got {size}")
        check.range(size <= NO_REPEAT_NGRAM_LIMIT,
                    f"sampling: no_repeat_ngram_size must be in 0...{NO_REPEAT_NGRAM_LIMIT}, got {size}")
        params.no_repeat_ngram_size = size
    for name, penalty in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if penalty is None:
            continue
        value = _number(name, penalty)
        check.range(math.isfinite(value) and -2 <= value <= 2, f"sampling: {name} must be in [-2, 2], got {value}")
        setattr(params, name, value)


_EARLY_STOPPING = {False: l2s_pb2.EARLY_STOPPING_HEURISTIC, True: l2s_pb2.EARLY_STOPPING_ALWAYS,
                   "never": l2s_pb2.EARLY_STOPPING_NEVER}


def _beams(request: l2s_pb2.GenerateRequest, num_beams: Optional[int], length_penalty: Optional[float],
           early_stopping: Union[bool, str, None], check: _Checker) -> None:
    """Sets `request.beams` (transformers' names and defaults) when num_beams is given."""
    if num_beams is None:
        if length_penalty is not None or early_stopping is not None:
            raise ValueError("length_penalty and early_stopping need num_beams")
        return
    beams = _integer("num_beams", num_beams)
    check.wire(0 <= beams <= UINT32_MAX, f"beams: num_beams must be in 0...{UINT32_MAX}, got {beams}")
    check.range(1 <= beams <= BEAM_LIMIT, f"beams: num_beams must be 1-{BEAM_LIMIT}, got {beams}")
    penalty = 1.0 if length_penalty is None else _number("length_penalty", length_penalty)
    check.range(math.isfinite(penalty), f"beams: length_penalty must be finite, got {penalty}")
    stopping = False if early_stopping is None else early_stopping
    if stopping not in _EARLY_STOPPING or (isinstance(stopping, str) and stopping != "never"):
        raise ValueError(f"early_stopping must be False, True or 'never', got {early_stopping!r}")
    request.beams.num_beams = beams
    request.beams.length_penalty = penalty
    request.beams.early_stopping = _EARLY_STOPPING[stopping]
    request.beams.num_return_sequences = 1


def build_request(request_id: str, prompt: Prompt, *, max_new_tokens: int = 20, min_new_tokens: int = 0,
                  greedy: Optional[bool] = None, temperature: Optional[float] = None, top_k: Optional[int] = None,
                  top_p: Optional[float] = None, seed: Optional[int] = None,
                  repetition_penalty: Optional[float] = None, no_repeat_ngram_size: Optional[int] = None,
                  presence_penalty: Optional[float] = None, frequency_penalty: Optional[float] = None,
                  stop: Union[str, Sequence[str], None] = None, deadline_s: Optional[float] = None,
                  tenant_salt: Union[bytes, str, None] = None, stream: bool = False,
                  trace_id: Optional[str] = None, num_beams: Optional[int] = None,
                  length_penalty: Optional[float] = None, early_stopping: Union[bool, str, None] = None,
                  logprobs: Optional[int] = None, validate: bool = True) -> l2s_pb2.GenerateRequest:
    """The wire request for one job; raises TypeError, ValueError or L2SError(BAD_REQUEST) naming the field."""
    check = _Checker(request_id, validate)
    request = l2s_pb2.GenerateRequest(request_id=request_id, stream=bool(stream))
    _set_prompt(request, prompt, check)

    max_new_tokens = _integer("max_new_tokens", max_new_tokens)
    min_new_tokens = _integer("min_new_tokens", min_new_tokens)
    check.wire(0 <= max_new_tokens <= UINT32_MAX, f"max_new_tokens must be in 0...{UINT32_MAX}, got {max_new_tokens}")
    check.wire(0 <= min_new_tokens <= UINT32_MAX, f"min_new_tokens must be in 0...{UINT32_MAX}, got {min_new_tokens}")
    check.range(max_new_tokens >= 1, f"max_new_tokens must be at least 1, got {max_new_tokens}")
    check.range(min_new_tokens <= max_new_tokens,
                f"min_new_tokens ({min_new_tokens}) exceeds max_new_tokens ({max_new_tokens})")
    request.max_new_tokens = max_new_tokens
    request.min_new_tokens = min_new_tokens

    request.sampling.CopyFrom(_sampling(greedy, temperature, top_k, top_p, seed, check))
    _penalties(request.sampling, repetition_penalty, no_repeat_ngram_size, presence_penalty, frequency_penalty, check)

    _beams(request, num_beams, length_penalty, early_stopping, check)

    if logprobs is not None:
        top = _integer("logprobs", logprobs)
        check.wire(0 <= top <= UINT32_MAX, f"logprobs must be in 0...{UINT32_MAX}, got {top}")
        check.range(top <= LOGPROBS_LIMIT, f"logprobs must be in 0...{LOGPROBS_LIMIT}, got {top}")
        check.range(request.beams.num_beams <= 1,
                    f"logprobs cannot be combined with beam search (beams.num_beams {request.beams.num_beams})")
        request.logprobs.SetInParent()  # present even for 0 (just the chosen token's logprob)
        request.logprobs.top = top

    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for index, text in enumerate(stops):
        if not isinstance(text, str):
            raise TypeError(f"stop[{index}] must be a str, got {type(text).__name__} {text!r}")
        check.range(text != "", f"stop[{index}] is an empty string")
        check.range(len(text.encode("utf-8")) <= STOP_BYTES_LIMIT,
                    f"stop[{index}] is {len(text.encode('utf-8'))} bytes; limit {STOP_BYTES_LIMIT}")
    check.range(len(stops) <= STOP_LIMIT, f"{len(stops)} stop sequences; at most {STOP_LIMIT} are allowed")
    request.stop.extend(stops)

    if deadline_s is not None:
        seconds = _number("deadline_s", deadline_s)
        check.wire(math.isfinite(seconds), f"deadline_s must be finite, got {seconds}")
        # A deadline that has already passed is still sent (as a past instant): the router answers it.
        unix_ms = max(1, int((time.time() + seconds) * 1000))
        check.wire(unix_ms <= UINT64_MAX, f"deadline_s {seconds} is too far in the future")
        request.deadline_unix_ms = unix_ms

    if tenant_salt is not None:
        if isinstance(tenant_salt, str):
            tenant_salt = tenant_salt.encode("utf-8")
        if not isinstance(tenant_salt, (bytes, bytearray)):
            raise TypeError(f"tenant_salt must be bytes or str, got {type(tenant_salt).__name__}")
        check.range(len(tenant_salt) <= TENANT_SALT_LIMIT,
                    f"tenant_salt is {len(tenant_salt)} bytes; limit {TENANT_SALT_LIMIT}")
        request.tenant_salt = bytes(tenant_salt)

    if trace_id is not None:
        if not isinstance(trace_id, str):
            raise TypeError(f"trace_id must be a str, got {type(trace_id).__name__}")
        check.range(len(trace_id) <= TRACE_ID_LIMIT and all(" " <= char <= "~" for char in trace_id),
                    f"trace_id must be at most {TRACE_ID_LIMIT} printable ASCII characters, got "
                    f"{len(trace_id.encode('utf-8', 'surrogatepass'))} bytes")
        request.trace_id = trace_id
    return request
