#!/usr/bin/env bash
# Prints the l2s-curve Secret (fresh CURVE keys) as a Kubernetes manifest; apply it before deploy/k8s/:
#   deploy/curve-secret.sh | kubectl apply -f -
# Keys: router.key (the router's pair), router.pub (its public key, for workers and clients), worker.key (the
# workers' pair) and worker-keys.txt (the public keys allowed to join as workers). One pair for every worker keeps
# the example short; give each pool its own pair and list them all in worker-keys.txt for finer revocation.
# L2S is the command that runs l2s (default: l2s on PATH; for example L2S="podman run --rm l2s:0.1.0").
set -euo pipefail
l2s=${L2S:-l2s}
router=$($l2s keygen)
worker=$($l2s keygen)
public() { sed -E 's/.*"public":"([^"]+)".*/\1/' <<<"$1"; }
for pair in "$router" "$worker"; do
    [[ "$(public "$pair")" =~ ^.{40}$ ]] || { echo "curve-secret: '$l2s keygen' printed no key pair" >&2; exit 1; }
done
cat <<MANIFEST
apiVersion: v1
kind: Secret
metadata:
  name: l2s-curve
  labels: {app.kubernetes.io/name: l2s}
type: Opaque
stringData:
  router.key: |
    $router
  router.pub: |-
    $(public "$router")
  worker.key: |
    $worker
  # Public keys only, as JSON lines (as l2s keygen prints them).
  worker-keys.txt: |
    {"public":"$(public "$worker")"}
MANIFEST
