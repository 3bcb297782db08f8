"""Task data and tokenization shared by training, evaluation and fixtures.

Tokenization contract (docs/bundle.md):
- SentencePiece (T5 models): ids = spiece.encode(text) followed by eos (</s>, id 1) for prompts; responses are
  the same ids without eos (eos is appended as the last target).
- byte-level BPE (GPT-2 models): ids = bpe.encode(text) with no special token added.
"""
import json
import pathlib
import random

import sentencepiece as spm
import torch
from tokenizers import Tokenizer, models, decoders, pre_tokenizers

SPIECE = "spiece.model"
END_OF_TEXT = "<|endoftext|>"


class SentencePieceText:
    """T5-style SentencePiece tokenizer read from spiece.model (pad 0, eos 1, unk 2)."""

    def __init__(self, directory: pathlib.Path):
        self.processor = spm.SentencePieceProcessor(model_file=str(pathlib.Path(directory) / SPIECE))
        self.eos_id = self.processor.eos_id()
        self.vocab_size = self.processor.get_piece_size()

    def encode(self, text: str) -> list:
        return self.processor.encode(text)

    def encode_prompt(self, text: str) -> list:
        return self.processor.encode(text) + [self.eos_id]

    def decode(self, ids: list) -> str:
        return self.processor.decode([i for i in ids if i > 2])


class ByteLevelBPEText:
    """GPT-2 style byte-level BPE read from vocab.json + merges.txt."""

    def __init__(self, directory: pathlib.Path):
        directory = pathlib.Path(directory)
        bpe = models.BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt"))
        self.tokenizer = Tokenizer(bpe)
        self.tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        self.tokenizer.decoder = decoders.ByteLevel()
        self.eos_id = self.tokenizer.token_to_id(END_OF_TEXT)
        self.vocab_size = self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_prompt(self, text: str) -> list:
        return self.encode(text)

    def decode(self, ids: list) -> str:
        return self.tokenizer.decode([i for i in ids if i != self.eos_id], skip_special_tokens=False)


def text_tokenizer(directory: pathlib.Path):
    """The tokenizer of an HF checkpoint directory: spiece.model if present, else vocab.json + merges.txt."""
    directory = pathlib.Path(directory)
    if (directory / SPIECE).exists():
        return SentencePieceText(directory)
    if (directory / "vocab.json").exists() and (directory / "merges.txt").exists():
        return ByteLevelBPEText(directory)
    raise FileNotFoundError(f"{directory}: no tokenizer (expected {SPIECE}, or vocab.json and merges.txt)")


def read_jsonl(path: pathlib.Path, limit: int = 0) -> list:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("prompt"), str) or not isinstance(row.get("response"), str):
                raise ValueError(f"{path}:{number}: expected string fields \"prompt\" and \"response\"")
            rows.append(row)
            if limit and len(rows) == limit:
                break
    return rows


def encode_rows(rows: list, prompt_tokenizer, answer_tokenizer, max_prompt: int, max_answer: int) -> list:
    """Each row -> {"index", "prompt" ids, "answer" ids, "response" text}; over-long rows are truncated."""
    return [{"index": i, "prompt": prompt_tokenizer.encode_prompt(row["prompt"])[:max_prompt],
             "answer": answer_tokenizer.encode(row["response"])[:max_answer], "response": row["response"]}
            for i, row in enumerate(rows)]


def pad(sequences: list, value: int) -> tuple:
    """Right-pads int lists -> (ids [B, L] long, mask [B, L] long)."""
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), value, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, :len(sequence)] = 1
    return ids, mask


def length_bucketed_batches(examples: list, batch_size: int, rng: random.Random) -> list:
    """Shuffled batches of similar length (less padding): sort within windows of 50 batches, shuffle batches."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window],
                       key=lambda i: len(examples[i]["prompt"]) + len(examples[i]["answer"]))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return [[examples[i] for i in batch] for batch in batches]
