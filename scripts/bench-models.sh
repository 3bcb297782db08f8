#!/usr/bin/env bash
# Decoding speed of l2s's kernels beside PyTorch (transformers) and CTranslate2, on random weights of three shapes:
# t5-small, gpt2 (124M) and t5-large. For batch 1 and batch 8 (8 copies of the prompt stepped together), each
# engine in its own process with the same thread count, best of 3 runs: ms per decoding step, generated tokens/s,
# the prefill (prompt to first logits: for T5 the encoder pass + first step), and the memory floor of a step (the
# weight bytes one step reads / the read bandwidth of THREADS threads, measured in the same run). l2s runs with
# float32, float16 and int8 weights (`--weights`; the kernel variant is the best this CPU has, `l2s version`);
# CTranslate2 with float32 and int8; PyTorch with float32.
#
#   scripts/bench-models.sh [THREADS] [PROMPT] [NEW]      defaults: $L2S_THREADS or 2, 128, 32
#
# Needs `scripts/setup.sh --train` (.venv with torch, transformers, ctranslate2) and the t5-large checkpoint that
# scripts/make_speed_bundles.py writes to ${L2S_SPEED_DIR:-/tmp/l2s-speed} (vocabulary 2000, the shipped
# tokenizer's; t5-small and gpt2 keep their real vocabularies). Writes the smaller checkpoints and float16 copies
# to ${L2S_BENCH_DIR:-/tmp/l2s-bench} once and reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-${L2S_THREADS:-2}}
PROMPT=${2:-128}
NEW=${3:-32}
DIR=${L2S_BENCH_DIR:-/tmp/l2s-bench}
SPEED=${L2S_SPEED_DIR:-/tmp/l2s-speed}
PY=.venv/bin/python
[ -d "$SPEED/llm-t5-large" ] || "$PY" scripts/make_speed_bundles.py "$SPEED" --dtype float32

swift build -c release --product l2s >/dev/null
L2S=.build/release/l2s
mkdir -p "$DIR"
"$PY" scripts/bench_models.py make "$DIR" "$SPEED/llm-t5-large" 2> >(grep -v -e Writing -e Loading >&2)

ids() { "$PY" -c "import sys; sys.path.insert(0, 'scripts'); import bench_models as b; print(','.join(map(str, b.prompt_ids($1, $2))))"; }
# "ms_per_step tokens_per_s prefill_ms" from a timing JSON line (decode steps x batch tokens in decode_s).
rates() { "$PY" -c "import json,sys; t=json.loads(sys.argv[1]); b=t.get('batch',1); print(f'{1000*t[\"decode_s\"]/t[\"decode_steps\"]:.2f} {b*t[\"decode_steps\"]/t[\"decode_s\"]:.1f} {1000*t[\"prefill_s\"]:.0f}')" "$1"; }

printf '%-9s %5s %-16s %10s %10s %12s %11s\n' model batch engine ms/step tok/s vs_l2s_f32 prefill_ms
for spec in "t5-small t5 32128 $DIR/t5-small $DIR/t5-small-f16 $DIR/t5-small-ct2 $DIR/t5-small-ct2" \
            "gpt2 gpt2 50257 $DIR/gpt2 $DIR/gpt2-f16 $DIR/gpt2-ct2 $DIR/gpt2-ct2" \
            "t5-large t5 2000 $SPEED/llm-t5-large $DIR/t5-large-f16 $SPEED/llm-t5-large-ct2-float32 $SPEED/llm-t5-large-ct2-int8"; do
    set -- $spec
    name=$1 kind=$2 vocab=$3 f32=$4 f16=$5 ct2_f32=$6 ct2_int8=$7
    prompt=$(ids "$PROMPT" "$vocab")
    floor=$("$PY" scripts/bench_models.py floor "$f32" "$THREADS")
    for batch in 1 8; do
        l2s() {
            "$L2S" run --model "$1" --input-ids "$prompt" --max-new-tokens "$NEW" --min-new-tokens "$NEW" \
                --threads "$THREADS" --repeat 3 --timings --json --batch "$batch" --weights "$2" 2>&1 >/dev/null |
                grep prefill_s
        }
        lines=("l2s-float32|$(l2s "$f32" float32)" "l2s-float16|$(l2s "$f16" as-stored)" "l2s-int8|$(l2s "$f32" int8)")
        lines+=("ct2-float32|$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_models.py ct2 "$ct2_f32" "$kind" "$THREADS" "$PROMPT" "$NEW" "$batch" float32 "$vocab" 2>/dev/null | tail -1)")
        lines+=("ct2-int8|$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_models.py ct2 "$ct2_int8" "$kind" "$THREADS" "$PROMPT" "$NEW" "$batch" int8 "$vocab" 2>/dev/null | tail -1)")
        if [ "$name" != t5-large ] || [ "$batch" = 1 ]; then
            lines+=("pytorch-float32|$("$PY" scripts/bench_models.py torch "$f32" "$THREADS" "$PROMPT" "$NEW" "$batch" 2>/dev/null | tail -1)")
        fi
        base=
        for line in "${lines[@]}"; do
            engine=${line%%|*} timing=${line#*|}
            read -r ms toks prefill <<<"$(rates "$timing")"
            [ -n "$base" ] || base=$toks
            printf '%-9s %5s %-16s %10s %10s %11sx %11s\n' "$name" "$batch" "$engine" "$ms" "$toks" \
                "$(awk "BEGIN{printf \"%.2f\", $toks/$base}")" "$prefill"
        done
    done
    "$PY" -c "import json,sys; f=json.loads(sys.argv[1]); print(f'{sys.argv[2]:<9} floor: a step reads {f[\"step_bytes\"]/1e6:.0f} MB of float32 weights; $THREADS thread(s) read {f[\"read_gb_s\"]:.1f} GB/s, so >= {f[\"step_bytes\"]/f[\"read_gb_s\"]/1e6:.2f} ms/step at batch 1 (float16: half, int8: a quarter)')" "$floor" "$name"
done
echo "threads=$THREADS prompt=$PROMPT new_tokens=$NEW kernels=$("$L2S" version --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("kernels"))') (best of 3; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
