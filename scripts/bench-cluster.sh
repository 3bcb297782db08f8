#!/usr/bin/env bash
# Throughput and latency of the served system: for each configuration below, start a real local cluster on
# 127.0.0.1 (`l2s cluster`: router, encoder and decoders as separate processes, --threads 1 each), load it with
# `l2s bench` (closed loop, streamed, the same workload every time), stop it, and print one table with ratios
# against the baseline (1 decoder, 1 slot).
#
#   scripts/bench-cluster.sh [REQUESTS] [CONCURRENCY] [NEW_TOKENS] [REPS]     defaults: 2000 64 64 3
#
# Configurations: 1 decoder with 1, 4 and 16 slots (continuous batching); 2 decoders at the best of those slot
# counts (scaling out); the same with 90 % of the jobs repeating an earlier prompt (the router's encoding
# cache); the same without streaming (per-token message cost); the same with one job at a time and REQUESTS/10
# jobs (latency without queueing). Each configuration runs REPS times on a fresh cluster and the run with the
# median tokens/s is shown. Prompts: docs/bench-prompts.txt (the 6 demo prompts + 594 more from the synthetic
# task's grammar, scripts/task/grammar.py); when REQUESTS exceeds them, later rounds get a new tenant salt so
# they still miss the cache. Answers are forced to NEW_TOKENS tokens
# (--min-new-tokens), since the shipped bundle's natural answers are ~14 tokens. The last column is the CPU time
# (user + system) of the router, the encoder and all decoders during the run, per generated token.
# Env: L2S_BUNDLE (default bundles/default), L2S_BENCH_PORT (first port, default 27300), L2S_BENCH_TIMEOUT
# (seconds per run, default 120), L2S_BENCH_OUT (directory for the raw JSON, default a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-2000}
CONCURRENCY=${2:-64}
NEW=${3:-64}
REPS=${4:-3}
BUNDLE=${L2S_BUNDLE:-bundles/default}
PORT=${L2S_BENCH_PORT:-27300}
TIMEOUT=${L2S_BENCH_TIMEOUT:-120}
PROMPTS=docs/bench-prompts.txt
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
OUT=${L2S_BENCH_OUT:-$(mktemp -d /tmp/l2s-bench-cluster.XXXXXX)}
mkdir -p "$OUT"

swift build -c release --product l2s >/dev/null
L2S=.build/release/l2s

. scripts/cluster-lib.sh

# run REP NAME DECODERS SLOTS REPEAT_FRACTION STREAM(yes|no) [CONCURRENCY REQUESTS]: one run on a fresh cluster;
# appends a JSON line {"name",...,"cpu","report"} to $OUT/runs.jsonl.
run() {
    local rep=$1 name=$2 decoders=$3 slots=$4 repeat=$5 stream=$6 concurrency=${7:-$CONCURRENCY}
    local requests=${8:-$REQUESTS}
    PORT=$((PORT + 3))
    local log="$OUT/$name-$rep.log"
    "$L2S" cluster --bundle "$BUNDLE" --decoders "$decoders" --slots "$slots" --threads 1 --base-port "$PORT" \
        >"$OUT/ready" 2>"$log" &
    cluster_pid=$!
    local waited=0
    until grep -q '"ready"' "$OUT/ready" 2>/dev/null; do
        if ! kill -0 "$cluster_pid" 2>/dev/null || [ "$waited" -ge 600 ]; then
            echo "bench-cluster: the cluster for '$name' did not come up; its log ($log):" >&2
            tail -20 "$log" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    local flags=(--router "tcp://127.0.0.1:$PORT" --prompts "$PROMPTS" --requests "$requests"
        --concurrency "$concurrency" --max-new-tokens "$NEW" --min-new-tokens "$NEW"
        --repeat-fraction "$repeat" --seed "$rep" --timeout "$TIMEOUT" --json)
    [ "$stream" = yes ] && flags+=(--stream)
    local report
    report=$("$L2S" bench "${flags[@]}") || echo "bench-cluster: '$name' run $rep had failed jobs" >&2
    local cpu
    cpu=$(cpu_seconds "$cluster_pid")
    stop_cluster
    if [ -z "$report" ]; then
        echo "bench-cluster: l2s bench printed no report for '$name'; the cluster's log ($log):" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    printf '{"name":"%s","decoders":%d,"slots":%d,"repeat":%s,"stream":"%s","rep":%d,"cpu":%s,"report":%s}\n' \
        "$name" "$decoders" "$slots" "$repeat" "$stream" "$rep" "$cpu" "$report" >>"$OUT/runs.jsonl"
    echo "bench-cluster: $name run $rep: $(echo "$report" | "$PY" -c 'import json, sys
r = json.load(sys.stdin)
print("%.0f tokens/s, %d ok, %d failed" % (r["tokens_per_s"], r["ok"], r["failed"]))')" >&2
}

# The median run's tokens/s of configuration NAME.
median_rate() {
    "$PY" - "$OUT/runs.jsonl" "$1" <<'EOF'
import json, sys
rates = sorted(r["report"]["tokens_per_s"] for r in map(json.loads, open(sys.argv[1])) if r["name"] == sys.argv[2])
print(rates[len(rates) // 2])
EOF
}

: >"$OUT/runs.jsonl"
echo "bench-cluster: $REQUESTS jobs x $NEW tokens, $CONCURRENCY in flight, $REPS runs per configuration;" \
    "raw results in $OUT" >&2
# Repetitions go round the configurations (not one configuration REPS times in a row), so a burst of other load
# on the machine hits several configurations once rather than one configuration REPS times.
for rep in $(seq "$REPS"); do
    run "$rep" "1x1" 1 1 0 yes
    run "$rep" "1x4" 1 4 0 yes
    run "$rep" "1x16" 1 16 0 yes
done
best=1
best_rate=$(median_rate 1x1)
for slots in 4 16; do
    rate=$(median_rate "1x$slots")
    if "$PY" -c "import sys; sys.exit(0 if $rate > $best_rate else 1)"; then best=$slots best_rate=$rate; fi
done
for rep in $(seq "$REPS"); do
    run "$rep" "2x$best" 2 "$best" 0 yes
    run "$rep" "2x$best-rep90" 2 "$best" 0.9 yes
    run "$rep" "2x$best-nostream" 2 "$best" 0 no
    run "$rep" "2x$best-c1" 2 "$best" 0 yes 1 $((REQUESTS / 10))
done

"$PY" - "$OUT/runs.jsonl" <<'EOF'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
names = list(dict.fromkeys(r["name"] for r in runs))
rows = []
for name in names:
    group = sorted((r for r in runs if r["name"] == name), key=lambda r: r["report"]["tokens_per_s"])
    rows.append(group[len(group) // 2])
base = rows[0]["report"]
def ms(value): return "-" if value is None else f"{value:.1f}"
head = ("config", "dec", "slots", "C", "repeat", "stream", "ok/failed", "req/s", "tok/s", "x base",
        "lat p50", "lat p90", "lat p99", "lat max", "ttft p50", "ttft p99", "cache hit/miss",
        "CPU µs/token router/enc/dec")
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" if i < 6 else "---:" for i in range(len(head))) + "|")
for row in rows:
    r = row["report"]
    lat, ttft, cache = r["latency_ms"] or {}, r["ttft_ms"] or {}, r["cache"] or {}
    cells = (row["name"], row["decoders"], row["slots"], r["concurrency"], f'{row["repeat"]:.0%}', row["stream"],
             f'{r["ok"]}/{r["failed"]}', f'{r["requests_per_s"]:.1f}', f'{r["tokens_per_s"]:.0f}',
             f'{r["tokens_per_s"] / base["tokens_per_s"]:.2f}x', ms(lat.get("p50")), ms(lat.get("p90")),
             ms(lat.get("p99")), ms(lat.get("max")), ms(ttft.get("p50")), ms(ttft.get("p99")),
             f'{cache.get("hits", "-")}/{cache.get("misses", "-")}',
             "/".join(f'{row["cpu"][role] * 1e6 / max(1, r["tokens"]):.0f}' for role in ("router", "encoder", "decoder")))
    print("| " + " | ".join(map(str, cells)) + " |")
EOF
echo "bundle=$BUNDLE requests=$REQUESTS concurrency=$CONCURRENCY new_tokens=$NEW reps=$REPS (median by tok/s);" \
    "latencies in ms; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
