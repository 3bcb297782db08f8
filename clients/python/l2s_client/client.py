"""A client of an l2s router's clients endpoint: one ZeroMQ DEALER socket, many jobs in flight.

Every call runs on the caller's thread: whichever call is waiting receives the next message and files it
under its job (messages of other jobs are kept for them), so blocking calls, streams and `generate_many`
can be mixed freely on one client. Like its socket, a `Client` belongs to one thread at a time; use one
client per thread.
"""

from __future__ import annotations

import collections
import logging
import math
from typing import Iterable, Iterator, Optional, Union

import zmq

from . import l2s_pb2
from .framing import WireError, decode, encode
from .request import Prompt, build_request
from .results import FINISH_REASONS, Delta, L2SError, Result, TokenLogprob, Usage, error_code_name

log = logging.getLogger("l2s_client")

# Token chunks and stats replies are kilobytes; anything near this is not from a router.
MAX_MESSAGE_BYTES = 16 << 20
# How long close() lets libzmq deliver the cancels of unfinished jobs (linger is 0 otherwise).
CLOSE_FLUSH_MS = 200


class Job:
    """One submitted job. Iterate it for its `Delta`s (streamed jobs only), then call `result()`."""

    def __init__(self, client: "Client", request_id: str, stream: bool, logprobs: bool = False) -> None:
        self.request_id = request_id
        self.stream = stream
        self._client = client
        self._deltas: collections.deque[Delta] = collections.deque()
        self._ids: list[int] = []
        self._text: list[str] = []
        self._logprobs: Optional[list[TokenLogprob]] = [] if logprobs else None
        self._result: Optional[Result] = None
        self._error: Optional[BaseException] = None

    @property
    def done(self) -> bool:
        """True once the final result or an error arrived (or the job was abandoned)."""
        return self._result is not None or self._error is not None

    def __iter__(self) -> Iterator[Delta]:
        """The job's deltas as they arrive; ends when the job finishes (its errors surface in `result()`)."""
        while True:
            if self._deltas:
                yield self._deltas.popleft()
            elif self.done:
                return
            else:
                self._wait()

    def result(self) -> Result:
        """Blocks until the job finishes; the final Result, or raises its L2SError (TimeoutError on silence)."""
        while not self.done:
            self._wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def cancel(self) -> bool:
        """Asks the router to cancel this job; see `Client.cancel`."""
        return self._client.cancel(self.request_id)

    def _wait(self) -> None:
        try:
            self._client._receive()
        except BaseException as error:
            # Whatever stops the wait (silence, Ctrl-C, a router-wide error) also ends the job on the router.
            if not self.done:
                self._client._abandon(self, error)
            raise

    def _chunk(self, chunk: l2s_pb2.TokenChunk) -> None:
        ids = list(chunk.ids)
        self._ids += ids
        self._text.append(chunk.text_delta)
        logprobs = None
        if self._logprobs is not None:
            logprobs = [TokenLogprob.from_wire(entry) for entry in chunk.logprobs]
            self._logprobs += logprobs
        if chunk.finish_reason == l2s_pb2.FINISH_REASON_UNSPECIFIED:
            self._deltas.append(Delta(text=chunk.text_delta, ids=ids, logprobs=logprobs))
            return
        # The final chunk carries only what was not streamed before it (everything, for unstreamed jobs).
        usage = chunk.usage
        self._result = Result(
            request_id=self.request_id, text="".join(self._text), ids=self._ids,
            finish_reason=FINISH_REASONS.get(chunk.finish_reason, f"unknown_{chunk.finish_reason}"),
            usage=Usage(usage.prompt_tokens, usage.completion_tokens, usage.cached_encoding), logprobs=self._logprobs)

    def _fail(self, error: BaseException) -> None:
        self._error = error


class Client:
    """Connects a DEALER to the router's clients endpoint. `timeout` is how long (seconds) any call waits
    for the router to say something before raising TimeoutError; `validate=False` skips the client-side
    range checks and leaves them all to the router; `curve_server_key` (the router's Z85 public key, from
    `l2s keygen`) connects over CURVE to a router started with --curve-secret-file."""

    def __init__(self, endpoint: str, timeout: float = 120.0, *, validate: bool = True,
                 curve_server_key: Optional[str] = None) -> None:
        if not isinstance(endpoint, str) or not endpoint:
            raise TypeError(f"endpoint must be a ZeroMQ endpoint string like tcp://127.0.0.1:5555, got {endpoint!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
                math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.validate = validate
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self._socket.setsockopt(zmq.SNDTIMEO, self._timeout_ms)
        if curve_server_key is not None:
            if not isinstance(curve_server_key, str) or len(curve_server_key.strip()) != 40:
                self._socket.close()
                self._context.term()
                raise ValueError("curve_server_key must be the router's 40-character Z85 public key (l2s keygen)")
            public, secret = zmq.curve_keypair()
            self._socket.curve_serverkey = curve_server_key.strip().encode()
            self._socket.curve_publickey = public
            self._socket.curve_secretkey = secret
        try:
            self._socket.connect(endpoint)
        except zmq.ZMQError as error:
            self._socket.close()
            self._context.term()
            raise ValueError(f"cannot connect to router endpoint {endpoint!r}: {error}") from None
        self._jobs: dict[str, Job] = {}
        self._submitted = 0
        self._stats: collections.deque[l2s_pb2.StatsReply] = collections.deque()
        self._abandoned_stats = 0
        self._closed = False

    @property
    def _timeout_ms(self) -> int:
        return max(1, int(self.timeout * 1000))

    # Lifecycle

    def close(self) -> None:
        """Cancels unfinished jobs on the router (best effort) and releases the socket; idempotent."""
        if self._closed:
            return
        cancelled = 0
        for job in list(self._jobs.values()):
            self._abandon(job, L2SError("CANCELLED", "the client was closed before the job finished", job.request_id))
            cancelled += 1
        self._closed = True
        self._socket.close(linger=CLOSE_FLUSH_MS if cancelled else 0)
        self._context.term()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Jobs

    def submit(self, prompt: Prompt, *, stream: bool = False, **params) -> Job:
        """Sends one job and returns at once. `params` are `generate`'s keyword arguments."""
        self._check_open()
        self._submitted += 1
        request_id = str(self._submitted)
        request = build_request(request_id, prompt, stream=stream, validate=self.validate, **params)
        job = Job(self, request_id, stream, logprobs=request.HasField("logprobs"))
        self._jobs[request_id] = job
        try:
            self._send(l2s_pb2.Envelope(generate=request))
        except BaseException:
            del self._jobs[request_id]
            raise
        return job

    def generate(self, prompt: Prompt, max_new_tokens: int = 20, min_new_tokens: int = 0,
                 greedy: Optional[bool] = None, temperature: Optional[float] = None, top_k: Optional[int] = None,
                 top_p: Optional[float] = None, seed: Optional[int] = None,
                 stop: Union[str, list[str], None] = None, deadline_s: Optional[float] = None,
                 tenant_salt: Union[bytes, str, None] = None, repetition_penalty: Optional[float] = None,
                 no_repeat_ngram_size: Optional[int] = None, presence_penalty: Optional[float] = None,
                 frequency_penalty: Optional[float] = None, trace_id: Optional[str] = None,
                 num_beams: Optional[int] = None, length_penalty: Optional[float] = None,
                 early_stopping: Union[bool, str, None] = None, logprobs: Optional[int] = None) -> Result:
        """Runs one job to its end. `prompt` is text or LLM token ids. Greedy unless a sampling parameter is
        given (as `l2s generate`). `deadline_s`: seconds from now after which the router gives up
        (DEADLINE_EXCEEDED). `stop`: the text ends right before the first stop string (OpenAI's rule). The
        penalties (docs/generation.md) hold for greedy and sampled jobs alike. `trace_id`: the outside request the
        job belongs to, for the services' logs only (docs/cluster.md). `num_beams` > 1 runs beam search
        (`length_penalty`, `early_stopping` False / True / "never", as transformers names them; greedy, no stop
        strings); the job returns the best sequence at its end. `logprobs` N (0-20) adds each token's
        log-probability and the N most likely alternatives to the Result and each Delta (`TokenLogprob`; not with
        beam search). Raises L2SError for the router's refusals,
        TimeoutError when it is silent."""
        return self.submit(prompt, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, greedy=greedy,
                           temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, stop=stop,
                           deadline_s=deadline_s, tenant_salt=tenant_salt, repetition_penalty=repetition_penalty,
                           no_repeat_ngram_size=no_repeat_ngram_size, presence_penalty=presence_penalty,
                           frequency_penalty=frequency_penalty, trace_id=trace_id, num_beams=num_beams,
                           length_penalty=length_penalty, early_stopping=early_stopping,
                           logprobs=logprobs).result()

    def stream(self, prompt: Prompt, **params) -> Job:
        """Submits a streamed job: iterate the returned Job for Deltas as tokens come, then `job.result()`
        for the whole Result. Takes `generate`'s keyword arguments."""
        return self.submit(prompt, stream=True, **params)

    def generate_many(self, prompts: Iterable[Prompt], concurrency: int = 16, n: int = 1,
                      **params) -> list[Union[Result, L2SError]]:
        """Runs every prompt with up to `concurrency` jobs in flight on this one socket; results in input
        order, an L2SError in place of each refused or failed job. `n` > 1 runs each prompt n times (OpenAI's
        n), sample j seeded `seed + j`; the results are prompt-major. TimeoutError (after cancelling what is
        still in flight) when the router goes silent."""
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if "stream" in params:
            raise TypeError("generate_many does not stream; use stream() per prompt")
        seed = params.pop("seed", None)
        jobs = [(prompt, sample) for prompt in prompts for sample in range(n)]
        prompts = [prompt for prompt, _ in jobs]
        # Sample j's seed is seed + j; a greedy job (no sampling parameter) has no seed to advance.
        sampling = seed is not None or any(params.get(name) is not None for name in ("temperature", "top_k", "top_p"))
        seeds = [(seed or 0) + sample if sampling else None for _, sample in jobs]
        results: list[Union[Result, L2SError, None]] = [None] * len(prompts)
        in_flight: dict[str, tuple[int, Job]] = {}
        next_index = 0
        try:
            while True:
                while len(in_flight) < concurrency and next_index < len(prompts):
                    index = next_index
                    next_index += 1
                    try:
                        job = self.submit(prompts[index], **params, **({} if seeds[index] is None else
                                                                        {"seed": seeds[index]}))
                    except L2SError as error:
                        results[index] = error
                        continue
                    in_flight[job.request_id] = (index, job)
                if not in_flight:
                    break
                for request_id in self._receive():
                    entry = in_flight.get(request_id)
                    if entry is None or not entry[1].done:
                        continue
                    del in_flight[request_id]
                    index, job = entry
                    try:
                        results[index] = job.result()
                    except L2SError as error:
                        results[index] = error
        except BaseException as error:
            for _, job in in_flight.values():
                if not job.done:
                    self._abandon(job, error)
            raise
        return results  # type: ignore[return-value]  # every slot is filled once nothing is in flight

    def cancel(self, request_id: str) -> bool:
        """Asks the router to cancel a job of this client: its Result then ends with finish_reason
        "cancelled" (and the tokens so far). False (nothing sent) when the job is not in flight here."""
        self._check_open()
        if request_id not in self._jobs:
            return False
        self._send(l2s_pb2.Envelope(cancel=l2s_pb2.Cancel(request_id=request_id)))
        return True

    # Stats

    def stats(self) -> dict:
        """The router's statistics, shaped as `l2s stats --json` prints them."""
        self._check_open()
        self._send(l2s_pb2.Envelope(stats_request=l2s_pb2.StatsRequest()))
        try:
            while not self._stats:
                self._receive()
        except TimeoutError:
            self._abandoned_stats += 1  # its reply, should it come late, must not answer the next stats()
            raise
        return stats_dict(self._stats.popleft())

    # Plumbing

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the client of {self.endpoint} is closed")

    def _send(self, envelope: l2s_pb2.Envelope) -> None:
        try:
            self._socket.send_multipart(encode(envelope))
        except zmq.Again:
            raise TimeoutError(
                f"could not hand a message for the router at {self.endpoint} to ZeroMQ within {self.timeout:g} s "
                "(send queue full)") from None

    def _abandon(self, job: Job, error: BaseException) -> None:
        """Ends `job` here with `error` and tells the router to cancel it (best effort, never blocks)."""
        job._fail(error)
        if self._jobs.pop(job.request_id, None) is None or self._closed:
            return
        try:
            frames = encode(l2s_pb2.Envelope(cancel=l2s_pb2.Cancel(request_id=job.request_id)))
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.ZMQError as send_error:
            log.warning("could not send cancel of job %s to %s: %s", job.request_id, self.endpoint, send_error)

    def _receive(self) -> list[str]:
        """Waits for one message and files it; returns the request ids it was about (none for others)."""
        self._check_open()
        if not self._socket.poll(self._timeout_ms, zmq.POLLIN):
            raise TimeoutError(f"no answer from the router at {self.endpoint} within {self.timeout:g} s "
                               "(is it running, and is that its clients endpoint?)")
        frames = self._socket.recv_multipart()
        try:
            envelope, _ = decode(frames)
        except WireError as error:
            log.warning("dropped an invalid message from the router at %s: %s", self.endpoint, error)
            return []
        body = envelope.WhichOneof("body")
        if body in ("token_chunk", "token_chunks"):
            chunks = [envelope.token_chunk] if body == "token_chunk" else envelope.token_chunks.chunks
            return [chunk.request_id for chunk in chunks if self._file(chunk)]
        if body == "error":
            error = L2SError(error_code_name(envelope.error.code), envelope.error.message, envelope.error.request_id)
            if not error.request_id:
                raise error  # about no one job (e.g. the protocol version): whoever waits must hear it
            job = self._jobs.pop(error.request_id, None)
            if job is None:
                return []  # e.g. the answer to cancelling a job that had just finished
            job._fail(error)
            return [error.request_id]
        if body == "stats_reply":
            if self._abandoned_stats:
                self._abandoned_stats -= 1
            else:
                self._stats.append(envelope.stats_reply)
        return []  # heartbeats and bodies a client does not act on

    def _file(self, chunk: l2s_pb2.TokenChunk) -> bool:
        """Hands `chunk` to its job; False when this client no longer has that job (it abandoned it)."""
        job = self._jobs.get(chunk.request_id)
        if job is None:
            return False
        job._chunk(chunk)
        if job.done:
            del self._jobs[chunk.request_id]
        return True


def stats_dict(reply: l2s_pb2.StatsReply) -> dict:
    """The StatsReply as the object `l2s stats --json` prints."""
    cache = reply.cache
    return {
        "workers": [
            {"id": worker.worker_id, "role": "encoder" if worker.role == l2s_pb2.ROLE_ENCODER else "decoder",
             "capacity": worker.capacity, "credits": worker.credits, "outstanding": worker.outstanding,
             "jobs_done": worker.jobs_done, "last_seen_ms_ago": worker.last_seen_ms_ago}
            for worker in reply.workers
        ],
        "queue_depth": reply.queue_depth,
        "max_queue": reply.max_queue,
        "cache": {"hits": cache.hits, "misses": cache.misses, "evictions": cache.evictions, "entries": cache.entries,
                  "bytes": cache.bytes, "capacity_bytes": cache.capacity_bytes, "coalesced": cache.coalesced},
        "jobs_done": reply.jobs_done,
        "jobs_failed": reply.jobs_failed,
        "tokens_generated": reply.tokens_generated,
        "tokens_per_second": reply.tokens_per_second,
        "uptime_ms": reply.uptime_ms,
        "faults": {"jobs_cancelled": reply.jobs_cancelled, "slow_client_cancels": reply.slow_client_cancels,
                   "worker_faults": reply.worker_faults, "retries": reply.retries,
                   "refused_peers": reply.refused_peers},
    }
