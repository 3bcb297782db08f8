"""`python -m l2s_client --router EP [--json] [--stream] PROMPT`: one job through a cluster, printed as
`l2s generate` prints it (the text, or with --json the result object; --stream adds {"delta","ids"} lines).
Exit status 64 for bad flags, 1 when the job fails or the router does not answer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

from .client import Client
from .results import L2SError

EXIT_FAILURE = 1
EXIT_USAGE = 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def _ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated token ids, got {text!r}") from None
    if not ids or any(value < 0 or value > 2**31 - 1 for value in ids):
        raise argparse.ArgumentTypeError(f"token ids must be in 0...{2**31 - 1}, got {text!r}")
    return ids


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m l2s_client", description=__doc__.split("\n")[0])
    parser.add_argument("prompt", nargs="?", help="prompt text (or give --input-ids)")
    parser.add_argument("--router", default=os.environ.get("L2S_ROUTER", "tcp://127.0.0.1:5555"),
                        help="the router's clients endpoint (env L2S_ROUTER; default tcp://127.0.0.1:5555)")
    parser.add_argument("--input-ids", type=_ids, help="prompt as LLM token ids, comma-separated")
    parser.add_argument("--max-new-tokens", type=int, default=20, help="stop after N new tokens (default 20)")
    parser.add_argument("--min-new-tokens", type=int, default=0, help="suppress EOS until N tokens exist")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token (the default)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default 1 when sampling)")
    parser.add_argument("--top-k", type=int, help="sample among the K most likely tokens (0 = all)")
    parser.add_argument("--top-p", type=float, help="sample within probability mass P (1 = all)")
    parser.add_argument("--seed", type=int, help="seed of the sampler")
    parser.add_argument("--repetition-penalty", type=float,
                        help="divide the logits of ids already in the context by F (1 = off)")
    parser.add_argument("--no-repeat-ngram-size", type=int, help="never repeat an n-gram of N ids (0 = off)")
    parser.add_argument("--presence-penalty", type=float, help="subtract F from the logit of every id generated so far")
    parser.add_argument("--frequency-penalty", type=float, help="subtract F per earlier occurrence from an id's logit")
    parser.add_argument("--stop", action="append",
                        help="stop where the text contains TEXT, which is cut off with what follows (repeatable)")
    parser.add_argument("--num-beams", type=int, help="beam search over N beams (greedy; at most 16)")
    parser.add_argument("--length-penalty", type=float, help="beam scores are divided by length^F (default 1)")
    parser.add_argument("--early-stopping", choices=["false", "true", "never"],
                        help="false: stop when no beam can improve (default); true: when N are finished; never")
    parser.add_argument("--n", type=int, default=1,
                        help="N independent samples, sample j seeded S + j (OpenAI's n); one result line each")
    parser.add_argument("--logprobs", type=int,
                        help="add each token's log-probability and the N most likely alternatives (0-20; JSON)")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--stream", action="store_true", help="print text as it is generated")
    parser.add_argument("--timeout-ms", type=int, default=int(os.environ.get("L2S_TIMEOUT_MS", "120000")),
                        help="give up after this long without news from the router (env L2S_TIMEOUT_MS)")
    return parser


def _line(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.prompt is None) == (args.input_ids is None):
        parser.error("give exactly one of PROMPT or --input-ids")
    if args.timeout_ms < 1:
        parser.error(f"--timeout-ms must be at least 1, got {args.timeout_ms}")
    sampling = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed}
    if args.greedy and any(value is not None for value in sampling.values()):
        parser.error("--greedy contradicts the sampling flags")
    if args.n < 1 or (args.n > 1 and args.stream):
        parser.error(f"--n must be at least 1, and 1 with --stream; got {args.n}")
    prompt = args.prompt if args.prompt is not None else args.input_ids
    params = dict(max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens, stop=args.stop,
                  repetition_penalty=args.repetition_penalty, no_repeat_ngram_size=args.no_repeat_ngram_size,
                  presence_penalty=args.presence_penalty, frequency_penalty=args.frequency_penalty,
                  num_beams=args.num_beams, length_penalty=args.length_penalty,
                  early_stopping={"false": False, "true": True, "never": "never", None: None}[args.early_stopping],
                  logprobs=args.logprobs, **sampling)
    if args.logprobs is not None:
        args.json = True
    try:
        with Client(args.router, timeout=args.timeout_ms / 1000) as client:
            if args.n > 1:
                results = client.generate_many([prompt], n=args.n, **params)
                for result in results:
                    if isinstance(result, L2SError):
                        raise result
                    _line(result.as_dict()) if args.json else print(result.text)
                return 0
            job = client.submit(prompt, stream=args.stream, **params)
            for delta in job:
                if args.json:
                    _line(delta.as_dict())
                else:
                    sys.stdout.write(delta.text)
                    sys.stdout.flush()
            result = job.result()
    except (L2SError, TimeoutError, ValueError, TypeError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        _line(result.as_dict())
    else:
        print("" if args.stream else result.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
