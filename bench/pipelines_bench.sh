#!/usr/bin/env bash
# Retrieval pipelines (issue 9), all on 127.0.0.1: (a) a worker serving sparse in RAM with the dense vectors on
# disk vs in RAM (worker RSS from /proc, rerank latency through HTTP, recall@10 against full hybrid);
# (c) the latency of each pipeline step through HTTP (p50/p99) on 2 workers x 2 shards.
# Usage: bench/pipelines_bench.sh [BUILD_DIR] [DOCS] [DENSE_DIM]   (raw lines in bench/results/pipelines-*.txt)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/build}/bin"
DOCS="${2:-100000}"
DIM="${3:-256}"
OUT="$ROOT/bench/results"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aftershock-pipebench.XXXXXX")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$OUT"

"$BIN/aftershock" gen --docs "$DOCS" --queries 500 --seed 5 --dense-dim "$DIM" --out "$WORK/c.h5" >/dev/null 2>&1
mpirun -n 2 "$BIN/aftershock-build" --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 2 --lambda 500 --dense-index none >/dev/null 2>&1

start() {  # start NAME PORTFILE CMD... (sets LAST_PID)
  local name="$1" pf="$2"; shift 2
  rm -f "$pf"
  "$@" --port-file "$pf" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 1 600); do [[ -s "$pf" ]] && return 0; sleep 0.1; done
  echo "$name did not start" >&2; cat "$WORK/$name.log" >&2; exit 1
}
cluster() {  # cluster N_WORKERS WORKER_ARGS...  (sets URL, WPIDS, C)
  local n="$1"; shift
  WPIDS=(); local addrs=""
  for i in $(seq 1 "$n"); do
    start "w$i" "$WORK/w$i.port" "$BIN/aftershock-worker" --index "$WORK/idx" --listen 127.0.0.1:0 --threads 1 "$@"
    WPIDS+=("$LAST_PID"); addrs+="${addrs:+,}127.0.0.1:$(cat "$WORK/w$i.port")"
  done
  start coord "$WORK/c.port" "$BIN/aftershock-coordinator" --listen 127.0.0.1:0 --workers "$addrs" --recall-sample 0; C=$LAST_PID
  URL="127.0.0.1:$(cat "$WORK/c.port")"
  for _ in $(seq 1 100); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" == 200 ]] && break; sleep 0.1; done
}
down() { kill -TERM "$C" "${WPIDS[@]}"; wait "$C" "${WPIDS[@]}" 2>/dev/null || true; }
load() { "$BIN/aftershock" load --url "$URL" --corpus "$WORK/c.h5" --k 10 "$@" 2>/dev/null; }
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<" $2"; }
rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
recall() { "$BIN/aftershock" recall --run "$1" --truth "$WORK/hybrid.tsv" --k 10 2>/dev/null | awk '{ print $2 }'; }

# Reference: full hybrid (exact dense over the stored vectors, linear minmax 0.5/0.5 over 200 candidates per route).
"$BIN/aftershock" search --index "$WORK/idx" --corpus "$WORK/c.h5" --mode hybrid --k 10 --candidates 200 --fusion linear \
  --normalization minmax --w-sparse 0.5 --w-dense 0.5 --out "$WORK/hybrid.tsv" 2>/dev/null

echo "## (a) dense store: memory vs disk ($DOCS docs, dense dim $DIM, 2 shards on one worker)"
echo "| dense store | worker RSS MiB | rerank p50 ms | rerank p99 ms | recall@10 vs full hybrid |"
echo "|---|---:|---:|---:|---:|"
for store in memory disk; do
  cluster 1 --dense-store "$store"
  load --mode hybrid --concurrency 1 --max-queries 50 --rerank-depth 200 --rerank-weight 0.5 >/dev/null  # warm-up
  line=$(load --mode hybrid --concurrency 1 --rerank-depth 200 --rerank-weight 0.5 --out "$WORK/rerank-$store.tsv")
  rss=$(rss_mib "${WPIDS[0]}")
  echo "$store $line rss_mib=$rss" >>"$OUT/pipelines-memory.txt"
  echo "| $store | $rss | $(field p50_ms "$line") | $(field p99_ms "$line") | $(recall "$WORK/rerank-$store.tsv") |"
  down
done
sparse_recall=$(load_sparse() { :; }; "$BIN/aftershock" search --index "$WORK/idx" --corpus "$WORK/c.h5" --mode sparse --k 10 \
  --out "$WORK/sparse.tsv" 2>/dev/null; recall "$WORK/sparse.tsv")
echo "(sparse alone: recall@10 vs full hybrid $sparse_recall)"

echo
echo "## (c) latency per pipeline step through HTTP (2 workers x 2 shards, concurrency 1)"
echo "| request | p50 ms | p99 ms | p50 worker ms |"
echo "|---|---:|---:|---:|"
cluster 2
step() {  # step LABEL LOAD_ARGS...
  local label="$1"; shift
  load --concurrency 1 --max-queries 50 "$@" >/dev/null
  local line; line=$(load --concurrency 1 "$@")
  echo "$label $line" >>"$OUT/pipelines-latency.txt"
  echo "| $label | $(field p50_ms "$line") | $(field p99_ms "$line") | $(field p50_search_ms "$line") |"
}
step "sparse" --mode sparse
step "hybrid (RRF, 100 candidates)" --mode hybrid
step "rerank depth 200" --mode hybrid --rerank-depth 200
step "sparse PRF (m 3, t 10)" --mode sparse --prf-sparse --prf-docs 3 --prf-terms 10
step "dense PRF (m 3), interpolate after" --mode hybrid --prf-dense --prf-docs 3 --prf-interpolate after
step "sparse + dense PRF, interpolate both" --mode hybrid --prf-sparse --prf-dense --prf-docs 3 --prf-interpolate both
down
