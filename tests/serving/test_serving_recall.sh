#!/usr/bin/env bash
# The online recall estimate (every query re-run exactly in the background here: --recall-sample 1) agrees
# within 0.02 with the offline recall of the same served answers against the corpus ground truth, for sparse
# (aggressive Seismic settings) and dense (HNSW with a small ef_search) traffic.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 6000 --queries 150 --seed 5 --dense-dim 32 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
"$CLI" groundtruth --corpus "$WORK/c.h5" --k 10 >"$WORK/gt.log" 2>&1 || fail "groundtruth"
"$CLI" groundtruth --corpus "$WORK/c.h5" --k 10 --mode dense >>"$WORK/gt.log" 2>&1 || fail "dense groundtruth"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 100 --dense-index hnsw --hnsw-m 4 --ef-construction 8
start_worker a --index "$WORK/idx"
start_coordinator --recall-sample 1 --timeout-ms 5000
wait_ready 20

check() {
  local mode="$1"; shift
  "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --mode "$mode" --k 10 --fail-on-error "$@" \
    --out "$WORK/served-$mode.tsv" >"$WORK/load-$mode.txt" 2>&1 || fail "load $mode: $(cat "$WORK/load-$mode.txt")"
  local n
  n=$(sed -n 's/^requests=\([0-9]*\) .*/\1/p' "$WORK/load-$mode.txt")
  # The shadow searches run after the answers: wait until every query has been re-run.
  for _ in $(seq 1 400); do
    [ "$(metric "aftershock_recall_samples_total{mode=\"$mode\"}")" = "$n" ] && break
    sleep 0.05
  done
  [ "$(metric "aftershock_recall_samples_total{mode=\"$mode\"}")" = "$n" ] || fail "$mode: only $(metric "aftershock_recall_samples_total{mode=\"$mode\"}") of $n shadow samples"
  local online offline
  online=$(metric "aftershock_recall_estimate{mode=\"$mode\"}")
  offline=$("$CLI" recall --run "$WORK/served-$mode.tsv" --corpus "$WORK/c.h5" --mode "$mode" --k 10 | awk '{print $2}')
  awk -v a="$online" -v b="$offline" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.02 && b < 0.995) }' \
    || fail "$mode: online recall $online vs offline $offline (must agree within 0.02, and the settings must lose some recall)"
  echo "ok: $mode: online recall estimate $online, offline recall $offline over $n queries"
}
check sparse --query-cut 2 --heap-factor 0.95
check dense --ef-search 10
echo "PASS"
