#!/usr/bin/env python3
"""Evaluates a plain model (LLM alone, SLM alone) or an l2s bundle on a held-out JSONL split: greedy decoding,
BLEU (sacrebleu), exact match, and batch-1 latency measured in PyTorch (not l2s).

    .venv/bin/python scripts/evaluate.py --bundle bundles/default --test test.jsonl --report out.json
    .venv/bin/python scripts/evaluate.py --model runs/replication/llm --test test.jsonl
"""
import argparse
import json
import pathlib
import sys

import torch
import transformers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "l2s_py"))
import bundle as bundle_format  # noqa: E402
from checkpoints import load_hf_model  # noqa: E402
from data import encode_rows, read_jsonl, text_tokenizer  # noqa: E402
from generate import evaluate  # noqa: E402
from model import ConditionedSLM  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=pathlib.Path, help="plain HF T5 or GPT-2 checkpoint directory")
    source.add_argument("--bundle", type=pathlib.Path, help="l2s bundle directory")
    parser.add_argument("--test", type=pathlib.Path, required=True, help="JSONL {prompt, response}")
    parser.add_argument("--report", type=pathlib.Path, help="write the result JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per generation batch")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="generation limit")
    parser.add_argument("--timing-examples", type=int, default=100, help="batch-1 latency over N examples (0: off)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    if args.bundle:
        model, prompt_tokenizer, answer_tokenizer, _ = bundle_format.load_bundle(args.bundle)
    else:
        slm, kind = load_hf_model(args.model)
        prompt_tokenizer = answer_tokenizer = text_tokenizer(args.model)
        start = slm.config.decoder_start_token_id if kind == "encoder_decoder" else answer_tokenizer.eos_id
        model = ConditionedSLM(slm, kind, start, answer_tokenizer.eos_id).eval()
    examples = encode_rows(read_jsonl(args.test), prompt_tokenizer, answer_tokenizer, 96, 96)
    result = evaluate(model, examples, answer_tokenizer.decode, args.max_new_tokens, args.batch_size,
                      args.timing_examples)
    result["parameters_slm"] = sum(p.numel() for p in model.slm.parameters())
    if model.llm_encoder is not None:
        result["parameters_llm_encoder"] = sum(p.numel() for p in model.llm_encoder.parameters())
        result["parameters_projector"] = sum(p.numel() for p in model.projector.parameters())
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}), flush=True)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
