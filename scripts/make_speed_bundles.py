#!/usr/bin/env python3
r"""Writes random-weight LLM-to-SLM bundles at the paper's model shapes, and the LLM alone, for speed
measurements (scripts/bench-paper.sh). The weights are random: the outputs are meaningless, only the cost of
computing them is real. Never commit the output; it is several GB.

    .venv/bin/python scripts/make_speed_bundles.py OUTDIR [--dtype float32|float16] [--slm t5-small|gpt2]

What OUTDIR receives (each entry is written once, under a temporary name renamed at the end, and reused when
present; delete an entry to rewrite it):

    llm-t5-large/                  the LLM alone: full T5ForConditionalGeneration (encoder + decoder), float32,
                                   t5-large shape, with the shipped spiece.model (l2s run --model, PyTorch)
    llm-t5-large-ct2-float32/      its CTranslate2 conversion (tokens are named t<id>)
    llm-t5-large-ct2-int8/         the same, int8 weights
    llm-t5-large-encoder-DTYPE/    the same LLM's encoder alone in DTYPE (the bundles' LLM, as shipped bundles)
    t5-large-t5-small-DTYPE/       bundle: t5-small-shaped T5 SLM, projector 1024 -> 512 -> 512, prompt_input add
    t5-large-gpt2-DTYPE/           bundle: GPT-2 (124M shape) SLM, projector 1024 -> 768 -> 768, prompt_input add

Shapes: LLM d_model 1024, 16 heads of 64, d_ff 4096, 24 + 24 layers, ReLU (T5 v1.0, as t5-large); T5 SLM
d_model 512, 8 heads of 64, d_ff 2048, 6 + 6 layers, ReLU (t5-small); GPT-2 SLM n_embd 768, 12 heads,
12 layers, 1024 positions (gpt2). The vocabulary of every model is the shipped SentencePiece model's size
(bundles/default/llm/spiece.model), so that text prompts tokenize into it, every generated id detokenizes, and
prompt_input add (which needs one vocabulary) holds for both SLMs, as in bundles/gpt2. That vocabulary is much
smaller than the real models' (32128 for T5, 50257 for GPT-2), so embeddings and output heads are smaller
than the real ones: per generated token the t5-small SLM reads ~40 % fewer weight bytes than the real
t5-small would, the GPT-2 SLM ~30 % fewer than the real gpt2, the LLM alone ~8 % fewer than the real t5-large
(the ratios of scripts/bench-paper.sh lean towards the SLMs by about that much).

Every bundle is validated by scripts/l2s_py/bundle.py after writing, and (unless --no-verify) loaded by the
Swift binary: `l2s run --bundle DIR "these dogs do not wave a clock" --max-new-tokens 4 --json --threads 1`,
and the LLM alone with `l2s run --model`.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "scripts" / "l2s_py"))

TOKENIZER_SOURCE = ROOT / "bundles" / "default" / "llm"
VERIFY_PROMPT = "these dogs do not wave a clock"
DTYPES = ("float32", "float16")
SLMS = ("t5-small", "gpt2")
PAD, EOS, UNK = 0, 1, 2           # T5 SentencePiece convention (docs/bundle.md)
# (decoder_start_token_id, eos_token_id) per SLM family, as the shipped bundles have them.
SLM_SPECIAL = {"t5-small": (0, EOS), "gpt2": (EOS, EOS)}
SEEDS = {"llm": 1, "t5-small": 2, "gpt2": 3}

LLM_DIR = "llm-t5-large"


def log(message: str) -> None:
    print(f"make_speed_bundles: {message}", file=sys.stderr, flush=True)


def size_of(path: pathlib.Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 1e9:.2f} GB" if total >= 1e8 else f"{total / 1e6:.1f} MB"


def vocabulary_size() -> int:
    import sentencepiece

    model = TOKENIZER_SOURCE / "spiece.model"
    if not model.exists():
        raise SystemExit(f"make_speed_bundles: {model} is missing (the shipped tokenizer)")
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    if (processor.pad_id(), processor.eos_id(), processor.unk_id()) != (PAD, EOS, UNK):
        raise SystemExit(f"make_speed_bundles: {model}: pad/eos/unk ids {processor.pad_id()}/{processor.eos_id()}/"
                         f"{processor.unk_id()}, expected {PAD}/{EOS}/{UNK}")
    return processor.get_piece_size()


class Step:
    """One output entry: skipped when OUTDIR/name exists, else built in OUTDIR/name.partial and renamed."""

    def __init__(self, out: pathlib.Path, name: str, number: int, total: int):
        self.final = out / name
        self.partial = out / (name + ".partial")
        self.label = f"[{number}/{total}] {name}"

    def __enter__(self):
        if self.final.exists():
            log(f"{self.label}: present, reusing ({size_of(self.final)}; delete it to rewrite)")
            return None
        if self.partial.exists():
            shutil.rmtree(self.partial)
        log(f"{self.label}: writing ...")
        self.start = time.perf_counter()
        return self.partial

    def __exit__(self, kind, value, traceback):
        if kind is None and self.partial.exists():
            self.partial.rename(self.final)
            log(f"{self.label}: done in {time.perf_counter() - self.start:.0f} s ({size_of(self.final)})")
        return False


def llm_config(vocab: int):
    from transformers import T5Config

    return T5Config(vocab_size=vocab, d_model=1024, d_kv=64, d_ff=4096, num_layers=24, num_decoder_layers=24,
                    num_heads=16, feed_forward_proj="relu", dropout_rate=0.0, tie_word_embeddings=True,
                    pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD)


def slm_model(kind: str, vocab: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    torch.manual_seed(SEEDS[kind])
    if kind == "t5-small":
        config = T5Config(vocab_size=vocab, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                          num_heads=8, feed_forward_proj="relu", dropout_rate=0.0, tie_word_embeddings=True,
                          pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD)
        return T5ForConditionalGeneration(config).eval()
    config = GPT2Config(vocab_size=vocab, n_positions=1024, n_embd=768, n_layer=12, n_head=12, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=EOS, eos_token_id=EOS, pad_token_id=EOS)
    return GPT2LMHeadModel(config).eval()


def write_llm(out: pathlib.Path, vocab: int, target: pathlib.Path) -> None:
    import torch
    from transformers import T5ForConditionalGeneration

    import bundle

    torch.manual_seed(SEEDS["llm"])
    log(f"  initialising a random t5-large-shaped T5 (vocabulary {vocab}) ...")
    model = T5ForConditionalGeneration(llm_config(vocab)).eval()
    log(f"  {sum(p.numel() for p in model.parameters()):,} parameters; saving float32 ...")
    bundle.save_model_dir(model, TOKENIZER_SOURCE, target, torch.float32)


def write_llm_encoder(llm: pathlib.Path, target: pathlib.Path, dtype: str) -> None:
    from transformers import T5EncoderModel

    import bundle

    encoder = T5EncoderModel.from_pretrained(llm).eval()
    bundle.save_model_dir(encoder, llm, target, bundle.EXPORT_DTYPES[dtype])


def write_ct2(llm: pathlib.Path, target: pathlib.Path, vocab: int, quantization: str) -> None:
    import bench_models

    bench_models.convert_ct2(llm, target, vocab, (PAD, EOS, EOS, UNK), quantization)


def write_bundle(target: pathlib.Path, llm_name: str, kind: str, slm, projector, dtype: str, wire_dtype: str,
                 final_name: str) -> None:
    import bundle

    torch_dtype = bundle.EXPORT_DTYPES[dtype]
    bundle.save_model_dir(slm, TOKENIZER_SOURCE, target / "slm", torch_dtype)
    bundle.save_projector(projector, target / "projector.safetensors", torch_dtype)
    start, eos = SLM_SPECIAL[kind]
    family = "encoder_decoder" if kind == "t5-small" else "decoder_only"
    # llm.path is relative to the bundle directory; OUTDIR/name.partial and OUTDIR/name share the parent.
    bundle.write_manifest(target, f"../{llm_name}", family, projector.in_proj.in_features,
                          projector.out_proj.out_features, "add", wire_dtype, start, eos)
    bundle.read_manifest(target)  # fingerprints, tokenizers, shapes: the Python loader's validation
    log(f"  {final_name}: l2s.json validated by scripts/l2s_py/bundle.py")


def verify(l2s: pathlib.Path, out: pathlib.Path, bundles: list) -> None:
    """Each bundle and the LLM alone must load and generate in the Swift binary."""
    checks = [(name, ["run", "--bundle", str(out / name), VERIFY_PROMPT]) for name in bundles]
    checks.append((LLM_DIR, ["run", "--model", str(out / LLM_DIR), "--input-ids", "100,200,300,1"]))
    for name, arguments in checks:
        command = [str(l2s), *arguments, "--max-new-tokens", "4", "--json", "--threads", "1"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"make_speed_bundles: verification failed for {out / name}: {' '.join(command)} "
                             f"exited {done.returncode}:\n{done.stderr.strip()}")
        try:
            result = json.loads(done.stdout.strip().splitlines()[-1])
            ids = result["ids"]
        except (IndexError, ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"make_speed_bundles: verification of {out / name}: no JSON result with \"ids\" from "
                             f"{' '.join(command)} ({error}); stdout: {done.stdout.strip()[:500]!r}") from error
        if not 1 <= len(ids) <= 4:
            raise SystemExit(f"make_speed_bundles: verification of {out / name}: {len(ids)} ids, expected 1..4")
        log(f"verified {name}: l2s run generated {ids} ({result.get('text', '')!r}) in "
            f"{time.perf_counter() - start:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=pathlib.Path, help="where to write (a temporary directory; never commit it)")
    parser.add_argument("--dtype", choices=DTYPES, action="append",
                        help="weight dtype of the bundles (repeatable; default both float32 and float16)")
    parser.add_argument("--slm", choices=SLMS, action="append",
                        help="which SLM bundles to write (repeatable; default both t5-small and gpt2)")
    parser.add_argument("--wire-dtype", choices=("float16", "bfloat16", "float32"), default="float16",
                        help="the bundles' wire_dtype (default float16, as scripts/finetune.py exports)")
    parser.add_argument("--no-ct2", action="store_true", help="skip the CTranslate2 conversions")
    parser.add_argument("--l2s", type=pathlib.Path, default=ROOT / ".build" / "release" / "l2s",
                        help="the l2s binary used to verify the outputs (default .build/release/l2s)")
    parser.add_argument("--no-verify", action="store_true", help="skip loading the outputs with l2s run")
    args = parser.parse_args()

    dtypes = list(dict.fromkeys(args.dtype or DTYPES))
    slms = list(dict.fromkeys(args.slm or SLMS))
    if not args.no_verify and not args.l2s.is_file():
        parser.error(f"--l2s {args.l2s}: no such binary (build it with `swift build -c release --product l2s`, "
                     f"or pass --no-verify)")
    out = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)

    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    vocab = vocabulary_size()
    log(f"writing to {out}: vocabulary {vocab} (the pieces of {TOKENIZER_SOURCE / 'spiece.model'}), bundle "
        f"dtypes {', '.join(dtypes)}, SLMs {', '.join(slms)}, wire dtype {args.wire_dtype}")
    plan = [LLM_DIR]
    if not args.no_ct2:
        plan += [f"{LLM_DIR}-ct2-float32", f"{LLM_DIR}-ct2-int8"]
    plan += [f"{LLM_DIR}-encoder-{dtype}" for dtype in dtypes]
    bundles = [f"t5-large-{kind}-{dtype}" for kind in slms for dtype in dtypes]
    plan += bundles
    total = len(plan)
    steps = iter(range(1, total + 1))
    started = time.perf_counter()

    llm = out / LLM_DIR
    with Step(out, LLM_DIR, next(steps), total) as target:
        if target:
            write_llm(out, vocab, target)
    if not args.no_ct2:
        for quantization in ("float32", "int8"):
            name = f"{LLM_DIR}-ct2-{quantization}"
            with Step(out, name, next(steps), total) as target:
                if target:
                    write_ct2(llm, target, vocab, quantization)
    for dtype in dtypes:
        with Step(out, f"{LLM_DIR}-encoder-{dtype}", next(steps), total) as target:
            if target:
                write_llm_encoder(llm, target, dtype)
    from model import Projector

    for kind in slms:
        slm = projector = None
        for dtype in dtypes:
            name = f"t5-large-{kind}-{dtype}"
            with Step(out, name, next(steps), total) as target:
                if not target:
                    continue
                if slm is None:  # one random SLM and projector per kind, saved in every dtype
                    slm = slm_model(kind, vocab)
                    torch.manual_seed(SEEDS[kind] + 100)
                    d_slm = slm.get_input_embeddings().embedding_dim
                    projector = Projector(llm_config(vocab).d_model, d_slm).eval()
                    log(f"  {kind}: {sum(p.numel() for p in slm.parameters()):,} parameters, projector "
                        f"{projector.in_proj.in_features} -> {d_slm} -> {d_slm}")
                write_bundle(target, f"{LLM_DIR}-encoder-{dtype}", kind, slm, projector, dtype, args.wire_dtype,
                             name)
    log(f"all {total} entries present ({size_of(out)} in {out}), {time.perf_counter() - started:.0f} s")
    if not args.no_verify:
        verify(args.l2s, out, bundles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
