#!/usr/bin/env bash
# Speed of l2s's model code beside PyTorch (transformers) and CTranslate2 (float32) on t5-small- and gpt2-shaped
# random weights: prefill tokens/s for a PROMPT-token prompt and decode tokens/s (batch 1) for NEW new tokens.
# Every engine runs in its own process with the same thread count; each reports the best of 3 runs.
# "l2s" uses the default batch-invariant decoding kernel, "l2s-blas" OpenBLAS gemv/gemm throughout.
#
#   scripts/bench-models.sh [THREADS] [PROMPT] [NEW]      defaults: $L2S_THREADS or 1, 128, 64
#
# Needs `scripts/setup.sh --train` (.venv with torch, transformers, ctranslate2). Writes the checkpoints to
# ${L2S_BENCH_DIR:-/tmp/l2s-bench} once and reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-${L2S_THREADS:-1}}
PROMPT=${2:-128}
NEW=${3:-64}
DIR=${L2S_BENCH_DIR:-/tmp/l2s-bench}
PY=.venv/bin/python

swift build -c release --product l2s >/dev/null
L2S=.build/release/l2s
mkdir -p "$DIR"
"$PY" scripts/bench_models.py make "$DIR" 2> >(grep -v -e Writing -e Loading >&2)

ids() { "$PY" -c "import sys; sys.path.insert(0, 'scripts'); import bench_models as b; print(','.join(map(str, b.prompt_ids($1, $2))))"; }

# Prints "prefill_tok_s decode_tok_s" from a timing JSON line.
rates() { "$PY" -c "import json,sys; t=json.loads(sys.argv[1]); print(f'{$PROMPT/t[\"prefill_s\"]:.1f} {t[\"decode_steps\"]/t[\"decode_s\"]:.1f}')" "$1"; }

printf '%-9s %-12s %14s %14s\n' model engine prefill_tok/s decode_tok/s
for spec in "t5-small t5 32128" "gpt2 gpt2 50257"; do
    set -- $spec
    name=$1 kind=$2 vocab=$3
    l2s() {
        OPENBLAS_NUM_THREADS=$THREADS "$L2S" run --model "$DIR/$name" --input-ids "$(ids "$PROMPT" "$vocab")" \
            --max-new-tokens "$NEW" --min-new-tokens "$NEW" --threads "$THREADS" --repeat 3 --timings --json "$@" \
            2>&1 >/dev/null | grep prefill_s
    }
    l2s_line=$(l2s --kernels batch-invariant)
    blas_line=$(l2s --kernels blas)
    torch_line=$("$PY" scripts/bench_models.py torch "$DIR/$name" "$THREADS" "$PROMPT" "$NEW" 2>/dev/null | tail -1)
    ct2_line=$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_models.py ct2 "$DIR/$name-ct2" "$kind" "$THREADS" "$PROMPT" "$NEW" 2>/dev/null | tail -1)
    read -r l2s_p l2s_d <<<"$(rates "$l2s_line")"
    read -r blas_p blas_d <<<"$(rates "$blas_line")"
    read -r torch_p torch_d <<<"$(rates "$torch_line")"
    read -r ct2_p ct2_d <<<"$(rates "$ct2_line")"
    printf '%-9s %-12s %14s %14s\n' "$name" l2s "$l2s_p" "$l2s_d" "$name" l2s-blas "$blas_p" "$blas_d" \
        "$name" pytorch "$torch_p" "$torch_d" \
        "$name" ctranslate2 "$ct2_p" "$ct2_d"
    printf '%-9s %-12s %14s %14s\n' "$name" "l2s/pytorch" "$(awk "BEGIN{printf \"%.2fx\", $l2s_p/$torch_p}")" \
        "$(awk "BEGIN{printf \"%.2fx\", $l2s_d/$torch_d}")" "$name" "l2s/ct2" \
        "$(awk "BEGIN{printf \"%.2fx\", $l2s_p/$ct2_p}")" "$(awk "BEGIN{printf \"%.2fx\", $l2s_d/$ct2_d}")"
done
echo "threads=$THREADS prompt=$PROMPT new_tokens=$NEW (float32, batch 1, best of 3; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
