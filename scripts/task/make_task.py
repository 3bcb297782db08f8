#!/usr/bin/env python3
"""Writes the synthetic translation task: train/valid/test JSONL of {"prompt", "response"} plus the lexicon.

    .venv/bin/python scripts/task/make_task.py --out runs/replication/task [--seed 1234] [--train 60000]

Same seed, same files (byte for byte). Splits are disjoint on the prompt.
"""
import argparse
import json
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from grammar import Grammar  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the lexicon and the sampling")
    parser.add_argument("--train", type=int, default=60000, help="training pairs")
    parser.add_argument("--valid", type=int, default=500, help="validation pairs")
    parser.add_argument("--test", type=int, default=1000, help="held-out test pairs")
    args = parser.parse_args()

    grammar = Grammar(args.seed)
    rng = random.Random(args.seed + 1)
    wanted = args.train + args.valid + args.test
    seen, pairs = set(), []
    attempts = 0
    while len(pairs) < wanted:
        attempts += 1
        if attempts > 20 * wanted:
            print(f"make_task: only {len(pairs)} distinct sentences after {attempts} draws", file=sys.stderr)
            return 1
        sentence = grammar.sentence(rng)
        prompt = grammar.source(sentence)
        if prompt in seen:
            continue
        seen.add(prompt)
        pairs.append({"prompt": prompt, "response": grammar.target(sentence)})

    args.out.mkdir(parents=True, exist_ok=True)
    splits = {"test": pairs[:args.test], "valid": pairs[args.test:args.test + args.valid],
              "train": pairs[args.test + args.valid:]}
    for name, rows in splits.items():
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "lexicon.json").write_text(json.dumps(grammar.lexicon, indent=1, sort_keys=True) + "\n")
    print(f"make_task: {', '.join(f'{k} {len(v)}' for k, v in splits.items())} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
