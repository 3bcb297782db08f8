#!/usr/bin/env bash
# The test command (README): proves a checkout works. Needs only scripts/setup.sh, never PyTorch.
#   1. the committed protoc output matches proto/l2s.proto; Package.swift declares exactly what each target imports;
#      the Swift code is formatted as .swift-format says (scripts/check-format.sh: `swift format lint`, 120 columns)
#   2. the Swift test suite, in release mode (the numeric tests are slow in debug), on the best kernel variant
#      this CPU runs (the kernel tests themselves loop over every supported variant, docs/kernels.md)
#   3. the numeric and model fixture tests again with L2S_ISA=baseline (the variant of CPUs without AVX2)
#   4. the Python client tests, against the same schema, with the drain, deployment-manifest and multi-host fault
#      tests (the last skips, saying why, where network namespaces cannot be made)
# Extra arguments go to `swift test` (e.g. scripts/test.sh --filter WireTests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "== generated protobuf code is fresh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc-c --proto_path=proto --c_out="$tmp" proto/l2s.proto
protoc --proto_path=proto --python_out="$tmp" proto/l2s.proto
stale=0
cmp -s "$tmp/l2s.pb-c.c" Sources/L2SProtoC/l2s.pb-c.c || stale=1
cmp -s "$tmp/l2s.pb-c.h" Sources/L2SProtoC/include/l2s.pb-c.h || stale=1
cmp -s "$tmp/l2s_pb2.py" clients/python/l2s_client/l2s_pb2.py || stale=1
if [ "$stale" -ne 0 ]; then
    echo "test: generated code is stale: run scripts/gen-proto.sh and commit the result" >&2
    exit 1
fi

echo "== Package.swift declares exactly the modules each target imports"
scripts/check-imports.py

echo "== Swift code formatted as .swift-format says (4 spaces, 120 columns)"
scripts/check-format.sh

echo "== swift build + test (release)"
swift build -c release --product l2s
swift test -c release "$@"

if [ "$#" -eq 0 ]; then
    echo "== numeric and model tests on the forced baseline kernels (L2S_ISA=baseline)"
    L2S_ISA=baseline swift test -c release --skip-build --filter 'NumericsTests|ModelsTests'
fi

if [ -d clients/python/tests ] && [ "$#" -eq 0 ]; then
    echo "== python client tests"
    # -rs prints why a test skipped (the multi-host fault test needs root and network namespaces).
    .venv/bin/python -m pytest -q -rs clients/python/tests
fi
