#!/usr/bin/env python3
"""What each `--weights` choice costs in quality, measured on the l2s binary as built (docs/kernels.md).

For each shipped bundle and each weight storage it reports, against `--weights float32` of the same binary:
BLEU and exact match on the replication's held-out test split (docs/replication.md: greedy, up to 64 new
tokens, sacrebleu corpus BLEU on the SLM tokenizer's decoding, whole-string exact match, as
scripts/l2s_py/generate.py computes them), the % of prompts whose generated ids equal float32's, and
max |Δlogit| over the generated steps (`l2s run --dump-logits`). The model fixtures of
Tests/Fixtures/models/* (one committed prompt each, 12 greedy tokens) get max |Δlogit|, id agreement and
whether the ids still equal the committed expected.json. Nothing here knows what a choice does inside the
binary (step layers only, or the encoder's prompt pass as well): it measures whatever `--weights W` does.

    .venv/bin/python scripts/eval_weights.py --binary /tmp/l2s-eval/l2s \\
        [--bundles bundles/default,bundles/gpt2] [--weights float32,as-stored,bfloat16,int8] [--limit 0] \\
        [--logit-prompts 100] [--via cluster|run] [--json]

First measured on 2026-11-30 with exactly `cp .build/release/l2s /tmp/l2s-eval/l2s && .venv/bin/python
scripts/eval_weights.py --binary /tmp/l2s-eval/l2s` (every default: all 1,000 prompts, 100 with logits; about
two minutes on 2 shared cores). Its float32 rows reproduce docs/replication.md's bundle rows (99.26 BLEU / 97.4 %
exact for bundles/default, 98.11 / 93.9 % for bundles/gpt2), so the two evaluations agree.

How the test set is run (--via). `l2s run` takes one prompt per process and pays a bundle load each (~0.2 s
here), so by default the whole split goes through `l2s cluster --prompts FILE` (router + encoder + one decoder,
one thread each, prompts sent one at a time), with `L2S_WEIGHTS=W` in its environment: `l2s encoder` and
`l2s decoder` read their `--weights` from it. The decoder's start-up log line must name W. Then the first
--logit-prompts prompts also run through `l2s run --bundle B --weights W --json --dump-logits` (two processes
at a time): those give the logits, and their ids must equal the cluster's (column "run = cluster"), which checks
that the cluster path measured what `l2s run --weights W` does. `--via run` runs every prompt through `l2s run`
instead, two at a time, all with logits (one bundle load per prompt and configuration: minutes more).

Max |Δlogit| compares step t of W with step t of float32 only while the two have generated the same ids before
t (there is no forced decoding in the CLI): every step up to and including the first one whose greedy id
differs. "mean step max" is the mean over those steps of the largest |Δ| in the step's logits; "max |Δ| / σ"
the largest of a step's max |Δ| over the standard deviation of float32's logits at that step (scale-free, for
fixtures whose random logits differ in scale). Where the ids part, the note gives float32's margin there (its
logit of its own token minus its logit of the token W took): small margins mean the ids parted at near-ties.

The binary is copied into a private temporary directory first (the cluster starts children from the copy), so
a rebuild of --binary while this runs cannot mix two builds. The test split is runs/replication/task/test.jsonl
when it exists, else scripts/task/make_task.py writes it to a temporary directory (same seed: the held-out split
is the first 1,000 distinct pairs drawn: the same test.jsonl byte for byte whatever --train and --valid are).
No timing is measured: quality only.
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import numpy as np
import sacrebleu

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "l2s_py"))
from data import read_jsonl, text_tokenizer  # noqa: E402

REPLICATION_MAX_NEW_TOKENS = 64  # scripts/evaluate.py's default, which build_replication.py uses
DEFAULT_BUNDLES = "bundles/default,bundles/gpt2"
DEFAULT_WEIGHTS = "float32,as-stored,bfloat16,int8"
REFERENCE = "float32"
# Settings that would change what a run measures if the caller's environment had them.
SCRUBBED_ENV = ("L2S_WEIGHTS", "L2S_KERNELS", "L2S_THREADS", "L2S_BUNDLE", "L2S_MODEL", "L2S_BASE_PORT",
                "L2S_ROUTER", "L2S_ROUTER_DECODERS", "L2S_CURVE_SERVER_KEY", "L2S_CURVE_SECRET_FILE", "L2S_METRICS")


def fail(message):
    sys.exit(f"eval_weights: {message}")


def clean_env(weights=None):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["OPENBLAS_NUM_THREADS"] = "1"
    if weights is not None:
        env["L2S_WEIGHTS"] = weights
    return env


class RunError(Exception):
    pass


def l2s_run(binary, source, weights, prompt_args, max_new_tokens, dump_logits):
    """One `l2s run` (greedy, one thread) -> (ids, text, logits as float32 [steps, vocab] or None)."""
    command = [str(binary), "run", *source, *prompt_args, "--weights", weights, "--json", "--threads", "1",
               "--max-new-tokens", str(max_new_tokens)]
    if dump_logits:
        command.append("--dump-logits")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=clean_env())
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        raise RunError(message.removeprefix("l2s run: error: "))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    logits = np.asarray(result["logits"], dtype=np.float32) if dump_logits else None
    return result["ids"], result["text"], logits


def run_many(binary, source, weights, prompts, max_new_tokens, dump_logits, jobs):
    """`l2s run` for each prompt text, `jobs` processes at a time, results in input order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda p: l2s_run(binary, source, weights, [p], max_new_tokens, dump_logits),
                             prompts))


def free_base_port():
    """A port P with P, P+1, P+2 free on 127.0.0.1 (checked by binding; the cluster binds them right after)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        sockets = []
        try:
            for port in (base, base + 1, base + 2):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    fail("found no three consecutive free ports")


def cluster_run(binary, bundle, weights, prompts, max_new_tokens, workdir):
    """All prompts through `l2s cluster --prompts` with L2S_WEIGHTS=weights -> [(ids, text)] in input order."""
    prompt_file = workdir / "prompts.txt"
    prompt_file.write_text("".join(p + "\n" for p in prompts), encoding="utf-8")
    for attempt in range(3):
        command = [str(binary), "cluster", "--bundle", str(bundle), "--decoders", "1", "--threads", "1",
                   "--base-port", str(free_base_port()), "--prompts", str(prompt_file),
                   "--max-new-tokens", str(max_new_tokens)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=clean_env(weights))
        if done.returncode == 0 or "Address already in use" not in done.stderr:
            break
    (workdir / f"cluster-{bundle.name}-{weights}.log").write_text(done.stderr)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()] or done.stderr.splitlines()
        raise RunError(f"l2s cluster failed: {errors[-1] if errors else done.returncode}")
    announced = re.findall(r"decoder-\S+ info: loaded .*?weights (\S+?),", done.stderr)
    if not announced:
        raise RunError("l2s cluster: no decoder log line names its weights, so L2S_WEIGHTS may not have "
                       "reached it (try --via run)")
    if any(w != weights for w in announced):
        raise RunError(f"l2s cluster: decoder loaded weights {announced}, asked for {weights}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(lines) != len(prompts):
        raise RunError(f"l2s cluster printed {len(lines)} results for {len(prompts)} prompts")
    results = []
    for prompt, line in zip(prompts, lines):
        if line.get("prompt") != prompt or "result" not in line:
            raise RunError(f"l2s cluster: prompt {prompt!r}: {line.get('error', 'result out of order')}")
        results.append((line["result"]["ids"], line["result"]["text"]))
    return results


def bleu_exact(hypotheses, references):
    """The replication's metrics, as scripts/l2s_py/generate.py evaluate() computes them."""
    return (round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
            round(100.0 * sum(h == r for h, r in zip(hypotheses, references)) / len(references), 2))


def logit_delta(reference, candidate):
    """Per-step max |Δ| (and float32's logit std) over the steps both runs reached with the same ids before them,
    and, where the greedy ids part, how far float32 preferred its token over the one W took (its margin)."""
    (ref_ids, ref_logits), (ids, logits) = reference, candidate
    steps = min(len(ref_ids), len(ids), len(ref_logits), len(logits))
    compared, margin = steps, None
    for t in range(steps):
        if ref_ids[t] != ids[t]:
            compared = t + 1  # step t saw the same prefix; its choice is where they part
            margin = float(ref_logits[t][ref_ids[t]] - ref_logits[t][ids[t]])
            break
    return {"max": np.abs(logits[:compared] - ref_logits[:compared]).max(axis=1).tolist(),
            "std": ref_logits[:compared].std(axis=1).tolist(), "margin": margin}


def summarize_deltas(row, deltas):
    """The logit columns of a row from logit_delta() of each compared prompt."""
    maxima = [m for d in deltas for m in d["max"]]
    stds = [s for d in deltas for s in d["std"]]
    margins = [d["margin"] for d in deltas if d["margin"] is not None]
    row["logit_prompts"], row["logit_steps"] = len(deltas), len(maxima)
    row["max_abs_dlogit"] = max(maxima) if maxima else None
    row["mean_step_max_abs_dlogit"] = float(np.mean(maxima)) if maxima else None
    # Scale-free: the largest |Δ| of a step over the spread of float32's logits at that step.
    row["max_dlogit_over_std"] = max(m / s for m, s in zip(maxima, stds) if s > 0) if maxima else None
    row["divergences_in_logit_prompts"] = len(margins)
    row["largest_float32_margin_overturned"] = max(margins) if margins else None


def first_difference(a, b):
    for t, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return t
    return None if len(a) == len(b) else min(len(a), len(b))


def evaluate_bundle(binary, bundle, weight_list, rows, args, workdir):
    manifest = json.loads((bundle / "l2s.json").read_text())
    eos = manifest["eos_token_id"]
    detokenizer = text_tokenizer(bundle / manifest["slm"]["path"])
    prompts = [row["prompt"] for row in rows]
    references = [row["response"] for row in rows]
    logit_count = len(prompts) if args.via == "run" else min(args.logit_prompts, len(prompts))
    source = ["--bundle", str(bundle)]
    out, reference = [], None
    for weights in weight_list:
        row = {"source": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
               "kind": "bundle", "weights": weights, "prompts": len(prompts)}
        out.append(row)
        print(f"eval_weights: {row['source']} --weights {weights}", file=sys.stderr, flush=True)
        try:
            logged = run_many(binary, source, weights, prompts[:logit_count], REPLICATION_MAX_NEW_TOKENS, True,
                              args.jobs)
            if args.via == "run":
                generated = [(ids, text) for ids, text, _ in logged]
            else:
                generated = cluster_run(binary, bundle, weights, prompts, REPLICATION_MAX_NEW_TOKENS, workdir)
                row["run_equals_cluster"] = sum(g[0] == lg[0] for g, lg in zip(generated, logged))
                row["run_checked"] = logit_count
        except RunError as error:
            row["error"] = str(error)
            continue
        ids = [g[0] for g in generated]
        # The replication's hypothesis: the SLM tokenizer's decoding of the ids before EOS.
        hypotheses = [detokenizer.decode(i[:i.index(eos)] if eos in i else i) for i in ids]
        row["text_differs_from_l2s"] = sum(h != g[1] for h, g in zip(hypotheses, generated))
        row["bleu"], row["exact_match"] = bleu_exact(hypotheses, references)
        row["generated_tokens"] = sum(len(i) for i in ids)
        logits = [(lg[0], lg[2]) for lg in logged]
        if weights == REFERENCE:
            reference = {"ids": ids, "logits": logits, "bleu": row["bleu"], "exact_match": row["exact_match"]}
        if reference is None:
            continue
        row["ids_equal_float32"] = round(100.0 * sum(a == b for a, b in zip(ids, reference["ids"])) / len(ids), 2)
        row["bleu_change"] = round(row["bleu"] - reference["bleu"], 2)
        row["exact_match_change"] = round(row["exact_match"] - reference["exact_match"], 2)
        summarize_deltas(row, [logit_delta(ref, cand) for ref, cand in zip(reference["logits"], logits)])
    return out


def evaluate_fixture(binary, directory, weight_list, args):
    expected = json.loads((directory / "expected.json").read_text())
    prompt = ["--input-ids", ",".join(map(str, expected["prompt"]))]
    steps = len(expected["generate_ids"])
    out, reference = [], None
    for weights in weight_list:
        row = {"source": str(directory.relative_to(ROOT) if directory.is_relative_to(ROOT) else directory),
               "kind": "fixture", "weights": weights, "prompts": 1}
        out.append(row)
        try:
            ids, _, logits = l2s_run(binary, ["--model", str(directory)], weights, prompt, steps, True)
        except RunError as error:
            row["error"] = str(error)
            continue
        row["ids"] = ids
        row["ids_equal_expected"] = ids == expected["generate_ids"]
        if weights == REFERENCE:
            reference = (ids, logits)
        if reference is None:
            continue
        row["ids_equal_float32"] = 100.0 if ids == reference[0] else 0.0
        row["first_difference"] = first_difference(ids, reference[0])
        summarize_deltas(row, [logit_delta(reference, (ids, logits))])
    return out


def test_split(args, workdir):
    if args.test:
        return pathlib.Path(args.test)
    built = ROOT / "runs" / "replication" / "task" / "test.jsonl"
    if built.exists():
        return built
    task = workdir / "task"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "task" / "make_task.py"), "--out", str(task),
                    "--train", "0", "--valid", "0"], check=True, stdout=subprocess.DEVNULL)
    return task / "test.jsonl"


def number(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def dlogit(value):
    return "–" if value is None else ("0" if value == 0 else f"{value:.3g}")


def markdown(rows):
    lines = ["| model | weights | prompts | BLEU (Δ) | exact % (Δ) | ids = float32 % | max \\|Δlogit\\| "
             "| mean step max | max \\|Δ\\| / σ | logit prompts / steps | note |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['source']} | {r['weights']} |{' – |' * 8} l2s refused or failed: {r['error']} |")
            continue
        if r["kind"] == "bundle":
            bleu = number(r["bleu"]) + (f" ({r['bleu_change']:+.2f})" if r["weights"] != REFERENCE
                                        and "bleu_change" in r else "")
            exact = number(r["exact_match"], 1) + (f" ({r['exact_match_change']:+.1f})" if r["weights"] != REFERENCE
                                                   and "exact_match_change" in r else "")
            notes = []
            if "run_checked" in r:
                notes.append(f"run = cluster {r['run_equals_cluster']}/{r['run_checked']}")
            if r.get("text_differs_from_l2s"):
                notes.append(f"l2s text differs from the replication's decoding on {r['text_differs_from_l2s']}")
            if r.get("largest_float32_margin_overturned") is not None:
                notes.append(f"in the logit prompts {r['divergences_in_logit_prompts']} part from float32 where "
                             f"its margin was ≤ {r['largest_float32_margin_overturned']:.3g}")
        else:
            bleu = exact = "–"
            notes = ["ids = expected.json" if r["ids_equal_expected"] else "ids ≠ expected.json"]
            if r.get("first_difference") is not None:
                margin = r.get("largest_float32_margin_overturned")
                notes.append(f"parts from float32 at step {r['first_difference']}"
                             + (f" (float32's margin there {margin:.3g})" if margin is not None else ""))
        lines.append(f"| {r['source']} | {r['weights']} | {r['prompts']} | {bleu} | {exact} | "
                     f"{number(r.get('ids_equal_float32'), 1)} | {dlogit(r.get('max_abs_dlogit'))} | "
                     f"{dlogit(r.get('mean_step_max_abs_dlogit'))} | {dlogit(r.get('max_dlogit_over_std'))} | "
                     f"{r.get('logit_prompts', '–')} / {r.get('logit_steps', '–')} | {'; '.join(notes)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / ".build" / "release" / "l2s"), help="the l2s to measure")
    parser.add_argument("--bundles", default=DEFAULT_BUNDLES, help="comma-separated bundle directories")
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS,
                        help="comma-separated --weights values (float32, the reference, is always run first)")
    parser.add_argument("--limit", type=int, default=0, help="first N held-out test prompts (0 = all 1,000)")
    parser.add_argument("--logit-prompts", type=int, default=100,
                        help="with --via cluster: first N prompts also run through `l2s run --dump-logits`")
    parser.add_argument("--via", choices=("cluster", "run"), default="cluster",
                        help="how the test split runs: one `l2s cluster --prompts`, or `l2s run` per prompt")
    parser.add_argument("--jobs", type=int, default=2, help="`l2s run` processes at a time")
    parser.add_argument("--fixtures", default=",".join(sorted(str(p.relative_to(ROOT)) for p in
                                                           (ROOT / "Tests" / "Fixtures" / "models").iterdir()
                                                           if (p / "expected.json").exists())),
                        help="comma-separated model fixture directories ('' = none)")
    parser.add_argument("--test", help="test split JSONL {prompt, response} (default: the replication's)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()

    source_binary = pathlib.Path(args.binary)
    if not source_binary.exists():
        fail(f"{source_binary} not found")
    weight_list = [REFERENCE] + [w for w in args.weights.split(",") if w and w != REFERENCE]
    with tempfile.TemporaryDirectory(prefix="l2s-eval-weights-") as tmp:
        workdir = pathlib.Path(tmp)
        binary = workdir / "l2s"
        shutil.copy2(source_binary, binary)
        digest = hashlib.sha256(binary.read_bytes()).hexdigest()
        version = json.loads(subprocess.run([str(binary), "version", "--json"], capture_output=True, text=True,
                                            check=True, env=clean_env()).stdout)
        split = test_split(args, workdir)
        rows = read_jsonl(split, args.limit)
        results = []
        for name in filter(None, args.fixtures.split(",")):
            directory = (ROOT / name) if not pathlib.Path(name).is_absolute() else pathlib.Path(name)
            print(f"eval_weights: {name}", file=sys.stderr, flush=True)
            results += evaluate_fixture(binary, directory, weight_list, args)
        for name in filter(None, args.bundles.split(",")):
            bundle = (ROOT / name) if not pathlib.Path(name).is_absolute() else pathlib.Path(name)
            results += evaluate_bundle(binary, bundle, weight_list, rows, args, workdir)

    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]]),
              "binary": str(source_binary.resolve()), "binary_sha256": digest, "version": version,
              "test_split": str(split) if args.test or split.is_relative_to(ROOT) else
              "scripts/task/make_task.py (seed 1234) test split, regenerated",
              "test_prompts": len(rows), "max_new_tokens": REPLICATION_MAX_NEW_TOKENS, "via": args.via,
              "rows": [{k: v for k, v in r.items() if k != "ids"} for r in results]}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{report['date']}, binary {report['binary']} (sha256 {digest[:12]}, {version.get('software')}, "
          f"kernels {version.get('kernels')}), {len(rows)} held-out prompts, greedy, up to "
          f"{REPLICATION_MAX_NEW_TOKENS} new tokens, via {args.via}\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
