#!/bin/sh
# shellcheck disable=SC3028,SC2153  # the kubelet exports HOSTNAME (= pod name); SHARDS comes from the ConfigMap
# Worker pod entry point: the StatefulSet ordinal (the suffix of the pod name) picks the shard group; group g
# serves shards g, g+SHARD_GROUPS, g+2*SHARD_GROUPS, ... < SHARDS. Every replica set (aftershock-worker-a, -b)
# maps ordinals the same way, so pods with equal ordinals are replicas of the same shards.
set -eu
ord="${HOSTNAME##*-}"
case "$ord" in '' | *[!0-9]*) echo "worker-entrypoint: cannot read an ordinal from HOSTNAME=$HOSTNAME" >&2; exit 1 ;; esac
if [ "$ord" -ge "$SHARD_GROUPS" ]; then
  echo "worker-entrypoint: ordinal $ord >= SHARD_GROUPS=$SHARD_GROUPS: scale the StatefulSet to SHARD_GROUPS" >&2
  exit 1
fi
shards=""
s="$ord"
while [ "$s" -lt "$SHARDS" ]; do
  shards="${shards:+$shards,}$s"
  s=$((s + SHARD_GROUPS))
done
[ -n "$shards" ] || { echo "worker-entrypoint: no shard for ordinal $ord (SHARDS=$SHARDS)" >&2; exit 1; }
# exec: the worker replaces the shell as PID 1, so the kubelet's SIGTERM reaches it and it drains.
exec "${AFTERSHOCK_WORKER:-aftershock-worker}" --index "$INDEX_DIR" --shards "$shards" \
  --listen 0.0.0.0:7000 --metrics-listen 0.0.0.0:9464 --drain-timeout-ms 25000 "$@"
