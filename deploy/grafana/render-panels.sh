#!/usr/bin/env bash
# Renders the dashboard's main panels to a PNG with gnuplot, from a live Prometheus that loads
# deploy/prometheus/rules.yml (no Grafana server needed). tests/deploy/test_prometheus_e2e.sh calls it with
# DASHBOARD_PNG set; the README's docs/img/dashboard.png comes from such a run.
# Usage: render-panels.sh PROM_HOST:PORT START_EPOCH SECONDS OUT.png
set -euo pipefail
prom="$1" start="$2" seconds="$3" out="$4"
command -v gnuplot >/dev/null || { echo "render-panels: gnuplot not found" >&2; exit 1; }
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
# One data file per panel; gnuplot blocks (two blank lines apart) per series, the legend in the header.
python3 - "$prom" "$start" "$seconds" "$data" <<'PY'
import json, sys, urllib.parse, urllib.request
prom, start, seconds, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
panels = {
    "qps": [('sum by (endpoint, code) (aftershock:requests:rate1m{endpoint=~"/v1/search.*"})', "{endpoint} {code}")],
    "latency": [(f'aftershock:request_duration_seconds:{q}_1m{{endpoint="/v1/search"}} * 1000', q) for q in ("p50", "p95", "p99")],
    "recall": [('aftershock:recall_estimate', "recall@10 {mode}"), ("aftershock:recall_target", "target")],
    "shard": [('aftershock:shard_request_duration_seconds:p99_1m * 1000', "shard {shard}")],
    "work": [('aftershock:worker_work_per_query:rate1m', "{route} {kind}")],
    "docs": [('max by (shard) (aftershock_index_documents{job="aftershock-coordinator"})', "shard {shard}")],
}
for name, queries in panels.items():
    blocks = []
    for expr, legend in queries:
        q = urllib.parse.urlencode({"query": expr, "start": start, "end": start + seconds, "step": 1})
        for s in json.load(urllib.request.urlopen(f"http://{prom}/api/v1/query_range?{q}"))["data"]["result"]:
            title = legend.format(**{k: v for k, v in s["metric"].items()})
            # Zeros dropped: the work panel is log-scale, and gnuplot's open-ended `for` stops at an empty block.
            rows = [f"{float(t) - start:.0f}\t{v}" for t, v in s["values"] if v not in ("NaN", "+Inf") and float(v) > 0]
            if rows:
                blocks.append(f'"{title}"\n' + "\n".join(rows))
    if not blocks:
        sys.exit(f"render-panels: no data for panel {name}")
    open(f"{out}/{name}.dat", "w").write("\n\n\n".join(blocks) + "\n")
PY
gnuplot <<GP
set terminal pngcairo size 1500,860 font "DejaVu Sans,10"
set output "$out"
set multiplot layout 2,3 title "Aftershock dashboard, main panels: Prometheus recording rules over ${seconds} s of load (rates use 1 min windows, so they ramp up first)"
set key top left autotitle columnheader noenhanced
set grid
set xlabel "seconds since load start"
set style data lines
set title "Search requests per second by endpoint, code"
plot for [i=0:*] "$data/qps.dat" index i using 1:2 lw 2
set title "Search latency (ms)"
plot for [i=0:*] "$data/latency.dat" index i using 1:2 lw 2
set title "Recall estimate vs target"
set key bottom right
set yrange [0:1.05]
plot for [i=0:*] "$data/recall.dat" index i using 1:2 lw 2
set yrange [*:*]
set key top left
set title "Per-shard p99 (ms)"
plot for [i=0:*] "$data/shard.dat" index i using 1:2 lw 2
set title "Worker work per query (exact = recall shadow)"
set logscale y
plot for [i=0:*] "$data/work.dat" index i using 1:2 lw 2
unset logscale y
set title "Index documents per shard"
set yrange [0:*]
plot for [i=0:*] "$data/docs.dat" index i using 1:2 lw 2
unset multiplot
GP
echo "render-panels: wrote $out"
