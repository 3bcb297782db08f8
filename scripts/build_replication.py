#!/usr/bin/env python3
"""Reproduces docs/replication.md end to end: task -> tokenizers -> initial models -> LLM -> SLM-alone baselines
-> LLM-to-SLM bundles (bundles/default, bundles/gpt2) -> evaluation table.

    .venv/bin/python scripts/build_replication.py [--work runs/replication] [--jobs 2] [--threads 1]

Stages whose output exists are skipped (delete it, or pass --force STAGE, to redo one); interrupted training
resumes from its checkpoint. Independent stages run --jobs at a time. The table lands in WORK/results.md.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable
S = ROOT / "scripts"

# Model sizes and training budget of the replication (docs/replication.md explains the choice). Every model,
# the LLM, each SLM alone and each LLM-to-SLM pair, trains for the same number of steps on the same batches.
LLM = dict(d_model=128, layers=4, heads=4, d_ff=512)
SLM = dict(d_model=32, layers=2, heads=4, d_ff=128)
# A still smaller T5 SLM (one encoder and one decoder layer), to show how the gap grows as the SLM shrinks.
SLM_TINY = dict(d_model=32, layers=1, heads=4, d_ff=128)
LLM_TRAIN = ["--steps", "6000", "--lr", "1.5e-3", "--warmup", "300", "--batch-size", "64"]
SLM_TRAIN = ["--steps", "6000", "--lr", "3e-3", "--warmup", "300", "--batch-size", "64"]


def stages(work: pathlib.Path, threads: int) -> list:
    """(name, dependencies, output that marks it done, command) in a valid order."""
    task, tok, init = work / "task", work / "tokenizers", work / "init"
    data = ["--train", str(task / "train.jsonl"), "--valid", str(task / "valid.jsonl")]
    common = ["--threads", str(threads), "--log-every", "100", "--eval-every", "1000", "--eval-examples", "100"]
    default, gpt2 = ROOT / "bundles" / "default", ROOT / "bundles" / "gpt2"
    tiny = work / "bundles" / "t5-tiny"  # not shipped
    gpt2_bpe = work / "bundles" / "gpt2-bpe"  # not shipped: a GPT-2 SLM on its own byte-level BPE vocabulary

    def init_model(family, tokenizer, size, out):
        return [PY, S / "init_model.py", "--family", family, "--tokenizer", tokenizer, "--d-model",
                str(size["d_model"]), "--layers", str(size["layers"]), "--heads", str(size["heads"]), "--d-ff",
                str(size["d_ff"]), "--out", out]

    def baseline(model, out, budget):
        return [PY, S / "train_baseline.py", "--model", model, "--out", out, *data, *budget, *common]

    def finetune(slm, out, llm, llm_in_bundle, budget, tag):
        return [PY, S / "finetune.py", "--llm", llm, "--slm", slm, "--out", out, *data, *budget, *common,
                "--llm-in-bundle", llm_in_bundle, "--checkpoint", work / f"{tag}.checkpoint.pt"]

    def evaluate(flag, source, name):
        return [PY, S / "evaluate.py", flag, source, "--test", task / "test.jsonl", "--threads", str(threads),
                "--report", work / "eval" / f"{name}.json"]

    export_llm = [PY, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import bundle, checkpoints, torch, pathlib; "
                  "src, dst = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]); "
                  "bundle.save_model_dir(checkpoints.load_llm_encoder(src), src, dst, torch.float16)",
                  S / "l2s_py", work / "llm", default / "llm"]
    return [
        ("task", [], task / "test.jsonl", [PY, S / "task" / "make_task.py", "--out", task]),
        ("tokenizers", ["task"], tok / "bpe" / "merges.txt",
         [PY, S / "task" / "train_tokenizers.py", "--train", task / "train.jsonl", "--out", tok]),
        ("init-llm", ["tokenizers"], init / "llm" / "config.json",
         init_model("t5", tok / "sentencepiece", LLM, init / "llm")),
        ("init-slm-t5", ["tokenizers"], init / "slm-t5" / "config.json",
         init_model("t5", tok / "sentencepiece", SLM, init / "slm-t5")),
        ("init-slm-gpt2", ["tokenizers"], init / "slm-gpt2" / "config.json",
         init_model("gpt2", tok / "sentencepiece", SLM, init / "slm-gpt2")),
        ("init-slm-gpt2-bpe", ["tokenizers"], init / "slm-gpt2-bpe" / "config.json",
         init_model("gpt2", tok / "bpe", SLM, init / "slm-gpt2-bpe")),
        ("init-slm-t5-tiny", ["tokenizers"], init / "slm-t5-tiny" / "config.json",
         init_model("t5", tok / "sentencepiece", SLM_TINY, init / "slm-t5-tiny")),
        ("llm", ["init-llm"], work / "llm" / "model.safetensors", baseline(init / "llm", work / "llm", LLM_TRAIN)),
        ("slm-t5", ["init-slm-t5"], work / "slm-t5" / "model.safetensors",
         baseline(init / "slm-t5", work / "slm-t5", SLM_TRAIN)),
        ("slm-gpt2", ["init-slm-gpt2"], work / "slm-gpt2" / "model.safetensors",
         baseline(init / "slm-gpt2", work / "slm-gpt2", SLM_TRAIN)),
        ("slm-t5-tiny", ["init-slm-t5-tiny"], work / "slm-t5-tiny" / "model.safetensors",
         baseline(init / "slm-t5-tiny", work / "slm-t5-tiny", SLM_TRAIN)),
        ("slm-gpt2-bpe", ["init-slm-gpt2-bpe"], work / "slm-gpt2-bpe" / "model.safetensors",
         baseline(init / "slm-gpt2-bpe", work / "slm-gpt2-bpe", SLM_TRAIN)),
        ("export-llm", ["llm"], default / "llm" / "model.safetensors", export_llm),
        ("bundle-default", ["export-llm", "init-slm-t5"], default / "l2s.json",
         finetune(init / "slm-t5", default, default / "llm", "llm", SLM_TRAIN, "default")),
        ("bundle-gpt2", ["export-llm", "init-slm-gpt2"], gpt2 / "l2s.json",
         finetune(init / "slm-gpt2", gpt2, default / "llm", "../default/llm", SLM_TRAIN, "gpt2")),
        ("bundle-t5-tiny", ["export-llm", "init-slm-t5-tiny"], tiny / "l2s.json",
         finetune(init / "slm-t5-tiny", tiny, default / "llm", os.path.relpath(default / "llm", tiny), SLM_TRAIN,
                  "t5-tiny")),
        ("bundle-gpt2-bpe", ["export-llm", "init-slm-gpt2-bpe"], gpt2_bpe / "l2s.json",
         finetune(init / "slm-gpt2-bpe", gpt2_bpe, default / "llm", os.path.relpath(default / "llm", gpt2_bpe),
                  SLM_TRAIN, "gpt2-bpe")),
        ("eval-llm", ["llm"], work / "eval" / "llm.json", evaluate("--model", work / "llm", "llm")),
        ("eval-slm-t5", ["slm-t5"], work / "eval" / "slm-t5.json", evaluate("--model", work / "slm-t5", "slm-t5")),
        ("eval-slm-gpt2", ["slm-gpt2"], work / "eval" / "slm-gpt2.json",
         evaluate("--model", work / "slm-gpt2", "slm-gpt2")),
        ("eval-default", ["bundle-default"], work / "eval" / "default.json", evaluate("--bundle", default, "default")),
        ("eval-gpt2", ["bundle-gpt2"], work / "eval" / "gpt2.json", evaluate("--bundle", gpt2, "gpt2")),
        ("eval-slm-t5-tiny", ["slm-t5-tiny"], work / "eval" / "slm-t5-tiny.json",
         evaluate("--model", work / "slm-t5-tiny", "slm-t5-tiny")),
        ("eval-t5-tiny", ["bundle-t5-tiny"], work / "eval" / "t5-tiny.json", evaluate("--bundle", tiny, "t5-tiny")),
        ("eval-slm-gpt2-bpe", ["slm-gpt2-bpe"], work / "eval" / "slm-gpt2-bpe.json",
         evaluate("--model", work / "slm-gpt2-bpe", "slm-gpt2-bpe")),
        ("eval-gpt2-bpe", ["bundle-gpt2-bpe"], work / "eval" / "gpt2-bpe.json",
         evaluate("--bundle", gpt2_bpe, "gpt2-bpe")),
    ]


ROWS = [("llm", "LLM alone (T5, d_model 128, 4+4 layers)"),
        ("slm-t5", "SLM alone: T5 (d_model 32, 2+2 layers)"),
        ("default", "LLM-to-SLM: that T5 SLM, add (`bundles/default`)"),
        ("slm-gpt2", "SLM alone: GPT-2 (n_embd 32, 2 layers)"),
        ("gpt2", "LLM-to-SLM: that GPT-2 SLM, add (`bundles/gpt2`)"),
        ("slm-t5-tiny", "SLM alone: T5 (d_model 32, 1+1 layers)"),
        ("t5-tiny", "LLM-to-SLM: that T5 SLM, add"),
        ("slm-gpt2-bpe", "SLM alone: GPT-2 (n_embd 32, 2 layers) on its own byte-level BPE"),
        ("gpt2-bpe", "LLM-to-SLM: that GPT-2 SLM, projection_only")]


def table(work: pathlib.Path) -> str:
    lines = ["| system | trained parameters | BLEU | exact match % |", "|---|---:|---:|---:|"]
    for name, label in ROWS:
        path = work / "eval" / f"{name}.json"
        if not path.exists():
            lines.append(f"| {label} | not run | | |")
            continue
        r = json.loads(path.read_text())
        trained = r["parameters_slm"] + r.get("parameters_projector", 0)
        lines.append(f"| {label} | {trained:,} | {r['bleu']:.2f} | {r['exact_match']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "runs" / "replication", help="work directory")
    parser.add_argument("--jobs", type=int, default=1, help="stages run at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per stage")
    parser.add_argument("--force", action="append", default=[], help="redo this stage (repeatable)")
    args = parser.parse_args()
    plan = stages(args.work.resolve(), args.threads)
    (args.work / "logs").mkdir(parents=True, exist_ok=True)
    done = {name for name, _, output, _ in plan if output.exists() and name not in args.force}
    running, failed = {}, []
    while len(done) + len(failed) < len(plan):
        for name, deps, output, command in plan:
            if name in done or name in running or len(running) >= args.jobs or not set(deps) <= done:
                continue
            log = args.work / "logs" / f"{name}.log"
            checkpoint = args.work / name / "checkpoint.pt"
            command = [str(c) for c in command]
            if checkpoint.exists() and "train_baseline.py" in command[1]:
                command += ["--resume", str(checkpoint)]
            print(f"build_replication: {name} (log {log})", flush=True)
            running[name] = (subprocess.Popen(command, stdout=open(log, "a"), stderr=subprocess.STDOUT, cwd=ROOT),
                             time.time())
        if not running:
            failed = [name for name, _, _, _ in plan if name not in done]
            break
        time.sleep(2)
        for name, (process, began) in list(running.items()):
            if process.poll() is not None:
                del running[name]
                status = "done" if process.returncode == 0 else f"FAILED (exit {process.returncode})"
                print(f"build_replication: {name} {status} in {(time.time() - began) / 60:.1f} min", flush=True)
                (done.add(name) if process.returncode == 0 else failed.append(name))
    (args.work / "results.md").write_text(table(args.work))
    print(table(args.work))
    if failed:
        print(f"build_replication: not done: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
