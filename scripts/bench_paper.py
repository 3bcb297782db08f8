#!/usr/bin/env python3
r"""Helper of scripts/bench-paper.sh: the prompt, one engine per process, and the table.

    bench_paper.py prompt --length L --variant V           L prompt ids (SentencePiece pieces of docs/bench-prompts.txt
                                                           sentences, the last one </s>); variants differ
    bench_paper.py l2s-run --l2s BIN (--model DIR | --bundle DIR) --ids IDS --new N --threads T --samples K ...
    bench_paper.py torch MODEL_DIR --ids IDS --new N --threads T --samples K ...
    bench_paper.py ct2 CT2_DIR --compute-type float32|int8 --ids IDS --new N --threads T --samples K ...
    bench_paper.py cluster-row --report FILE --cpu-before JSON --cpu-after JSON --cache miss|hit ...
    bench_paper.py table ROWS.jsonl                        the markdown table, speed-ups over the LLM-alone rows

Every engine subcommand prints one JSON row on stdout (progress on stderr); bench-paper.sh collects the rows in
a file and renders them with `table`. A row holds the job count, time to first token (TTFT) and end-to-end
latency percentiles (nearest rank, as `l2s bench`), per-token latency (mean over jobs of
(end-to-end - TTFT) / (N - 1)), and tokens/s (tokens generated / time spent generating them; for the
single-process engines, which run jobs one after the other, N / mean end-to-end latency).

Every engine must generate exactly N tokens per job (greedy, EOS suppressed until N exist); a job with another
count is an error, not a row.

Single-process engines and how each job is timed:
- l2s-run: K processes `l2s run ... --repeat 2 --timings` (a first run that pages the memory-mapped weights in,
  then the measured one; l2s reports the faster of the two for prefill and for decode). TTFT = prefill (the
  prompt pass and the first token), end-to-end = prefill + decode.
- torch: transformers `generate` (greedy, min_new_tokens = max_new_tokens = N), one warm-up job, then K jobs;
  TTFT = the streamer's first generated token.
- ct2: `translate_batch` (beam 1, min = max decoding length); one warm-up, then K jobs, each timed twice: to one
  token (TTFT) and to N tokens (end-to-end).
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPIECE = ROOT / "bundles" / "default" / "llm" / "spiece.model"
PROMPTS = ROOT / "docs" / "bench-prompts.txt"
EOS = 1


def log(message):
    print(f"bench_paper: {message}", file=sys.stderr, flush=True)


def fail(message):
    raise SystemExit(f"bench_paper: {message}")


def parse_ids(text):
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        fail(f"--ids {text[:80]!r}: expected comma-separated integers")
    if not ids or min(ids) < 0:
        fail("--ids: expected at least one non-negative id")
    return ids


def percentile(values, fraction):
    """Nearest rank, as `l2s bench` (LoadReport.Percentiles) computes it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(values_ms):
    return {"p50": percentile(values_ms, 0.50), "p99": percentile(values_ms, 0.99),
            "mean": sum(values_ms) / len(values_ms)}


def sequential_row(args, engine, samples, extra=None):
    """A row from jobs run one after the other: samples = [(ttft_s, e2e_s)]."""
    ttft = [1000 * first for first, _ in samples]
    e2e = [1000 * total for _, total in samples]
    row = {"path": args.path, "engine": engine, "model": args.label, "weights": args.weights,
           "threads": args.threads_note, "concurrency": 1, "cache": "-", "jobs": len(samples), "failed": 0,
           "new_tokens": args.new, "prompt_tokens": len(args.ids), "ttft_ms": summary(ttft), "e2e_ms": summary(e2e),
           "ms_per_token": sum(total - first for first, total in zip(ttft, e2e)) / len(samples) / (args.new - 1),
           "tokens_per_s": args.new * len(samples) / (sum(e2e) / 1000), "cpu_us_per_token": None}
    row.update(extra or {})
    return row


# ---------------------------------------------------------------------------------------------------- prompt

def prompt_ids(length, variant):
    """`length` ids: SentencePiece pieces of consecutive docs/bench-prompts.txt sentences, starting at a line that
    depends on `variant`, cut to length - 1, then </s>. Different variants give different prompts of equal length."""
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(SPIECE))
    lines = [line.strip() for line in PROMPTS.read_text().splitlines() if line.strip()]
    ids, line = [], (37 * variant) % len(lines)
    while len(ids) < length - 1:
        ids += processor.encode(lines[line % len(lines)])
        line += 1
    return ids[:length - 1] + [EOS]


def command_prompt(args):
    if args.length < 2:
        fail(f"--length {args.length}: expected at least 2")
    print(",".join(map(str, prompt_ids(args.length, args.variant))))


# ---------------------------------------------------------------------------------------------------- l2s run

def command_l2s_run(args):
    if bool(args.model) == bool(args.bundle):
        fail("l2s-run needs exactly one of --model DIR and --bundle DIR")
    source = ["--model", args.model] if args.model else ["--bundle", args.bundle]
    command = [args.l2s, "run", *source, "--input-ids", ",".join(map(str, args.ids)), "--max-new-tokens",
               str(args.new), "--min-new-tokens", str(args.new), "--greedy", "--threads", str(args.threads),
               "--repeat", "2", "--timings", "--json"]
    samples = []
    for sample in range(args.samples):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"{' '.join(command[:4])} ... exited {done.returncode}: {done.stderr.strip()[-800:]}")
        timings = [line for line in done.stderr.splitlines() if line.startswith("{") and "prefill_s" in line]
        if not timings:
            fail(f"l2s run printed no --timings line; stderr: {done.stderr.strip()[-800:]}")
        timing = json.loads(timings[-1])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        generated = len(result["ids"])
        if generated != args.new:
            fail(f"l2s run generated {generated} tokens, expected exactly {args.new} ({' '.join(command)})")
        samples.append((timing["prefill_s"], timing["prefill_s"] + timing["decode_s"]))
        log(f"{args.label}: l2s run job {sample + 1}/{args.samples}: TTFT {1000 * samples[-1][0]:.0f} ms, "
            f"end to end {1000 * samples[-1][1]:.0f} ms")
    engine = "l2s run --model" if args.model else "l2s run --bundle"
    print(json.dumps(sequential_row(args, engine, samples)))


# ---------------------------------------------------------------------------------------------------- PyTorch

def command_torch(args):
    import torch
    import transformers
    from transformers import AutoConfig, GPT2LMHeadModel, T5ForConditionalGeneration

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    config = AutoConfig.from_pretrained(args.model_dir)
    is_t5 = config.model_type == "t5"
    model_class = T5ForConditionalGeneration if is_t5 else GPT2LMHeadModel
    model = model_class.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    ids = torch.tensor([args.ids])

    class Clock:
        """A generate() streamer that only notes when tokens arrive (the first put is the prompt side)."""

        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    def job(new_tokens):
        clock = Clock()
        start = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                                    max_new_tokens=new_tokens, min_new_tokens=new_tokens, streamer=clock,
                                    pad_token_id=config.pad_token_id, eos_token_id=config.eos_token_id)
        end = time.perf_counter()
        generated = output.shape[1] - (1 if is_t5 else ids.shape[1])
        if generated != new_tokens:
            fail(f"PyTorch generated {generated} tokens, expected exactly {new_tokens}")
        if len(clock.times) < 2:
            fail("PyTorch generate() did not stream (no token reached the streamer)")
        return clock.times[1] - start, end - start

    log(f"{args.label}: PyTorch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads; warm-up job")
    job(2)
    samples = []
    for sample in range(args.samples):
        samples.append(job(args.new))
        log(f"{args.label}: PyTorch job {sample + 1}/{args.samples}: TTFT {1000 * samples[-1][0]:.0f} ms, "
            f"end to end {1000 * samples[-1][1]:.0f} ms")
    print(json.dumps(sequential_row(args, "PyTorch generate", samples,
                                    {"version": f"torch {torch.__version__}, transformers {transformers.__version__}"})))


# ---------------------------------------------------------------------------------------------------- CTranslate2

def command_ct2(args):
    import ctranslate2

    translator = ctranslate2.Translator(args.ct2_dir, device="cpu", compute_type=args.compute_type,
                                        inter_threads=1, intra_threads=args.threads)
    tokens = [f"t{i}" for i in args.ids]

    def translate(length):
        start = time.perf_counter()
        result = translator.translate_batch([tokens], beam_size=1, max_decoding_length=length,
                                            min_decoding_length=length)
        elapsed = time.perf_counter() - start
        generated = len(result[0].hypotheses[0])
        if generated != length:
            fail(f"CTranslate2 generated {generated} tokens, expected exactly {length}")
        return elapsed

    log(f"{args.label}: CTranslate2 {ctranslate2.__version__} {args.compute_type}, intra_threads {args.threads}; "
        f"warm-up job")
    translate(2)
    samples = []
    for sample in range(args.samples):
        first = translate(1)
        samples.append((first, translate(args.new)))
        log(f"{args.label}: CTranslate2 job {sample + 1}/{args.samples}: TTFT {1000 * first:.0f} ms, "
            f"end to end {1000 * samples[-1][1]:.0f} ms")
    print(json.dumps(sequential_row(args, f"CTranslate2 {args.compute_type}", samples,
                                    {"version": f"ctranslate2 {ctranslate2.__version__}"})))


# ---------------------------------------------------------------------------------------------------- cluster

def command_cluster_row(args):
    report = json.loads(pathlib.Path(args.report).read_text())
    before, after = json.loads(args.cpu_before), json.loads(args.cpu_after)
    ok, tokens = report["ok"], report["tokens"]
    if report["failed"] or ok == 0:
        fail(f"{args.label} C={report['concurrency']} {args.cache}: {report['failed']} failed jobs "
             f"({report.get('errors')}), {ok} ok")
    if tokens != ok * args.new:
        fail(f"{args.label} C={report['concurrency']} {args.cache}: {tokens} tokens from {ok} jobs, expected "
             f"exactly {args.new} per job")
    latency, ttft = report["latency_ms"], report["ttft_ms"]
    if not ttft:
        fail(f"{args.report}: no ttft_ms (l2s bench must run with --stream)")
    cache = report.get("cache") or {}
    faults = {}
    if args.stats_before and args.stats_after:
        before_faults = json.loads(args.stats_before).get("faults") or {}
        after_faults = json.loads(args.stats_after).get("faults") or {}
        faults = {name: after_faults[name] - before_faults.get(name, 0) for name in after_faults}
    cpu = {role: 1e6 * (after[role] - before[role]) / tokens for role in ("router", "encoder", "decoder")}
    row = {"path": args.path, "engine": "cluster (l2s bench)", "model": args.label, "weights": args.weights,
           "threads": args.threads_note, "concurrency": report["concurrency"], "cache": args.cache, "jobs": ok,
           "failed": 0, "new_tokens": args.new, "prompt_tokens": args.prompt_tokens,
           "ttft_ms": {key: ttft[key] for key in ("p50", "p99", "mean")},
           "e2e_ms": {key: latency[key] for key in ("p50", "p99", "mean")},
           "ms_per_token": (latency["mean"] - ttft["mean"]) / (args.new - 1),
           "tokens_per_s": report["tokens_per_s"], "cpu_us_per_token": cpu,
           "cache_hits": cache.get("hits"), "cache_misses": cache.get("misses"),
           "served_from_cache": report.get("served_from_cache"), "router_faults": faults or None}
    print(json.dumps(row))


# ---------------------------------------------------------------------------------------------------- table

# The LLM-alone rows each row is compared with: (engine, weights or None for any) -> column name.
BASELINES = ((("l2s run --model", "float32"), "l2s f32"), (("l2s run --model", "int8"), "l2s int8"),
             (("PyTorch generate", None), "PyTorch"), (("CTranslate2 float32", None), "CT2 f32"),
             (("CTranslate2 int8", None), "CT2 int8"))


def baseline_key(row):
    """The BASELINES key an LLM-alone row fills: l2s rows by engine and weights, the peers by engine."""
    if row["engine"] == "l2s run --model":
        return (row["engine"], row["weights"])
    return (row["engine"], None)


def command_table(args):
    rows = [json.loads(line) for line in pathlib.Path(args.rows).read_text().splitlines() if line.strip()]
    if not rows:
        fail(f"{args.rows}: no rows")
    baselines = {}
    for row in rows:
        if row["path"] == "LLM alone":
            baselines[baseline_key(row)] = row["tokens_per_s"]
    head = ["path", "engine", "model", "weights", "C", "cache", "jobs", "TTFT p50", "TTFT p99", "ms/token",
            "e2e p50", "e2e p99", "tok/s"] + [f"x {name}" for key, name in BASELINES if key in baselines]
    head += ["cache hit/miss", "faults/retries", "CPU µs/token router/enc/dec"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i < 6 else "---:" for i in range(len(head))) + "|")
    for row in rows:
        cells = [row["path"], row["engine"], row["model"], row["weights"], row["concurrency"], row["cache"],
                 row["jobs"], f'{row["ttft_ms"]["p50"]:.0f}', f'{row["ttft_ms"]["p99"]:.0f}',
                 f'{row["ms_per_token"]:.1f}', f'{row["e2e_ms"]["p50"]:.0f}', f'{row["e2e_ms"]["p99"]:.0f}',
                 f'{row["tokens_per_s"]:.1f}']
        cells += [f'{row["tokens_per_s"] / baselines[key]:.2f}x' for key, _ in BASELINES if key in baselines]
        if row.get("cache_hits") is not None:
            cells.append(f'{row["cache_hits"]}/{row["cache_misses"]}')
        else:
            cells.append("-")
        faults = row.get("router_faults")
        cells.append(f'{faults.get("worker_faults", 0)}/{faults.get("retries", 0)}' if faults else "-")
        cpu = row.get("cpu_us_per_token")
        cells.append("/".join(f"{cpu[role]:.0f}" for role in ("router", "encoder", "decoder")) if cpu else "-")
        print("| " + " | ".join(map(str, cells)) + " |")
    print()
    print("Times in ms. TTFT: submission (or the start of the job) to the first generated token; e2e: to the last; "
          "ms/token: mean over jobs of (e2e - TTFT) / (new tokens - 1); tok/s: generated tokens per second of wall "
          "time (LLM-alone rows and `l2s run --bundle`: one job at a time, so new tokens / mean e2e; an `l2s run` job "
          "is the faster, per phase, of a first and a second run in one process, the first paging the weights in). "
          "x ENGINE: this row's tok/s over that LLM-alone row's (at C = 1 the ratio of end-to-end times). "
          "cache hit/miss: the router's encoding-cache counters during the run; faults/retries: its worker_faults and "
          "retries counters during the run (work that timed out or failed on a worker and was sent again); CPU: "
          "CPU time of the cluster's processes during the run per generated token.")
    threads = dict.fromkeys(f'{row["engine"]}: {row["threads"]}' for row in rows)
    print("Threads: " + "; ".join(threads) + ".")
    versions = dict.fromkeys(row["version"] for row in rows if row.get("version"))
    if versions:
        print("Versions: " + "; ".join(versions) + ".")


# ---------------------------------------------------------------------------------------------------- main

def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub = commands.add_parser("prompt", help="print the benchmark prompt's ids, comma-separated")
    sub.add_argument("--length", type=int, default=128, help="prompt length in ids, </s> included (default 128)")
    sub.add_argument("--variant", type=int, default=0, help="which prompt (default 0)")
    sub.set_defaults(run=command_prompt)

    def engine_flags(sub):
        sub.add_argument("--ids", type=parse_ids, required=True, help="prompt ids, comma-separated")
        sub.add_argument("--new", type=int, default=64, help="tokens to generate per job, exactly (default 64)")
        sub.add_argument("--threads", type=int, default=2, help="threads of the engine (default 2)")
        sub.add_argument("--samples", type=int, default=3, help="measured jobs (default 3)")
        common_flags(sub)

    def common_flags(sub):
        sub.add_argument("--label", default="", help="the model column of the row")
        sub.add_argument("--weights", default="float32", help="the weights column of the row")
        sub.add_argument("--path", default="LLM alone", choices=("LLM alone", "LLM-to-SLM"), help="the path column")
        sub.add_argument("--threads-note", default="", help="how the engine's threads were set, for the table")

    sub = commands.add_parser("l2s-run", help="time `l2s run` (K processes)")
    sub.add_argument("--l2s", required=True, help="the l2s binary")
    sub.add_argument("--model", help="a Hugging Face checkpoint directory (the LLM alone)")
    sub.add_argument("--bundle", help="an LLM-to-SLM bundle directory")
    engine_flags(sub)
    sub.set_defaults(run=command_l2s_run)

    sub = commands.add_parser("torch", help="time PyTorch transformers generate (this process)")
    sub.add_argument("model_dir", help="a Hugging Face checkpoint directory")
    engine_flags(sub)
    sub.set_defaults(run=command_torch)

    sub = commands.add_parser("ct2", help="time CTranslate2 translate_batch (this process)")
    sub.add_argument("ct2_dir", help="a CTranslate2 model directory (tokens named t<id>)")
    sub.add_argument("--compute-type", default="float32", help="CTranslate2 compute_type (default float32)")
    engine_flags(sub)
    sub.set_defaults(run=command_ct2)

    sub = commands.add_parser("cluster-row", help="a row from one `l2s bench --json --stream` report")
    sub.add_argument("--report", required=True, help="file holding the l2s bench JSON report")
    sub.add_argument("--cpu-before", required=True, help='{"router":s,"encoder":s,"decoder":s} CPU seconds')
    sub.add_argument("--cpu-after", required=True, help="the same after the run")
    sub.add_argument("--stats-before", help="`l2s stats --json` before the run (for the fault counters)")
    sub.add_argument("--stats-after", help="`l2s stats --json` after the run")
    sub.add_argument("--cache", required=True, choices=("miss", "hit"), help="what the run was planned to do")
    sub.add_argument("--new", type=int, default=64, help="tokens per job, exactly (default 64)")
    sub.add_argument("--prompt-tokens", type=int, default=128, help="prompt length, for the row (default 128)")
    common_flags(sub)
    sub.set_defaults(run=command_cluster_row)

    sub = commands.add_parser("table", help="render the rows as one markdown table")
    sub.add_argument("rows", help="a file of JSON rows, one per line")
    sub.set_defaults(run=command_table)

    args = parser.parse_args(argv)
    for name in ("new", "threads", "samples"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name} must be at least 1")
    if getattr(args, "new", 2) < 2:
        parser.error("--new must be at least 2 (per-token latency needs a second token)")
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
