#!/usr/bin/env python3
r"""Trains the task's two tokenizers on the training split (prompts and responses):

- a SentencePiece unigram model for the T5 models, T5 layout (pad 0, eos 1, unk 2, no bos): spiece.model;
- a byte-level BPE in GPT-2 style (tokenizers package) with <|endoftext|>: vocab.json, merges.txt.

    .venv/bin/python scripts/task/train_tokenizers.py --train runs/replication/task/train.jsonl \
        --out runs/replication/tokenizers
"""
import argparse
import json
import pathlib
import sys

import sentencepiece as spm
from tokenizers import ByteLevelBPETokenizer

END_OF_TEXT = "<|endoftext|>"


def texts(path: pathlib.Path) -> list:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["prompt"] for row in rows] + [row["response"] for row in rows]


def train_sentencepiece(lines: list, out: pathlib.Path, vocab_size: int, normalization: str = "nmt_nfkc") -> None:
    """T5 layout; `normalization` "identity" keeps spiece.model small (no normalization table) for fixtures."""
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out / "spiece"), model_type="unigram", vocab_size=vocab_size,
        character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>",
        unk_piece="<unk>", normalization_rule_name=normalization, num_threads=1,
        minloglevel=2)
    corpus.unlink()
    (out / "spiece.vocab").unlink()


def train_bpe(lines: list, out: pathlib.Path, vocab_size: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=2, special_tokens=[END_OF_TEXT],
                            show_progress=False)
    bpe.save_model(str(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=pathlib.Path, required=True, help="training JSONL")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="writes sentencepiece/ and bpe/ here")
    parser.add_argument("--spm-vocab", type=int, default=2000, help="SentencePiece vocabulary size")
    parser.add_argument("--bpe-vocab", type=int, default=2500, help="byte-level BPE vocabulary size")
    args = parser.parse_args()
    lines = texts(args.train)
    train_sentencepiece(lines, args.out / "sentencepiece", args.spm_vocab)
    train_bpe(lines, args.out / "bpe", args.bpe_vocab)
    print(f"train_tokenizers: {len(lines)} lines -> {args.out}/sentencepiece/spiece.model, {args.out}/bpe/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
