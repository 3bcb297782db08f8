#!/usr/bin/env bash
# Regenerates the protobuf-c code in Sources/L2SProtoC from proto/l2s.proto (and the Python code of
# clients/python). The output is committed; CI runs this and fails when git sees a difference.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v protoc-c >/dev/null || { echo "gen-proto: protoc-c not found; run scripts/setup.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc-c --proto_path=proto --c_out="$tmp" proto/l2s.proto
mv "$tmp/l2s.pb-c.c" Sources/L2SProtoC/l2s.pb-c.c
# The header moves to include/, so the .c file includes it by its bare name.
mv "$tmp/l2s.pb-c.h" Sources/L2SProtoC/include/l2s.pb-c.h
if command -v protoc >/dev/null; then
    mkdir -p clients/python/l2s_client
    protoc --proto_path=proto --python_out=clients/python/l2s_client proto/l2s.proto
fi
echo "gen-proto: regenerated Sources/L2SProtoC and clients/python/l2s_client/l2s_pb2.py"
