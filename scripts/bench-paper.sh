#!/usr/bin/env bash
# The paper's comparison on this machine (issue 12): the LLM alone against LLM-to-SLM, at the paper's model shapes
# with random weights (scripts/make_speed_bundles.py), in one table whose ratios all come from this one run.
#
#   scripts/bench-paper.sh [--quick] [options]
#
# Rows, each engine in its own process, every job the same length (a PROMPT-token prompt, exactly NEW new tokens,
# greedy; EOS is suppressed until NEW tokens exist, which random weights need):
#   LLM alone (t5-large shape, float32, one job at a time):
#     l2s run --model, float32 and --weights int8; PyTorch transformers generate; CTranslate2 float32 and int8
#     (translate_batch).
#   LLM-to-SLM, for each bundle (t5-large -> t5-small and -> gpt2, float32 and float16 weights, and the float32
#   bundle with --weights int8 in every l2s process, named *-int8):
#     l2s run --bundle, one job at a time;
#     a local cluster (`l2s cluster`: router, encoder, decoders as separate processes) loaded by `l2s bench`
#     at each concurrency C, first with cache misses (every job a new prompt key: the encoder runs), then the
#     same jobs again with cache hits (the router serves the encoding from its cache).
# Columns: TTFT p50/p99, per-token latency, end-to-end p50/p99, tokens/s, the speed-up (tokens/s ratio) over
# each LLM-alone row, and for the cluster the router's cache counters, its fault counters (worker faults and
# retried work, e.g. encodes that waited past the router's stall timeout) and CPU per token per role.
#
# Options:
#   --quick              a short check: fewer jobs (--samples 2, --requests 2,8,32), only t5-small float32
#   --dir DIR            speed bundles, written there once by make_speed_bundles.py and reused
#                        [env L2S_SPEED_DIR, default /tmp/l2s-speed]
#   --bundles LIST       comma-separated, of t5-small-float32 t5-small-float16 t5-small-int8 gpt2-float32
#                        gpt2-float16 gpt2-int8 [default all six; --quick: t5-small-float32]
#   --concurrency LIST   cluster concurrency levels [default 1,8,32]
#   --requests LIST      jobs per cluster run, one per level [default 8,32,32; --quick 2,8,32]
#   --samples K          jobs per single-process engine row [default 3; --quick 2]
#   --threads T          threads of each single-process engine [default 2]
#   --new N              new tokens per job [default 64]
#   --prompt-tokens L    prompt length in tokens, </s> included [default 128]
#   --cluster-args ARGS  extra flags for `l2s cluster`, e.g. "--threads 2 --decoders 1 --slots 32"
#                        [default none: the cluster as a user gets it]
#   --skip-peers         no PyTorch and CTranslate2 rows
#   --out DIR            raw rows, l2s bench reports and cluster logs [env L2S_BENCH_OUT, default a temporary dir]
#   --port P             first TCP port of the local clusters [env L2S_BENCH_PORT, default 27400]
#   --timeout S          seconds allowed per l2s bench run [default 900]
#   --l2s BIN            the l2s binary [env L2S_BIN, default .build/release/l2s]
#   --build              run `swift build -c release --product l2s` first
#   -h, --help           this help
#
# Needs `scripts/setup.sh --train` (.venv with torch, transformers, ctranslate2). Full scale (the defaults) takes
# roughly 15-20 minutes on 2 idle cores, plus ~2 minutes to write the bundles the first time; --quick about 5
# (twice that on a busy machine). The l2s binary is copied into the output directory first, so a rebuild during
# the run cannot mix versions. The machine must be otherwise idle for the numbers to mean anything (PyTorch's
# thread pool in particular collapses under contention); the load average is printed with the table.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "bench-paper: $*" >&2; exit 1; }
usage_error() { echo "bench-paper: $*" >&2; echo "bench-paper: see --help" >&2; exit 64; }

quick=0 build=0 skip_peers=0
DIR=${L2S_SPEED_DIR:-/tmp/l2s-speed}
BUNDLES= CONCURRENCY=1,8,32 REQUESTS= SAMPLES= THREADS=2 NEW=64 PROMPT=128 CLUSTER_ARGS=
OUT=${L2S_BENCH_OUT:-} PORT=${L2S_BENCH_PORT:-27400} TIMEOUT=900 L2S=${L2S_BIN:-.build/release/l2s}
while [ $# -gt 0 ]; do
    flag=$1
    case "$flag" in
        -h|--help) usage; exit 0 ;;
        --quick) quick=1; shift; continue ;;
        --build) build=1; shift; continue ;;
        --skip-peers) skip_peers=1; shift; continue ;;
        --dir|--bundles|--concurrency|--requests|--samples|--threads|--new|--prompt-tokens|--cluster-args|--out|--port|--timeout|--l2s)
            [ $# -ge 2 ] || usage_error "$flag needs a value"
            value=$2; shift 2 ;;
        *) usage_error "unknown option '$flag'" ;;
    esac
    case "$flag" in
        --dir) DIR=$(cd "$caller_dir" && realpath -m -- "$value") ;;
        --bundles) BUNDLES=$value ;;
        --concurrency) CONCURRENCY=$value ;;
        --requests) REQUESTS=$value ;;
        --samples) SAMPLES=$value ;;
        --threads) THREADS=$value ;;
        --new) NEW=$value ;;
        --prompt-tokens) PROMPT=$value ;;
        --cluster-args) CLUSTER_ARGS=$value ;;
        --out) OUT=$(cd "$caller_dir" && realpath -m -- "$value") ;;
        --port) PORT=$value ;;
        --timeout) TIMEOUT=$value ;;
        --l2s) L2S=$(cd "$caller_dir" && realpath -m -- "$value") ;;
    esac
done
if [ "$quick" -eq 1 ]; then
    BUNDLES=${BUNDLES:-t5-small-float32} REQUESTS=${REQUESTS:-2,8,32} SAMPLES=${SAMPLES:-2}
else
    BUNDLES=${BUNDLES:-t5-small-float32,t5-small-float16,t5-small-int8,gpt2-float32,gpt2-float16,gpt2-int8}
    REQUESTS=${REQUESTS:-8,32,32}
    SAMPLES=${SAMPLES:-3}
fi
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "$1 $2: expected a positive integer"; }
positive --samples "$SAMPLES"; positive --threads "$THREADS"; positive --new "$NEW"; positive --port "$PORT"
positive --prompt-tokens "$PROMPT"; positive --timeout "$TIMEOUT"
[ "$NEW" -ge 2 ] || usage_error "--new $NEW: expected at least 2 (per-token latency needs a second token)"
[ "$PROMPT" -ge 2 ] || usage_error "--prompt-tokens $PROMPT: expected at least 2"
IFS=, read -r -a levels <<<"$CONCURRENCY"
IFS=, read -r -a counts <<<"$REQUESTS"
IFS=, read -r -a bundles <<<"$BUNDLES"
for c in "${levels[@]}"; do positive --concurrency "$c"; done
for n in "${counts[@]}"; do positive --requests "$n"; done
[ "${#levels[@]}" -eq "${#counts[@]}" ] ||
    usage_error "--requests $REQUESTS: ${#counts[@]} values for ${#levels[@]} concurrency levels ($CONCURRENCY)"
dtypes=() slms=()
for b in "${bundles[@]}"; do
    case "$b" in
        t5-small-float32|t5-small-float16|t5-small-int8|gpt2-float32|gpt2-float16|gpt2-int8) ;;
        *) usage_error "--bundles: unknown bundle '$b' (expected t5-small-float32, t5-small-float16, t5-small-int8, gpt2-float32, gpt2-float16 or gpt2-int8)" ;;
    esac
    # An int8 row runs the float32 bundle with --weights int8.
    dtype=${b##*-}; [ "$dtype" = int8 ] && dtype=float32
    dtypes+=(--dtype "$dtype") slms+=(--slm "${b%-*}")
done

PY=.venv/bin/python
[ -x "$PY" ] || die "$PY missing: run scripts/setup.sh --train"
"$PY" -c 'import torch, transformers, ctranslate2, sentencepiece' 2>/dev/null ||
    die "$PY lacks torch/transformers/ctranslate2/sentencepiece: run scripts/setup.sh --train"
if [ "$build" -eq 1 ]; then swift build -c release --product l2s >/dev/null; fi
[ -x "$L2S" ] || die "$L2S missing: build it (swift build -c release --product l2s) or pass --build"
OUT=${OUT:-$(mktemp -d /tmp/l2s-bench-paper.XXXXXX)}
mkdir -p "$OUT"
# One binary for the whole run (l2s cluster starts its children from its own path).
cp "$L2S" "$OUT/l2s"
L2S_ORIGIN=$L2S L2S=$OUT/l2s
start_load=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=$OUT/rows.jsonl
: >"$ROWS"
started=$(date +%s)
progress() { echo "bench-paper [$(($(date +%s) - started)) s]: $*" >&2; }

ct2=()
[ "$skip_peers" -eq 1 ] && ct2=(--no-ct2)
progress "speed bundles in $DIR (written once, then reused)"
"$PY" scripts/make_speed_bundles.py "$DIR" "${dtypes[@]}" "${slms[@]}" "${ct2[@]}" --no-verify

IDS=$("$PY" scripts/bench_paper.py prompt --length "$PROMPT" --variant 0)
common=(--ids "$IDS" --new "$NEW" --threads "$THREADS" --samples "$SAMPLES")
L2S_NOTE="--threads $THREADS (l2s's own workers; OpenBLAS one thread per call)"

# ---- the LLM alone, one engine per process
progress "LLM alone: l2s run --model ($SAMPLES jobs)"
"$PY" scripts/bench_paper.py l2s-run --l2s "$L2S" --model "$DIR/llm-t5-large" "${common[@]}" --label t5-large \
    --threads-note "$L2S_NOTE" >>"$ROWS"
progress "LLM alone: l2s run --model --weights int8 ($SAMPLES jobs)"
L2S_WEIGHTS=int8 "$PY" scripts/bench_paper.py l2s-run --l2s "$L2S" --model "$DIR/llm-t5-large" "${common[@]}" \
    --label t5-large --weights int8 --threads-note "$L2S_NOTE" >>"$ROWS"
if [ "$skip_peers" -eq 0 ]; then
    progress "LLM alone: PyTorch ($SAMPLES jobs)"
    OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_paper.py torch "$DIR/llm-t5-large" "${common[@]}" --label t5-large \
        --threads-note "torch.set_num_threads($THREADS), OMP_NUM_THREADS=$THREADS" >>"$ROWS"
    for q in float32 int8; do
        progress "LLM alone: CTranslate2 $q ($SAMPLES jobs)"
        OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_paper.py ct2 "$DIR/llm-t5-large-ct2-$q" --compute-type "$q" \
            "${common[@]}" --label t5-large --weights "$q" \
            --threads-note "intra_threads $THREADS, inter_threads 1, OMP_NUM_THREADS=$THREADS" >>"$ROWS"
    done
fi

# ---- LLM-to-SLM: the local cluster
. scripts/cluster-lib.sh

# The cluster's processes and their thread/slot flags, e.g. "router; encoder --threads 1; 2 x decoder --slots 4
# --threads 1" (a flag not shown is that service's default).
cluster_note() {
    local child
    for child in $(pgrep -P "$cluster_pid"); do
        tr '\0' '\n' <"/proc/$child/cmdline" | awk '
            NR == 2 { role = $0 }
            previous == "--threads" || previous == "--slots" || previous == "--max-batch" { flags = flags " " previous " " $0 }
            { previous = $0 }
            END { print role flags }'
    done | sort | uniq -c | awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s%s%s", sep, (n > 1 ? n " x " : ""), $0; sep = "; " }'
}

# The router's counters (l2s stats --json), or {} when it does not answer.
router_stats() { "$L2S" stats --router "tcp://127.0.0.1:$PORT" --json 2>/dev/null || echo '{}'; }

# bench_run NAME IDS C REQUESTS NEW: one `l2s bench` run, its JSON report in $OUT/NAME.json.
bench_run() {
    local name=$1 ids=$2 c=$3 n=$4 new=$5
    "$L2S" bench --router "tcp://127.0.0.1:$PORT" --input-ids "$ids" --requests "$n" --concurrency "$c" \
        --max-new-tokens "$new" --min-new-tokens "$new" --stream --timeout "$TIMEOUT" --json \
        >"$OUT/$name.json" 2>"$OUT/$name.err" || {
        [ -s "$OUT/$name.json" ] || die "l2s bench '$name' failed: $(tail -5 "$OUT/$name.err")"
    }
}

for b in "${bundles[@]}"; do
    slm=${b%-*} dtype=${b##*-}
    # --weights for every l2s process of this bundle's rows (the --weights flags read L2S_WEIGHTS).
    export L2S_WEIGHTS=as-stored
    bundle=$DIR/t5-large-$b
    if [ "$dtype" = int8 ]; then export L2S_WEIGHTS=int8; bundle=$DIR/t5-large-$slm-float32; fi
    label="t5-large->$slm"
    progress "$label $dtype: l2s run --bundle ($SAMPLES jobs)"
    "$PY" scripts/bench_paper.py l2s-run --l2s "$L2S" --bundle "$bundle" "${common[@]}" --path LLM-to-SLM \
        --label "$label" --weights "$dtype" --threads-note "$L2S_NOTE" >>"$ROWS"

    PORT=$((PORT + 3))
    log=$OUT/cluster-$b.log
    # shellcheck disable=SC2086  # CLUSTER_ARGS is a list of flags
    "$L2S" cluster --bundle "$bundle" --base-port "$PORT" $CLUSTER_ARGS >"$OUT/ready-$b" 2>"$log" &
    cluster_pid=$!
    waited=0
    until grep -q '"ready"' "$OUT/ready-$b" 2>/dev/null; do
        if ! kill -0 "$cluster_pid" 2>/dev/null || [ "$waited" -ge 1200 ]; then
            echo "bench-paper: the cluster for $b did not come up; its log ($log):" >&2
            tail -20 "$log" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    note="l2s cluster ${CLUSTER_ARGS:-(defaults)}: $(cluster_note)"
    progress "$label $dtype: cluster up ($note); warm-up"
    bench_run "warmup-$b" "$("$PY" scripts/bench_paper.py prompt --length "$PROMPT" --variant 99)" 2 2 4
    for i in "${!levels[@]}"; do
        c=${levels[$i]} n=${counts[$i]}
        # Level i has its own prompt (variant i; level 0 uses the LLM-alone rows' prompt), so its misses are new
        # keys to this cluster's cache; the hit run then replays exactly those keys.
        ids=$("$PY" scripts/bench_paper.py prompt --length "$PROMPT" --variant "$i")
        for cache in miss hit; do
            name="$b-c$c-$cache"
            progress "$label $dtype: cluster, $n jobs, $c at a time, cache $([ "$cache" = miss ] && echo misses || echo hits)"
            stats_before=$(router_stats) before=$(cpu_seconds "$cluster_pid")
            bench_run "$name" "$ids" "$c" "$n" "$NEW"
            after=$(cpu_seconds "$cluster_pid") stats_after=$(router_stats)
            "$PY" scripts/bench_paper.py cluster-row --report "$OUT/$name.json" --cpu-before "$before" \
                --cpu-after "$after" --stats-before "$stats_before" --stats-after "$stats_after" \
                --cache "$cache" --new "$NEW" --prompt-tokens "$PROMPT" --path LLM-to-SLM \
                --label "$label" --weights "$dtype" --threads-note "$note" >>"$ROWS"
        done
    done
    stop_cluster
done
unset L2S_WEIGHTS

echo "## LLM-to-SLM vs the LLM alone (scripts/bench-paper.sh$([ "$quick" -eq 1 ] && echo ' --quick'))"
echo
"$PY" scripts/bench_paper.py table "$ROWS"
echo "Workload: $PROMPT-token prompt, exactly $NEW new tokens per job (greedy, EOS suppressed), random weights at" \
    "the paper's shapes ($DIR, scripts/make_speed_bundles.py); $SAMPLES jobs per single-process row;" \
    "cluster runs: concurrency $CONCURRENCY with $REQUESTS jobs, streamed."
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load" \
    "$start_load at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u +%Y-%m-%dT%H:%MZ); $(($(date +%s) - started)) s." \
    "Raw rows and reports: $OUT"
echo "Code: $L2S_ORIGIN, $("$L2S" version 2>&1 | head -1), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- Sources 2>/dev/null || echo ' with uncommitted changes under Sources/')."
