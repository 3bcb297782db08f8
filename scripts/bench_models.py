#!/usr/bin/env python3
"""Helper of scripts/bench-models.sh: builds the random-weight benchmark checkpoints and times the reference
engines. Each timing runs in its own process (the shell script starts one per engine and model).

    bench_models.py make DIR                      t5-small- and gpt2-shaped checkpoints + CTranslate2 copies
    bench_models.py torch MODEL_DIR THREADS P N   PyTorch (transformers) prefill and decode timings
    bench_models.py ct2 CT2_DIR KIND THREADS P N  CTranslate2 float32 timings

Timing lines are JSON: {"prefill_s", "decode_s", "decode_steps"}: prefill = prompt to first logits (for T5:
encoder + first decoder step), decode = the following N-1 single-token steps with KV cache, batch 1, best of 3.
"""
import json
import pathlib
import sys
import time

REPEATS = 3


def prompt_ids(count, vocab):
    return [(7 * i + 3) % (vocab - 2) + 2 for i in range(count)]


class _Vocabulary:
    """The minimal tokenizer surface the CTranslate2 converter reads (no tokenizer exists for random weights)."""

    def __init__(self, size, pad, eos, bos, unk):
        self.tokens = [f"t{i}" for i in range(size)]
        self.pad_token, self.eos_token, self.bos_token, self.unk_token = (self.tokens[i] for i in (pad, eos, bos, unk))
        self.unk_token_id = unk
        self.special_tokens_map = {}

    def get_vocab(self):
        return {token: index for index, token in enumerate(self.tokens)}

    def convert_ids_to_tokens(self, index):
        return self.tokens[index]


def make(root):
    import ctranslate2
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    root = pathlib.Path(root)
    torch.manual_seed(0)
    specs = {
        "t5-small": (T5ForConditionalGeneration, T5Config(
            vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8, feed_forward_proj="relu",
            decoder_start_token_id=0), (0, 1, 1, 2)),
        "gpt2": (GPT2LMHeadModel, GPT2Config(), (50256, 50256, 50256, 50256)),
    }
    for name, (model_class, config, (pad, eos, bos, unk)) in specs.items():
        directory = root / name
        if (directory / "model.safetensors").exists():
            continue
        model = model_class(config).eval()
        model.save_pretrained(directory)

        class Converter(ctranslate2.converters.TransformersConverter):
            def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
                return _Vocabulary(config.vocab_size, pad, eos, bos, unk)

        Converter(str(directory)).convert(str(root / (name + "-ct2")), quantization="float32", force=True)
        print(f"bench_models: wrote {directory} and {root / (name + '-ct2')}", file=sys.stderr)


def convert_ct2(model_dir, output_dir, vocab_size, special_ids, quantization="float32"):
    """Writes a CTranslate2 copy of the HF checkpoint in model_dir to output_dir (replacing it), with placeholder
    tokens t0 .. t<vocab_size-1> (feed it ids as f"t{id}"). special_ids = (pad, eos, bos, unk);
    quantization is CTranslate2's ("float32", "int8", "float16", ...)."""
    import ctranslate2

    pad, eos, bos, unk = special_ids

    class Converter(ctranslate2.converters.TransformersConverter):
        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return _Vocabulary(vocab_size, pad, eos, bos, unk)

    Converter(str(model_dir)).convert(str(output_dir), quantization=quantization, force=True)


def time_torch(model_dir, threads, prompt_length, new_tokens):
    import torch
    from transformers import AutoConfig, GPT2LMHeadModel, T5ForConditionalGeneration

    torch.set_num_threads(threads)
    config = AutoConfig.from_pretrained(model_dir)
    is_t5 = config.model_type == "t5"
    model = (T5ForConditionalGeneration if is_t5 else GPT2LMHeadModel).from_pretrained(model_dir).eval()
    ids = torch.tensor([prompt_ids(prompt_length, config.vocab_size)])
    best_prefill, best_decode = float("inf"), float("inf")
    with torch.inference_mode():
        for _ in range(REPEATS):
            start = time.perf_counter()
            if is_t5:
                encoder = model.get_encoder()(input_ids=ids)
                out = model(encoder_outputs=encoder, decoder_input_ids=torch.tensor([[0]]), use_cache=True)
            else:
                out = model(input_ids=ids, use_cache=True)
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            prefill = time.perf_counter() - start
            cache = out.past_key_values
            start = time.perf_counter()
            for _ in range(new_tokens - 1):
                if is_t5:
                    out = model(encoder_outputs=encoder, decoder_input_ids=token, past_key_values=cache, use_cache=True)
                else:
                    out = model(input_ids=token, past_key_values=cache, use_cache=True)
                cache = out.past_key_values
                token = out.logits[:, -1].argmax(-1, keepdim=True)
            decode = time.perf_counter() - start
            best_prefill, best_decode = min(best_prefill, prefill), min(best_decode, decode)
    return best_prefill, best_decode


def time_ct2(ct2_dir, kind, threads, prompt_length, new_tokens):
    import ctranslate2

    vocab = 32128 if kind == "t5" else 50257
    tokens = [f"t{i}" for i in prompt_ids(prompt_length, vocab)]
    if kind == "t5":
        engine = ctranslate2.Translator(ct2_dir, device="cpu", compute_type="float32", inter_threads=1,
                                        intra_threads=threads)

        def run(length):
            engine.translate_batch([tokens], beam_size=1, max_decoding_length=length, min_decoding_length=length)
    else:
        engine = ctranslate2.Generator(ct2_dir, device="cpu", compute_type="float32", inter_threads=1,
                                       intra_threads=threads)

        def run(length):
            engine.generate_batch([tokens], beam_size=1, max_length=length, min_length=length,
                                  include_prompt_in_result=False)
    best_first, best_all = float("inf"), float("inf")
    run(new_tokens)
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(1)
        best_first = min(best_first, time.perf_counter() - start)
        start = time.perf_counter()
        run(new_tokens)
        best_all = min(best_all, time.perf_counter() - start)
    return best_first, max(best_all - best_first, 0.0)


def main(argv):
    if argv[0] == "make":
        make(argv[1])
        return 0
    if argv[0] == "torch":
        prefill, decode = time_torch(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
    elif argv[0] == "ct2":
        prefill, decode = time_ct2(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    print(json.dumps({"prefill_s": prefill, "decode_s": decode, "decode_steps": int(argv[-1]) - 1}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
