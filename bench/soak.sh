#!/usr/bin/env bash
# Soak (issue 8): a bounded loopback load at about 80% of saturation. Builds a small index (2 shards), starts two
# workers (replicas of both shards) and a coordinator on 127.0.0.1, finds the saturation QPS with a short closed-loop
# ramp (aftershock load --concurrency N --duration 5), then drives the cluster open-loop at 80% of it
# (aftershock load --rate, one trace line per request) for SECONDS, sampling the RSS (VmRSS) of the coordinator and
# the workers every 10 s. Prints one row per 10 s window (answers/s, p50, p99, non-200 answers, RSS) and a verdict:
#   - no answer other than 200, except 503 (the coordinator's deliberate "insufficient coverage / not ready"),
#     reported apart; transport errors and any other code fail;
#   - p99 stable: the last window's p99 at most 2x the larger of the first post-warm-up window's and the median
#     post-warm-up window's (the first window's is reported too);
#   - RSS growth after warm-up (the first tenth of the run, at least one window) below 5% for every process.
# Usage: bench/soak.sh [BUILD_DIR] [SECONDS] [DOCS]    (defaults: build, 600, 20000). Exit 1 when the verdict fails.
# SOAK_OUT=DIR keeps the request trace, the RSS samples and the logs there.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/build}/bin"
RUN_S="${2:-600}"
DOCS="${3:-20000}"
WINDOW=10
(( RUN_S >= 2 * WINDOW )) || { echo "soak: SECONDS must be at least $((2 * WINDOW))" >&2; exit 2; }
# The serving tests' helpers: processes on 127.0.0.1 with OS-picked ports, all stopped by PID at exit.
source "$ROOT/tests/serving/lib.sh" "$BIN/aftershock" "$BIN/aftershock-build" "$BIN/aftershock-worker" "$BIN/aftershock-coordinator"

"$CLI" gen --docs "$DOCS" --queries 1000 --seed 5 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 500
start_worker a --index "$WORK/idx"
start_worker b --index "$WORK/idx"
start_coordinator --recall-sample 0
wait_ready 30
load() { "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --min-coverage 1 "$@" 2>>"$WORK/load-errors.log"; }
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<" $2"; }

echo "## Soak: $DOCS documents, 2 shards x 2 replicas (1 search thread each), $(nproc --all) cores, ${RUN_S} s"
echo
echo "Saturation ramp (closed loop, 5 s each):"
echo "| clients | QPS | p99 ms |"
echo "|---|---|---|"
load --concurrency 4 --duration 3 >/dev/null  # warm-up: connections, page cache
sat=0 sat_c=1
for c in 1 2 4 8 16; do
  line=$(load --concurrency "$c" --duration 5)
  qps=$(field qps "$line")
  echo "| $c | $qps | $(field p99_ms "$line") |"
  if awk -v q="$qps" -v s="$sat" 'BEGIN { exit !(q > s) }'; then sat=$qps sat_c=$c; fi
done
rate=$(awk -v s="$sat" 'BEGIN { printf "%.0f", 0.8 * s }')
conc=$((2 * sat_c))  # open loop: connections to absorb jitter, so requests go out when due
echo
echo "Saturation $sat QPS at $sat_c clients; soak at $rate QPS (80%) over $conc connections for ${RUN_S} s."
echo

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
load --rate "$rate" --concurrency "$conc" --duration "$RUN_S" --trace "$WORK/trace.txt" >"$WORK/soak.txt" &
LOAD=$!
BG_PIDS+=("$LOAD")
: >"$WORK/rss.txt"
t0=$(now_ms)
for ((k = 1; k * WINDOW <= RUN_S; ++k)); do
  # Sample at the end of window k (bounded: the load ends by itself after RUN_S).
  while (( $(now_ms) - t0 < k * WINDOW * 1000 )); do sleep 0.2; done
  echo "$k $(rss_kb "$C_PID") $(rss_kb "${W_PID[a]}") $(rss_kb "${W_PID[b]}")" >>"$WORK/rss.txt"
done
wait "$LOAD" || fail "load: $(cat "$WORK/soak.txt")"

# Windows of the trace: latency percentiles and codes by due time (start), throughput by completion time; p50 and
# p99 by nearest rank.
awk -v w="$WINDOW" '!/^#/ { print int($1 / (w * 1000)) + 1, $2, $3, int(($1 + $2) / (w * 1000)) + 1 }' "$WORK/trace.txt" \
  | sort -k1,1n -k2,2g >"$WORK/windows.txt"
awk -v n_windows="$((RUN_S / WINDOW))" '
  NR == FNR { n[$1]++; next }
  {
    k = $1; i[k]++; done[$4]++
    if (i[k] == int(0.5 * n[k] + 0.999999)) p50[k] = $2
    if (i[k] == int(0.99 * n[k] + 0.999999)) p99[k] = $2
    if ($3 == 503) s503[k]++; else if ($3 != 200) bad[k]++
  }
  END { for (k = 1; k <= n_windows; ++k) printf "%d %d %.3f %.3f %d %d\n", k, done[k], p50[k], p99[k], s503[k], bad[k] }
' "$WORK/windows.txt" "$WORK/windows.txt" >"$WORK/stats.txt"
# with_rss: each window's stats and its RSS sample: window answered p50 p99 n503 bad rss_c rss_a rss_b (kB).
with_rss() { awk 'NR == FNR { rss[$1] = $2 " " $3 " " $4; next } { print $0, ($1 in rss ? rss[$1] : "0 0 0") }' "$WORK/rss.txt" "$WORK/stats.txt"; }
echo "| window | answers/s | p50 ms | p99 ms | 503 | other non-200 | RSS coordinator MiB | RSS worker a MiB | RSS worker b MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
with_rss | awk -v w="$WINDOW" '{
  printf "| %d-%d s | %.1f | %.2f | %.2f | %d | %d | %.1f | %.1f | %.1f |\n", ($1 - 1) * w, $1 * w, $2 / w, $3, $4, $5, $6, $7 / 1024, $8 / 1024, $9 / 1024 }'
echo
echo "load: $(tr '\n' ' ' <"$WORK/soak.txt")"

warm=$(( RUN_S / WINDOW / 10 )); (( warm >= 1 )) || warm=1
lag=$(sed -n 's/.*max_lag_ms=\([0-9.]*\).*/\1/p' "$WORK/soak.txt")
verdict=$(with_rss | awk -v warm="$warm" -v w="$WINDOW" -v lag="${lag:-0}" '
  { k = $1; p99[k] = $4; s503 += $5; bad += $6; last = k
    if (k > warm) after[++m] = $4
    for (c = 7; c <= 9; ++c) { if (k == warm) base[c] = $c; end_[c] = $c } }
  END {
    # median p99 of the windows after warm-up (insertion sort of a few dozen values)
    for (i = 2; i <= m; ++i) for (j = i; j > 1 && after[j - 1] > after[j]; --j) { t = after[j]; after[j] = after[j - 1]; after[j - 1] = t }
    median = after[int((m + 1) / 2)]
    ref = p99[warm + 1] > median ? p99[warm + 1] : median
    p99_ok = p99[last] <= 2 * ref
    growth = 0; names[7] = "coordinator"; names[8] = "worker a"; names[9] = "worker b"; detail = ""
    for (c = 7; c <= 9; ++c) {
      g = base[c] > 0 ? 100 * (end_[c] - base[c]) / base[c] : 0
      if (g > growth) growth = g
      detail = detail sprintf("%s%s %+.1f%%", detail == "" ? "" : ", ", names[c], g)
    }
    ok = bad == 0 && p99_ok && growth < 5
    printf "%s: non-200 other than 503: %d, deliberate 503: %d; p99 first window %.2f ms, first after warm-up %.2f ms, " \
           "median %.2f ms, last %.2f ms (%s: last <= 2 x max(first after warm-up, median)); RSS growth after warm-up (%d s): %s (%s)",
           ok ? "PASS" : "FAIL", bad, s503, p99[1], p99[warm + 1], median, p99[last], p99_ok ? "stable" : "NOT stable", warm * w,
           detail, growth < 5 ? "< 5%" : "NOT < 5%"
    # Open loop: latencies count from when each request was due. A large lag means the rate was above what this
    # machine sustained (a shared or loaded machine), and the latencies above include that queueing.
    if (lag > 1000) printf "; note: the driver fell behind its schedule by up to %.0f ms", lag
    printf "\n"
  }')
echo "verdict: $verdict"
if [[ -n "${SOAK_OUT:-}" ]]; then
  mkdir -p "$SOAK_OUT"
  cp "$WORK/trace.txt" "$WORK/rss.txt" "$WORK/stats.txt" "$WORK/soak.txt" "$WORK"/*.log "$SOAK_OUT/"
fi
[[ "$verdict" == PASS* ]]
