#!/usr/bin/env python3
"""Runs the Python reference forward of a bundle on one prompt (greedy, uncached, docs/bundle.md), printing one
JSON object like `l2s run --bundle DIR --json PROMPT`, to compare the two by hand.

    .venv/bin/python scripts/reference_run.py --bundle bundles/default "these angry soldiers will watch the rabbits"
"""
import argparse
import json
import pathlib
import sys

import torch
import transformers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "l2s_py"))
import bundle as bundle_format  # noqa: E402
from reference import reference_forward  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=pathlib.Path, required=True, help="l2s bundle directory")
    parser.add_argument("--input-ids", help="comma-separated LLM token ids instead of PROMPT (used as given)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="generation limit")
    parser.add_argument("--dump-logits", action="store_true", help="add each step's full logits")
    parser.add_argument("prompt", nargs="?", help="prompt text (tokenized with llm/spiece.model, then </s>)")
    args = parser.parse_args()
    if (args.prompt is None) == (args.input_ids is None):
        parser.error("give exactly one of PROMPT and --input-ids")
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    model, prompt_tokenizer, answer_tokenizer, _ = bundle_format.load_bundle(args.bundle)
    ids = ([int(i) for i in args.input_ids.split(",")] if args.input_ids else
           prompt_tokenizer.encode_prompt(args.prompt))
    result = reference_forward(model, ids, args.max_new_tokens)
    generated = result["greedy_ids"]
    finish = "length"
    if model.eos_id in generated:
        generated, finish = generated[:generated.index(model.eos_id)], "stop"
    out = {"text": answer_tokenizer.decode(generated), "ids": generated, "finish_reason": finish,
           "prompt_ids": ids}
    if args.dump_logits:
        out["logits"] = result["step_logits"][:len(generated) + (finish == "stop")].tolist()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
