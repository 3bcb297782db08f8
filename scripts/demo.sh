#!/usr/bin/env bash
# The README's main job: build l2s, start a router, an encoder service and two decoder workers on this
# machine (l2s cluster), send the prompts of docs/demo-prompts.txt through them, print one JSON result per
# prompt, and stop everything. Extra arguments go to `l2s cluster` (e.g. --bundle bundles/gpt2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release --product l2s 2>&1 | tail -n 1
exec .build/release/l2s cluster --bundle bundles/default --decoders 2 --prompts docs/demo-prompts.txt --max-new-tokens 64 "$@"
