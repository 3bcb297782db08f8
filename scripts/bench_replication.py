#!/usr/bin/env python3
"""Generation time of the replication table's systems, measured by l2s (docs/replication.md).

For the first N held-out test prompts, runs each system with `l2s run` (its own process per prompt, one
OpenBLAS thread, best of --repeat runs after loading, as reported by `--timings`) and prints, per system, the
mean prefill and decode milliseconds per prompt and the ratio to the LLM alone. The checkpoints other than the
shipped bundles come from `scripts/build_replication.py` (default: runs/replication).

    .venv/bin/python scripts/bench_replication.py [--runs runs/replication] [--prompts 30] [--repeat 3]
"""
import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def l2s(binary, *args):
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"bench_replication: l2s {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def timed(binary, source, ids, repeat, max_new):
    done = l2s(binary, "run", *source, "--input-ids", ",".join(map(str, ids)), "--json", "--threads", "1",
               "--repeat", str(repeat), "--timings", "--max-new-tokens", str(max_new))
    timings = json.loads(done.stderr.strip().splitlines()[-1])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return timings["prefill_s"], timings["decode_s"], len(result["ids"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=str(ROOT / "runs" / "replication"), help="build_replication.py output")
    parser.add_argument("--prompts", type=int, default=30, help="held-out prompts to time")
    parser.add_argument("--repeat", type=int, default=3, help="runs per prompt; the fastest counts")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--l2s", default=str(ROOT / ".build" / "release" / "l2s"))
    args = parser.parse_args()
    runs = pathlib.Path(args.runs)
    binary = pathlib.Path(args.l2s)
    if not binary.exists():
        sys.exit(f"bench_replication: {binary} not found; run `swift build -c release --product l2s`")
    test = [json.loads(line)["prompt"] for line in (runs / "task" / "test.jsonl").read_text().splitlines()]
    prompts = test[: args.prompts]
    llm_ids = [[int(i) for i in l2s(binary, "tokenize", "--model", str(ROOT / "bundles/default/llm"), p)
                .stdout.strip().split(",")] for p in prompts]
    # GPT-2 alone reads the prompt's ids (the LLM's SentencePiece, ending in </s>), then the separator </s> (id 1).
    gpt2_ids = [ids + [1] for ids in llm_ids]
    systems = [
        ("LLM alone (T5 d128 4+4)", ["--model", str(runs / "llm")], llm_ids),
        ("T5 SLM alone (d32 2+2)", ["--model", str(runs / "slm-t5")], llm_ids),
        ("LLM-to-SLM, T5 SLM (bundles/default)", ["--bundle", str(ROOT / "bundles/default")], llm_ids),
        ("GPT-2 SLM alone (d32, 2 layers)", ["--model", str(runs / "slm-gpt2")], gpt2_ids),
        ("LLM-to-SLM, GPT-2 SLM (bundles/gpt2)", ["--bundle", str(ROOT / "bundles/gpt2")], llm_ids),
    ]
    rows = []
    for name, source, ids in systems:
        prefill = decode = tokens = 0.0
        for prompt_ids in ids:
            p, d, n = timed(binary, source, prompt_ids, args.repeat, args.max_new_tokens)
            prefill, decode, tokens = prefill + p, decode + d, tokens + n
        count = len(ids)
        rows.append((name, 1000 * prefill / count, 1000 * decode / count, 1000 * decode / max(1, tokens)))
        print(f"measured {name}", file=sys.stderr, flush=True)
    base = rows[0][1] + rows[0][2]
    print(f"{'system':40} {'prefill ms':>10} {'decode ms':>10} {'ms/token':>9} {'total vs LLM':>13}")
    for name, prefill, decode, per_token in rows:
        print(f"{name:40} {prefill:10.3f} {decode:10.3f} {per_token:9.4f} {(prefill + decode) / base:12.2f}x")


if __name__ == "__main__":
    main()
