#!/usr/bin/env bash
# Installs everything l2s needs to build and test on Debian 12, as root, without prompts.
# Idempotent: running it twice changes nothing the second time.
#
#   scripts/setup.sh           Debian packages + a light .venv (pyzmq, protobuf) for the Python client tests
#   scripts/setup.sh --train   also torch, transformers, sentencepiece, tokenizers (fixtures, fine-tuning, peer benchmarks)
set -euo pipefail

usage() {
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
}

train=0
for arg in "$@"; do
    case "$arg" in
        --train) train=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (expected --train or --help)" >&2; exit 64 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# prometheus: only for its promtool, which the metrics tests run on every service's /metrics (docs/metrics.md).
# curl: the README's quick start, and the gateway test of the raw Server-Sent Events framing.
packages=(
    build-essential pkg-config
    libzmq3-dev libopenblas-dev
    libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
    libsentencepiece-dev libssl-dev libmicrohttpd-dev
    python3 python3-venv
    iproute2
    prometheus
    curl
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "setup: Debian packages already installed"
fi

# The project virtual environment: light packages for the Python client and its interop tests.
python=${PYTHON:-python3}
if [ ! -x "$root/.venv/bin/python" ]; then
    echo "setup: creating $root/.venv"
    "$python" -m venv "$root/.venv"
fi
pip=("$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" -r "$root/scripts/requirements.txt"
if [ "$train" -eq 1 ]; then
    echo "setup: installing training tooling (torch CPU, transformers, ...)"
    "${pip[@]}" -r "$root/scripts/requirements-train.txt"
fi
echo "setup: done"
