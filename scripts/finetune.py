#!/usr/bin/env python3
r"""LLM-to-SLM fine-tuning (arXiv 2402.16844): trains a projector and an SLM conditioned on a frozen LLM encoder
on a JSONL dataset of {"prompt", "response"} pairs, evaluates, and exports an l2s bundle (docs/bundle.md).

    .venv/bin/python scripts/finetune.py --llm LLM_DIR --slm SLM_DIR --train train.jsonl --valid valid.jsonl \
        --test test.jsonl --out bundles/mine --steps 3000 --threads 2

LLM_DIR: a local Hugging Face T5 checkpoint (seq2seq or encoder-only) with spiece.model, the prompt tokenizer.
SLM_DIR: a local T5 or GPT-2 checkpoint with its tokenizer (spiece.model, or vocab.json + merges.txt).
The LLM never trains (eval mode, no grad); its encoder weights are first rounded to --export-dtype so the
SLM learns against exactly the weights that ship. Interrupted runs continue with --resume OUT.checkpoint.pt.
"""
import argparse
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "l2s_py"))
import bundle as bundle_format  # noqa: E402
import train as training  # noqa: E402
from checkpoints import load_hf_model, load_llm_encoder  # noqa: E402
from data import encode_rows, read_jsonl, text_tokenizer  # noqa: E402
from generate import evaluate  # noqa: E402
from model import ConditionedSLM, Projector  # noqa: E402


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", type=pathlib.Path, required=True, help="frozen LLM: HF T5 checkpoint directory")
    parser.add_argument("--slm", type=pathlib.Path, required=True, help="SLM to fine-tune: HF T5 or GPT-2 directory")
    parser.add_argument("--train", type=pathlib.Path, required=True, help="training JSONL {prompt, response}")
    parser.add_argument("--valid", type=pathlib.Path, required=True, help="validation JSONL")
    parser.add_argument("--test", type=pathlib.Path, help="held-out JSONL evaluated on the exported bundle")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="bundle directory to write")
    parser.add_argument("--prompt-input", choices=("auto", "add", "projection_only"), default="auto",
                        help="add: E_slm(x)+Z (needs one vocabulary); projection_only: Z; auto: add iff the "
                             "tokenizers are identical (default)")
    parser.add_argument("--wire-dtype", choices=("float16", "bfloat16", "float32"), default="float16",
                        help="dtype of the encoding on the wire; training and reference round it (default float16)")
    parser.add_argument("--projector-runs-on", choices=("encoder", "decoder"), default="encoder",
                        help="encoder: the encoder service projects and ships Z = wire(P) [m, d_slm] (default); "
                             "decoder: it ships Hw = wire(H) [m, d_llm] and the decoder projects, so bundles "
                             "trained on one frozen LLM can share an encoder service and its cache (wider on the "
                             "wire). Training rounds where the wire does: P, or H (and then not P)")
    parser.add_argument("--export-dtype", choices=tuple(bundle_format.EXPORT_DTYPES), default="float16",
                        help="dtype of the exported weights (float32 for fixtures)")
    parser.add_argument("--llm-in-bundle", default="copy",
                        help="'copy' writes the LLM encoder into OUT/llm; a relative path (e.g. ../default/llm) "
                             "references an existing directory, which must be --llm itself")
    parser.add_argument("--no-cache-encodings", action="store_true",
                        help="recompute H every step instead of once per training example (saves memory)")
    parser.add_argument("--checkpoint", type=pathlib.Path, help="resume checkpoint path (default OUT.checkpoint.pt)")
    parser.add_argument("--report", type=pathlib.Path, help="write the evaluation JSON here")
    parser.add_argument("--timing-examples", type=int, default=100, help="batch-1 latency over N test examples")
    parser.add_argument("--max-prompt", type=int, default=96, help="prompt tokens kept")
    parser.add_argument("--max-answer", type=int, default=96, help="response tokens kept")
    training.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    log = lambda line: print(f"finetune: {line}", flush=True)  # noqa: E731
    if args.llm_in_bundle != "copy":
        linked = (args.out / args.llm_in_bundle).resolve()
        if linked != args.llm.resolve():
            log(f"--llm-in-bundle {args.llm_in_bundle} resolves to {linked}, expected --llm {args.llm.resolve()}")
            return 64
    export_dtype = bundle_format.EXPORT_DTYPES[args.export_dtype]

    llm = load_llm_encoder(args.llm)
    llm.to(export_dtype).to(torch.float32)
    slm, kind = load_hf_model(args.slm)
    prompt_tokenizer, answer_tokenizer = text_tokenizer(args.llm), text_tokenizer(args.slm)
    same_vocabulary = (bundle_format.sha256_files([args.llm / n for n in bundle_format.tokenizer_files(args.llm)]) ==
                       bundle_format.sha256_files([args.slm / n for n in bundle_format.tokenizer_files(args.slm)]))
    prompt_input = args.prompt_input if args.prompt_input != "auto" else (
        "add" if same_vocabulary else "projection_only")
    if prompt_input == "add" and not same_vocabulary:
        log("--prompt-input add needs the SLM to share the LLM's tokenizer (identical files); use projection_only")
        return 64
    start = slm.config.decoder_start_token_id if kind == "encoder_decoder" else answer_tokenizer.eos_id
    d_llm, d_slm = llm.config.d_model, slm.get_input_embeddings().embedding_dim
    model = ConditionedSLM(slm, kind, start, answer_tokenizer.eos_id, llm, Projector(d_llm, d_slm), prompt_input,
                           args.wire_dtype, args.projector_runs_on)
    log(f"LLM {args.llm} (d_model {d_llm}, frozen) -> projector {d_llm}->{d_slm} on the {args.projector_runs_on} "
        f"-> {kind} SLM {args.slm}, prompt_input {prompt_input}, wire {args.wire_dtype}")

    encode = lambda path: encode_rows(read_jsonl(path), prompt_tokenizer, answer_tokenizer,  # noqa: E731
                                      args.max_prompt, args.max_answer)
    train, valid = encode(args.train), encode(args.valid)
    if not args.no_cache_encodings:
        log(f"encoding {len(train)} training prompts with the frozen LLM once")
        model.cache_hidden(train)
    checkpoint = args.checkpoint or args.out.with_name(args.out.name + ".checkpoint.pt")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    training.run(model, train, valid, answer_tokenizer.decode, args, checkpoint, log=log)

    export(model, llm, args, prompt_input, kind, start, answer_tokenizer.eos_id, export_dtype)
    log(f"bundle written to {args.out}")
    if args.test:
        reloaded, _, tokenizer, _ = bundle_format.load_bundle(args.out)
        result = evaluate(reloaded, encode(args.test), tokenizer.decode, args.max_new_tokens,
                          timing_examples=args.timing_examples)
        log(f"test (exported bundle): bleu {result['bleu']} exact {result['exact_match']}% "
            f"batch-1 {result.get('ms_per_example_batch1')} ms/example")
        if args.report:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def export(model, llm, args, prompt_input, kind, start, eos, dtype) -> None:
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.llm_in_bundle == "copy":
        bundle_format.save_model_dir(llm, args.llm, out / "llm", dtype)
        llm_path = "llm"
    else:
        llm_path = args.llm_in_bundle
    bundle_format.save_model_dir(model.slm, args.slm, out / "slm", dtype)
    bundle_format.save_projector(model.projector, out / "projector.safetensors", dtype)
    bundle_format.write_manifest(out, llm_path, kind, model.projector.in_proj.in_features,
                                 model.projector.out_proj.out_features, prompt_input, args.wire_dtype, start, eos,
                                 args.projector_runs_on)


if __name__ == "__main__":
    sys.exit(main())
