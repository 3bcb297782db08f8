#!/usr/bin/env bash
# Tokenizer throughput: writes a seeded multilingual text (~20 MB), times Hugging Face `tokenizers` (Rust, one
# thread) on it, then the Swift tokenizers (release build) on the same text, on the committed fixture tokenizers.
# Usage: scripts/bench-tokenizers.sh [MEGABYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
MEGABYTES="${1:-20}"
TEXT="$(mktemp /tmp/l2s-bench-text.XXXXXX)"
trap 'rm -f "$TEXT"' EXIT
export TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1
.venv/bin/python - "$TEXT" "$MEGABYTES" <<'PY'
import json, random, sys, time, pathlib
from tokenizers import Tokenizer
path, megabytes = sys.argv[1], float(sys.argv[2])
reference = json.loads(pathlib.Path("Tests/Fixtures/tokenizers/reference.json").read_text(encoding="utf-8"))
sentences = [t for t in reference["texts"] if t and "<" not in t]
rng = random.Random(7)
syllables = ["ka", "te", "ro", "mi", "ber", "ung", "lich", "the", "and", "ing", "tion", "ver", "zu", "ge", "ță", "日本", "é"]
lines, size = [], 0
while size < megabytes * 1e6:
    if rng.random() < 0.5:
        line = rng.choice(sentences)
    else:
        line = " ".join("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(5, 30)))
    lines.append(line)
    size += len(line.encode()) + 1
text = "\n".join(lines)
pathlib.Path(path).write_text(text, encoding="utf-8")
mb = len(text.encode()) / 1e6
for layout in ["gpt2-tokenizer-json", "t5-tokenizer-json"]:
    tokenizer = Tokenizer.from_file(f"Tests/Fixtures/tokenizers/{layout}/tokenizer.json")
    start = time.perf_counter(); ids = tokenizer.encode(text).ids; whole = time.perf_counter() - start
    start = time.perf_counter()
    for line in lines: tokenizer.encode(line)
    per_line = time.perf_counter() - start
    print(f"hf-tokenizers {layout}: {mb:.1f} MB, {len(ids)} tokens; encode whole text {mb / whole:.1f} MB/s, "
          f"per line ({len(lines)} lines) {mb / per_line:.1f} MB/s")
PY
L2S_BENCH_TEXT="$TEXT" swift test -c release --filter ThroughputBenchmark 2>&1 | grep -E "^bench|error|failed"
