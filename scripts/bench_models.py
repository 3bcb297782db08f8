#!/usr/bin/env python3
"""Helper of scripts/bench-models.sh: builds the random-weight benchmark checkpoints and times the reference
engines. Each timing runs in its own process (the shell script starts one per engine and model).

    bench_models.py make DIR [T5_LARGE_DIR]       t5-small- and gpt2-shaped checkpoints, float16 copies of them (and
                                                  of T5_LARGE_DIR, written by make_speed_bundles.py), CTranslate2 copies
    bench_models.py torch MODEL_DIR THREADS P N [BATCH]          PyTorch (transformers) timings
    bench_models.py ct2 CT2_DIR KIND THREADS P N [BATCH [TYPE [VOCAB]]]  CTranslate2 timings (TYPE float32 or int8)
    bench_models.py floor MODEL_DIR [THREADS]     bytes of weights one decoding step reads, and the machine's
                                                  read bandwidth from THREADS threads: {"step_bytes", "read_gb_s"}

Timing lines are JSON: {"prefill_s", "decode_s", "decode_steps", "batch"}: prefill = prompt to first logits (for
T5: encoder + first decoder step), decode = the following N-1 steps with KV cache for BATCH copies of the prompt,
best of 3.
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


def make(root, t5_large=None):
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
    sources = {"t5-small": root / "t5-small", "gpt2": root / "gpt2"}
    if t5_large:
        sources["t5-large"] = pathlib.Path(t5_large)
    for name, directory in sources.items():
        half = root / (name + "-f16")
        if (half / "model.safetensors").exists():
            continue
        model_class = GPT2LMHeadModel if name == "gpt2" else T5ForConditionalGeneration
        model_class.from_pretrained(directory).half().save_pretrained(half)
        print(f"bench_models: wrote {half} (float16 weights)", file=sys.stderr)


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


def time_torch(model_dir, threads, prompt_length, new_tokens, batch=1):
    import torch
    from transformers import AutoConfig, GPT2LMHeadModel, T5ForConditionalGeneration

    torch.set_num_threads(threads)
    config = AutoConfig.from_pretrained(model_dir)
    is_t5 = config.model_type == "t5"
    model = (T5ForConditionalGeneration if is_t5 else GPT2LMHeadModel).from_pretrained(model_dir).eval()
    ids = torch.tensor([prompt_ids(prompt_length, config.vocab_size)] * batch)
    best_prefill, best_decode = float("inf"), float("inf")
    with torch.inference_mode():
        for _ in range(REPEATS):
            start = time.perf_counter()
            if is_t5:
                encoder = model.get_encoder()(input_ids=ids)
                out = model(encoder_outputs=encoder, decoder_input_ids=torch.zeros((batch, 1), dtype=torch.long),
                            use_cache=True)
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


def time_ct2(ct2_dir, kind, threads, prompt_length, new_tokens, batch=1, compute_type="float32", vocab=None):
    import ctranslate2

    vocab = vocab or (32128 if kind == "t5" else 50257)
    tokens = [[f"t{i}" for i in prompt_ids(prompt_length, vocab)]] * batch
    if kind == "t5":
        engine = ctranslate2.Translator(ct2_dir, device="cpu", compute_type=compute_type, inter_threads=1,
                                        intra_threads=threads)

        def run(length):
            engine.translate_batch(tokens, beam_size=1, max_decoding_length=length, min_decoding_length=length,
                                   max_batch_size=batch)
    else:
        engine = ctranslate2.Generator(ct2_dir, device="cpu", compute_type=compute_type, inter_threads=1,
                                       intra_threads=threads)

        def run(length):
            engine.generate_batch(tokens, beam_size=1, max_length=length, min_length=length,
                                  include_prompt_in_result=False, max_batch_size=batch)
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


def floor(model_dir, threads=1):
    """Weight bytes one decoding step reads (float32), and the read bandwidth of `threads` threads measured now
    (each sums its own part of a buffer far beyond the caches; numpy releases the GIL while it sums)."""
    import concurrent.futures

    import numpy
    from safetensors import safe_open

    step_bytes = 0
    with safe_open(str(pathlib.Path(model_dir) / "model.safetensors"), framework="numpy") as weights:
        names = list(weights.keys())
        tied = "lm_head.weight" not in names
        for name in names:
            shape = weights.get_slice(name).get_shape()
            count = int(numpy.prod(shape))
            # A step reads the decoder's layers and the head, not the encoder, the cross-attention keys and values
            # (computed once per prompt) or the position/token embeddings (one row each).
            if name.startswith("encoder.") or "EncDecAttention.k." in name or "EncDecAttention.v." in name:
                continue
            if name in ("shared.weight", "transformer.wte.weight", "decoder.embed_tokens.weight") and not tied:
                continue
            if name.endswith("wpe.weight") or "relative_attention_bias" in name:
                continue
            step_bytes += 4 * count
    data = numpy.ones(128 << 20, dtype=numpy.float32)  # 512 MiB, far beyond the caches
    parts = numpy.array_split(data, threads)
    best = float("inf")
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for _ in range(5):
            start = time.perf_counter()
            list(pool.map(numpy.sum, parts))
            best = min(best, time.perf_counter() - start)
    return step_bytes, data.nbytes / best / 1e9


def main(argv):
    if argv[0] == "make":
        make(argv[1], argv[2] if len(argv) > 2 else None)
        return 0
    batch = 1
    if argv[0] == "torch":
        batch = int(argv[5]) if len(argv) > 5 else 1
        prefill, decode = time_torch(argv[1], int(argv[2]), int(argv[3]), int(argv[4]), batch)
        steps = int(argv[4]) - 1
    elif argv[0] == "ct2":
        batch = int(argv[6]) if len(argv) > 6 else 1
        compute_type = argv[7] if len(argv) > 7 else "float32"
        vocab = int(argv[8]) if len(argv) > 8 else None
        prefill, decode = time_ct2(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]), batch, compute_type,
                                   vocab)
        steps = int(argv[5]) - 1
    elif argv[0] == "floor":
        step_bytes, bandwidth = floor(argv[1], int(argv[2]) if len(argv) > 2 else 1)
        print(json.dumps({"step_bytes": step_bytes, "read_gb_s": bandwidth}))
        return 0
    else:
        print(__doc__, file=sys.stderr)
        return 64
    print(json.dumps({"prefill_s": prefill, "decode_s": decode, "decode_steps": steps, "batch": batch}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
