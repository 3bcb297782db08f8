"""Loading local Hugging Face checkpoints as float32 models (fp16/bf16 weights are upcast, as the Swift side does)."""
import json
import pathlib

import torch
from transformers import GPT2LMHeadModel, T5EncoderModel, T5ForConditionalGeneration

TOKENIZER_FILES = ("spiece.model", "vocab.json", "merges.txt")
KINDS = {"t5": "encoder_decoder", "gpt2": "decoder_only"}


def model_type(directory: pathlib.Path) -> str:
    config = json.loads((pathlib.Path(directory) / "config.json").read_text())
    if config.get("model_type") not in KINDS:
        raise ValueError(f"{directory}/config.json: model_type {config.get('model_type')!r}, expected one of "
                         f"{sorted(KINDS)}")
    return config["model_type"]


def load_hf_model(directory: pathlib.Path) -> tuple:
    """(model in float32, SLM kind) for a T5 (seq2seq) or GPT-2 (causal LM) checkpoint."""
    family = model_type(directory)
    cls = T5ForConditionalGeneration if family == "t5" else GPT2LMHeadModel
    return cls.from_pretrained(directory, dtype=torch.float32), KINDS[family]


def load_llm_encoder(directory: pathlib.Path) -> T5EncoderModel:
    """The encoder of a T5 checkpoint (full seq2seq or encoder-only), float32, eval mode, frozen."""
    if model_type(directory) != "t5":
        raise ValueError(f"{directory}: the LLM must be a T5 (encoder-decoder) checkpoint")
    encoder = T5EncoderModel.from_pretrained(directory, dtype=torch.float32)
    encoder.eval()
    encoder.requires_grad_(False)
    return encoder
