#!/usr/bin/env bash
# Serving benchmarks (issue 6), all on 127.0.0.1 in one run: coordinator overhead with 2 shards, QPS against
# client concurrency, a bounded wrk run, and hedging against a replica slowed by the test-only delay flag.
# Usage: bench/serving_bench.sh [BUILD_DIR] [DOCS]   (prints markdown tables; raw lines in bench/results/serving-*.txt)
#        SECTIONS="overhead qps wrk hedge" (default: all) picks which parts run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/build}/bin"
DOCS="${2:-100000}"
OUT="$ROOT/bench/results"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aftershock-servebench.XXXXXX")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$OUT"

"$BIN/aftershock" gen --docs "$DOCS" --queries 1000 --seed 3 --out "$WORK/c.h5" >/dev/null 2>&1
mpirun -n 2 "$BIN/aftershock-build" --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 2 --lambda 500 >/dev/null 2>&1

start() {  # start NAME PORTFILE CMD... (sets LAST_PID)
  local name="$1" pf="$2"; shift 2
  rm -f "$pf"
  "$@" --port-file "$pf" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 1 300); do [[ -s "$pf" ]] && return 0; sleep 0.1; done
  echo "$name did not start" >&2; cat "$WORK/$name.log" >&2; exit 1
}
cluster() {  # cluster DELAY_MS_OF_WORKER_2 COORDINATOR_ARGS...  (sets URL, W1, W2, C)
  local delay="$1"; shift
  start w1 "$WORK/w1.port" "$BIN/aftershock-worker" --index "$WORK/idx" --listen 127.0.0.1:0 --threads 1; W1=$LAST_PID
  start w2 "$WORK/w2.port" "$BIN/aftershock-worker" --index "$WORK/idx" --listen 127.0.0.1:0 --threads 1 --test-delay-ms "$delay"; W2=$LAST_PID
  start coord "$WORK/c.port" "$BIN/aftershock-coordinator" --listen 127.0.0.1:0 \
    --workers "127.0.0.1:$(cat "$WORK/w1.port"),127.0.0.1:$(cat "$WORK/w2.port")" --recall-sample 0 "$@"; C=$LAST_PID
  URL="127.0.0.1:$(cat "$WORK/c.port")"
  for _ in $(seq 1 100); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" == 200 ]] && break; sleep 0.1; done
}
down() { kill -TERM "$C" "$W1" "$W2"; wait "$C" "$W1" "$W2" 2>/dev/null || true; }
load() { "$BIN/aftershock" load --url "$URL" --corpus "$WORK/c.h5" "$@" 2>/dev/null; }
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<" $2"; }

SECTIONS="${SECTIONS:-overhead qps wrk hedge}"
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

echo "## Serving: $DOCS generated documents, 2 shards, 2 workers (1 search thread each), $(nproc --all) cores"
if want overhead; then
echo
echo "### Coordinator overhead (one client, 1000 queries, each once; 5 runs, medians)"
echo "| io threads | p50 HTTP ms | p50 worker search ms | p50(HTTP - search) ms | p50 HTTP - p50 search ms |"
echo "|---|---|---|---|---|"
for io in 1 2; do
  cluster 0 --io-threads "$io" --hedge-ms -1
  load --max-queries 200 >/dev/null  # warm-up
  : >"$WORK/ovh.txt"
  for _ in 1 2 3 4 5; do load | tee -a "$OUT/serving-overhead.txt" >>"$WORK/ovh.txt"; done
  med() { awk -v f="$1" '{ for (i = 1; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$WORK/ovh.txt" | sort -g | sed -n 3p; }
  printf '| %s | %s | %s | %s | %.3f |\n' "$io" "$(med p50_ms)" "$(med p50_search_ms)" "$(med p50_overhead_ms)" \
    "$(awk -v a="$(med p50_ms)" -v b="$(med p50_search_ms)" 'BEGIN { print a - b }')"
  down
done
fi

if want qps || want wrk; then
cluster 0
fi
if want qps; then
echo
echo "### QPS against client concurrency (5 s each)"
echo "| clients | QPS | p50 ms | p99 ms |"
echo "|---|---|---|---|"
for c in 1 2 4 8 16 32; do
  r=$(load --concurrency "$c" --duration 5 | tee -a "$OUT/serving-qps.txt")
  printf '| %s | %s | %s | %s |\n' "$c" "$(field qps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")"
done
fi
if want wrk; then
echo
echo "### wrk (10 s, 2 threads, 8 connections, one fixed 45-term query)"
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"k":10,"sparse":{"indices":[1996,2000,2003,2005,2019,2023,2024,2028,2033,2045,2047,2054,2078,2093,2108,2115,2156,2195,2224,2235,2323,2327,2364,2405,2445,2457,2488,2515,2550,2567,2624,2653,2769,2791,2828,2836,2897,2968,3007,3025,3046,3112,3264,3266,3433],"values":[0.9,0.3,1.2,0.4,0.8,0.2,1.5,0.6,0.3,0.7,0.2,0.9,1.1,0.4,0.5,0.6,0.2,0.8,0.3,1.3,0.4,0.5,0.9,0.2,0.6,0.7,0.3,0.8,0.2,2.1,0.5,0.4,0.6,0.3,0.7,0.2,0.9,0.4,0.5,0.3,0.6,0.8,0.2,0.4,0.7]}}'
LUA
wrk -t2 -c8 -d10s --latency -s "$WORK/post.lua" "http://$URL/v1/search" | tee "$OUT/serving-wrk.txt" | sed 's/^/    /'
fi
if want qps || want wrk; then
down
fi

want hedge || exit 0
echo
echo "### Hedging: worker 2 slowed by --test-delay-ms 20 (2 clients, 10 s each)"
echo "| setup | QPS | p50 ms | p99 ms | hedged requests |"
echo "|---|---|---|---|---|"
run_hedge() {  # run_hedge LABEL DELAY COORD_ARGS...
  local label="$1" delay="$2"; shift 2
  cluster "$delay" "$@"
  load --concurrency 2 --duration 2 >/dev/null  # warm-up: latency windows fill
  local r
  r=$(load --concurrency 2 --duration 10 | tee -a "$OUT/serving-hedge.txt")
  local hedged
  hedged=$(curl -s "$URL/metrics" | awk '/^aftershock_hedged_requests_total/{print $2}')
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$(field qps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$hedged"
  down
}
run_hedge "no slow replica (baseline)" 0
run_hedge "slow replica, hedging at shard p95 (default)" 20
run_hedge "slow replica, hedging off" 20 --hedge-ms -1
