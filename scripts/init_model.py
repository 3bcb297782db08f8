#!/usr/bin/env python3
r"""Writes a randomly initialised Hugging Face checkpoint (T5 or GPT-2) with the given tokenizer files, the
starting point of the task's models (no pretrained weights can be downloaded here).

    .venv/bin/python scripts/init_model.py --family t5 --tokenizer runs/replication/tokenizers/sentencepiece \
        --d-model 256 --layers 4 --heads 8 --d-ff 1024 --out runs/replication/init/llm
"""
import argparse
import pathlib
import shutil
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "l2s_py"))
from data import text_tokenizer  # noqa: E402
from checkpoints import TOKENIZER_FILES  # noqa: E402




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=("t5", "gpt2"), required=True)
    parser.add_argument("--tokenizer", type=pathlib.Path, required=True,
                        help="directory with spiece.model (t5) or vocab.json + merges.txt (gpt2)")
    parser.add_argument("--d-model", type=int, required=True)
    parser.add_argument("--layers", type=int, required=True, help="layers (T5: encoder and decoder each)")
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--d-ff", type=int, default=0, help="feed-forward width (default 4 x d-model)")
    parser.add_argument("--positions", type=int, default=128, help="GPT-2 n_positions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    tokenizer = text_tokenizer(args.tokenizer)
    d_ff = args.d_ff or 4 * args.d_model
    if args.family == "t5":
        config = T5Config(vocab_size=tokenizer.vocab_size, d_model=args.d_model, d_kv=args.d_model // args.heads,
                          d_ff=d_ff, num_layers=args.layers, num_decoder_layers=args.layers, num_heads=args.heads,
                          dropout_rate=0.0, feed_forward_proj="relu", tie_word_embeddings=True,
                          pad_token_id=0, eos_token_id=tokenizer.eos_id, decoder_start_token_id=0)
        model = T5ForConditionalGeneration(config)
    else:
        config = GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=args.d_model, n_layer=args.layers,
                            n_head=args.heads, n_inner=d_ff, n_positions=args.positions, resid_pdrop=0.0,
                            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=tokenizer.eos_id,
                            eos_token_id=tokenizer.eos_id, pad_token_id=tokenizer.eos_id)
        model = GPT2LMHeadModel(config)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    for name in TOKENIZER_FILES:
        if (args.tokenizer / name).exists():
            shutil.copyfile(args.tokenizer / name, args.out / name)
    print(f"init_model: {args.family} {sum(p.numel() for p in model.parameters()):,} parameters -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
