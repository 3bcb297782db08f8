#!/usr/bin/env python3
r"""Trains a plain model on a prompt/response JSONL task (no LLM): a T5 as sequence-to-sequence, a GPT-2 as
prompt, <|endoftext|> separator, response, <|endoftext|>. Used for the "LLM alone" and "SLM alone" rows.

    .venv/bin/python scripts/train_baseline.py --model runs/replication/init/llm \
        --train task/train.jsonl --valid task/valid.jsonl --out runs/replication/llm --steps 2000
"""
import argparse
import json
import pathlib
import shutil
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "l2s_py"))
import train as training  # noqa: E402
from data import encode_rows, read_jsonl, text_tokenizer  # noqa: E402
from model import ConditionedSLM  # noqa: E402
from checkpoints import load_hf_model, TOKENIZER_FILES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=pathlib.Path, required=True, help="HF checkpoint directory to start from")
    parser.add_argument("--train", type=pathlib.Path, required=True, help="training JSONL {prompt, response}")
    parser.add_argument("--valid", type=pathlib.Path, required=True, help="validation JSONL")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output HF checkpoint directory")
    parser.add_argument("--max-prompt", type=int, default=96, help="prompt tokens kept")
    parser.add_argument("--max-answer", type=int, default=96, help="response tokens kept")
    training.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    slm, kind = load_hf_model(args.model)
    tokenizer = text_tokenizer(args.model)
    start = slm.config.decoder_start_token_id if kind == "encoder_decoder" else tokenizer.eos_id
    model = ConditionedSLM(slm, kind, start, tokenizer.eos_id)
    train = encode_rows(read_jsonl(args.train), tokenizer, tokenizer, args.max_prompt, args.max_answer)
    valid = encode_rows(read_jsonl(args.valid), tokenizer, tokenizer, args.max_prompt, args.max_answer)
    args.out.mkdir(parents=True, exist_ok=True)
    result = training.run(model, train, valid, tokenizer.decode, args, args.out / "checkpoint.pt",
                          log=lambda line: print(line, flush=True))
    slm.save_pretrained(args.out)
    for name in TOKENIZER_FILES:
        if (args.model / name).exists():
            shutil.copyfile(args.model / name, args.out / name)
    (args.out / "valid.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
