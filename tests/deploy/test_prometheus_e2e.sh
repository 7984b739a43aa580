#!/usr/bin/env bash
# End-to-end monitoring (issue 7): a real Prometheus server, loaded with deploy/prometheus/{prometheus.yml,
# rules.yml} (1 s scrape and evaluation), scrapes a coordinator and 2 workers on 127.0.0.1 while `aftershock
# load` drives 65 s of searches; the recording rules for QPS, p99 and recall must agree with what the load tool
# measured, the coordinator's own histogram, and an offline recall computation. Everything is stopped by PID.
# Usage: test_prometheus_e2e.sh CLI BUILD WORKER COORDINATOR
# DASHBOARD_PNG=FILE: also render the dashboard's main panels from the run (deploy/grafana/render-panels.sh).
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
command -v prometheus >/dev/null || { echo "SKIP: prometheus not found (Debian package prometheus)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
source "$SRC/tests/serving/lib.sh" "$@"
LOAD_S=65
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# prom_query EXPR [TIME]: the first sample's value of an instant query ("" when empty).
prom_query() {
  curl -s "127.0.0.1:$P_PORT/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
check() { python3 -c "import sys; sys.exit(0 if ($1) else 1)" || fail "$2"; }

"$CLI" gen --docs 3000 --queries 50 --seed 7 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "aftershock gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 200
declare -a MPORT
for s in 0 1; do
  MPORT[s]=$(free_port)
  start_worker "w$s" --index "$WORK/idx" --shards "$s" --metrics-listen "127.0.0.1:${MPORT[s]}"
done
# Every query is re-run exactly (--recall-sample 1); the window holds the 50 queries once.
start_coordinator --recall-sample 1 --recall-window 50 --hedge-ms -1
wait_ready 20

# Prometheus with the shipped config and rules; only the intervals shrink (1 s) and the targets are ours.
P="$WORK/prom"
mkdir -p "$P/targets"
cp "$SRC/deploy/prometheus/prometheus.yml" "$SRC/deploy/prometheus/rules.yml" "$P/"
sed -i 's/^  scrape_interval: .*/  scrape_interval: 1s/; s/^  evaluation_interval: .*/  evaluation_interval: 1s/' "$P/prometheus.yml"
echo "[{\"targets\": [\"127.0.0.1:$C_PORT\"]}]" >"$P/targets/coordinator.json"
echo "[{\"targets\": [\"127.0.0.1:${MPORT[0]}\", \"127.0.0.1:${MPORT[1]}\"]}]" >"$P/targets/worker.json"
P_PORT=$(free_port)
prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" --web.listen-address="127.0.0.1:$P_PORT" \
  >"$WORK/prometheus.log" 2>&1 &
BG_PIDS+=("$!")
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$P_PORT/-/ready" >/dev/null && break; sleep 0.1; done
for _ in $(seq 1 60); do [ "$(prom_query 'sum(up)')" = 3 ] && break; sleep 0.5; done
[ "$(prom_query 'sum(up)')" = 3 ] || fail "Prometheus does not scrape all 3 targets: $(curl -s "127.0.0.1:$P_PORT/api/v1/targets" | head -c 600)"

t0=$(date +%s.%N)
"$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --mode sparse --k 10 --concurrency 2 --duration "$LOAD_S" \
  --fail-on-error >"$WORK/load.out" 2>"$WORK/load.log" || fail "aftershock load: $(tail -1 "$WORK/load.log")"
sleep 2   # two more rule evaluations
load=$(cat "$WORK/load.out")
echo "load: $load"
field() { grep -o "$1=[0-9.]*" <<<"$load" | cut -d= -f2; }
load_qps=$(field qps)
load_p99=$(awk -v ms="$(field p99_ms)" 'BEGIN { print ms / 1000 }')

# Evaluate at t0 + 62 s: the rules' 1m windows then lie wholly inside the load.
at=$(python3 -c "print($t0 + 62)")
qps=$(prom_query 'aftershock:search_qps:rate1m' "$at")
p99=$(prom_query 'aftershock:request_duration_seconds:p99_1m{endpoint="/v1/search"}' "$at")
err=$(prom_query 'aftershock:search_error_ratio:rate1m' "$at")
echo "prometheus at t0+62s: qps=$qps p99=$p99 error_ratio=$err (load tool: qps=$load_qps p99=$load_p99)"
[ -n "$qps" ] && [ -n "$p99" ] || fail "recording rules returned nothing: $(curl -s "127.0.0.1:$P_PORT/api/v1/rules" | head -c 600)"
check "abs($qps - $load_qps) <= 0.10 * $load_qps" "QPS rule $qps vs load tool $load_qps: more than 10% apart"
check "$err == 0" "error ratio $err, but every request returned 200"

# p99: must fall in (or next to) the histogram bucket that holds the 99th percentile of the coordinator's own
# /metrics counts, and cannot exceed the bucket above the client-side p99 (server time <= client time).
curl -s "127.0.0.1:$C_PORT/metrics" >"$WORK/metrics.txt"
read -r lo hi cap < <(python3 - "$WORK/metrics.txt" "$load_p99" <<'PY'
import re, sys
b = sorted((float("inf") if m[0] == "+Inf" else float(m[0]), float(m[1])) for m in
           re.findall(r'aftershock_request_duration_seconds_bucket\{endpoint="/v1/search",le="([^"]+)"\} (\S+)', open(sys.argv[1]).read()))
bounds = [0.0] + [le for le, _ in b]
i = next(i for i, (le, n) in enumerate(b) if n >= 0.99 * b[-1][1])
cap = next(le for le, _ in b if le >= float(sys.argv[2]))
print(bounds[max(i - 1, 0)], bounds[min(i + 2, len(bounds) - 1)], cap)
PY
)
check "$lo <= $p99 <= $hi" "p99 rule $p99 outside the /metrics p99 bucket neighbourhood [$lo, $hi]"
check "$p99 <= $cap" "p99 rule $p99 above the bucket bound $cap over the client-side p99 $load_p99"

# Recall: the rule equals the coordinator's gauge, and the gauge equals offline recall@10 of the same index
# (local Seismic search vs local exact search over the 50 queries).
rec=$(prom_query 'aftershock:recall_estimate{mode="sparse"}')
gauge=$(awk '/^aftershock_recall_estimate\{mode="sparse"\}/ { print $2 }' "$WORK/metrics.txt")
"$CLI" search --index "$WORK/idx" --corpus "$WORK/c.h5" --k 10 --out "$WORK/approx.tsv" >/dev/null 2>&1 || fail "aftershock search"
"$CLI" search --index "$WORK/idx" --corpus "$WORK/c.h5" --k 10 --exact --out "$WORK/exact.tsv" >/dev/null 2>&1 || fail "aftershock search --exact"
offline=$("$CLI" recall --run "$WORK/approx.tsv" --truth "$WORK/exact.tsv" --k 10 2>/dev/null | grep -o '[0-9]\.[0-9]*' | head -1)
echo "recall: rule=$rec coordinator gauge=$gauge offline=$offline"
[ -n "$rec" ] && [ -n "$gauge" ] && [ -n "$offline" ] || fail "missing recall value"
check "abs($rec - $gauge) < 1e-9" "recall rule $rec != coordinator gauge $gauge"
check "abs($gauge - $offline) <= 0.02" "online recall $gauge vs offline $offline: more than 0.02 apart"

if [ -n "${DASHBOARD_PNG:-}" ]; then
  bash "$SRC/deploy/grafana/render-panels.sh" "127.0.0.1:$P_PORT" "$t0" "$LOAD_S" "$DASHBOARD_PNG" || fail "render-panels.sh"
fi
echo "PASS: QPS, p99 and recall rules match"
