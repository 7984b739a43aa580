#!/usr/bin/env bash
# End-to-end CLI test: gen -> inspect --verify -> groundtruth -> search --exact -> recall, and the CLI's
# answers to bad input (one-line error, non-zero exit, no crash, no output file left half-written).
set -euo pipefail
BIN="$1"
BUILD_BIN="$2"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" --version | grep -q '^aftershock ' || fail "--version"
"$BIN" gen --docs 3000 --queries 50 --dense-dim 16 --seed 7 --out "$WORK/c.h5"
"$BIN" inspect --corpus "$WORK/c.h5" --verify | grep -q '^verify      ok' || fail "inspect --verify"
"$BIN" groundtruth --corpus "$WORK/c.h5" --k 20 --mode sparse
"$BIN" groundtruth --corpus "$WORK/c.h5" --k 20 --mode dense
"$BIN" inspect --corpus "$WORK/c.h5" | grep -q 'groundtruth sparse: 50 queries x k 20' || fail "groundtruth stored"

for mode in sparse dense; do
  "$BIN" search --corpus "$WORK/c.h5" --mode "$mode" --exact --k 10 --threads 2 --out "$WORK/$mode.tsv" 2>"$WORK/$mode.err"
  grep -Eq '^queries=50 mean_us=[0-9.]+ p50_us=[0-9.]+ p99_us=[0-9.]+ threads=2$' "$WORK/$mode.err" || fail "summary line ($mode)"
  [[ $(wc -l <"$WORK/$mode.tsv") -eq 500 ]] || fail "500 result lines ($mode)"
  awk -F'\t' 'NF != 4 || $3 < 1 || $3 > 10 { exit 1 }' "$WORK/$mode.tsv" || fail "run format ($mode)"
  out=$("$BIN" recall --run "$WORK/$mode.tsv" --corpus "$WORK/c.h5" --k 10 --mode "$mode")
  # The search and the stored ground truth are the same exact oracle: recall must be exactly 1.
  grep -Eq '^recall@10 1(\.0+)? ' <<<"$out" || fail "exact recall is not 1 ($mode): $out"
done
# One thread and two threads give the same run.
"$BIN" search --corpus "$WORK/c.h5" --exact --threads 1 --out "$WORK/one.tsv" 2>/dev/null
cmp -s "$WORK/one.tsv" "$WORK/sparse.tsv" || fail "thread count changed the results"

# Seismic: build (an MPI singleton, no mpirun), inspect, search; approximate recall above a floor, and
# conservative settings (every list, no block skipped, no pruning) recover the exact answers.
"$BUILD_BIN" --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 3 --lambda 100 2>"$WORK/build.log"
"$BIN" inspect --index "$WORK/idx" >"$WORK/inspect.out"
grep -q '^verify      ok' "$WORK/inspect.out" || fail "inspect --index"
grep -q 'documents stored heaviest entry first' "$WORK/inspect.out" || fail "inspect: forward entry order"
grep -q "/block, 8-bit codes)" "$WORK/inspect.out" || fail "inspect: small lists keep 8-bit summary codes"
"$BIN" search --index "$WORK/idx" --corpus "$WORK/c.h5" --k 10 --query-cut 10 --heap-factor 0.8 --out "$WORK/seismic.tsv" 2>/dev/null
recall=$("$BIN" recall --run "$WORK/seismic.tsv" --corpus "$WORK/c.h5" --k 10 --mode sparse | awk '{print $2}')
awk -v r="$recall" 'BEGIN { exit !(r >= 0.7) }' || fail "seismic recall $recall below 0.7"
"$BUILD_BIN" --corpus "$WORK/c.h5" --out "$WORK/idx-full" --shards 2 --lambda 100000 --alpha 1 2>/dev/null
"$BIN" search --index "$WORK/idx-full" --corpus "$WORK/c.h5" --k 10 --query-cut 1000 --heap-factor 0 --screen-entries 0 \
  --out "$WORK/full.tsv" 2>/dev/null
recall=$("$BIN" recall --run "$WORK/full.tsv" --corpus "$WORK/c.h5" --k 10 --mode sparse | awk '{print $2}')
awk -v r="$recall" 'BEGIN { exit !(r >= 0.99) }' || fail "unpruned seismic recall $recall below 0.99 (f16 rounding only)"
# Screening with factor 0 drops nothing (weights are positive): the same run, byte for byte.
"$BIN" search --index "$WORK/idx-full" --corpus "$WORK/c.h5" --k 10 --query-cut 1000 --heap-factor 0 --screen-entries 16 \
  --screen-factor 0 --out "$WORK/full-screen0.tsv" 2>/dev/null
cmp -s "$WORK/full.tsv" "$WORK/full-screen0.tsv" || fail "screen factor 0 changed the results"
# The prefix lead changes only when memory is asked for: the pruned index's run, byte for byte, with and without.
"$BIN" search --index "$WORK/idx" --corpus "$WORK/c.h5" --k 10 --query-cut 10 --heap-factor 0.8 --prefix-lead 3 \
  --out "$WORK/seismic-lead3.tsv" 2>/dev/null
cmp -s "$WORK/seismic.tsv" "$WORK/seismic-lead3.tsv" || fail "prefix lead 3 changed the results"

# bench: exact baseline first, then every point with and without screening, side by side, as CSV.
"$BIN" bench --index "$WORK/idx-full" --corpus "$WORK/c.h5" --query-cuts 1000 --heap-factors 0 --screen-entries 0,16 \
  --csv "$WORK/sweep.csv" >"$WORK/bench.out" 2>/dev/null
head -1 "$WORK/sweep.csv" | grep -q ',docs_scored,screen_entries,screen_factor,docs_full,reachable,speedup_lowest$' \
  || fail "bench CSV header"
[[ $(wc -l <"$WORK/sweep.csv") -eq 4 ]] || fail "bench CSV: header, exact and two points"
# Nothing pruned and every list walked: every exact answer is reachable. The index has no kNN graph, so the
# default (all of the graph) reports 0 neighbours used. Exact search is 1x itself; a point's slowest round is no faster
# than its median one.
awk -F, 'NR == 2 && ($1 != "exact" || $7 != 1 || $17 != 1 || $12 != 1 || $18 != 1) { exit 1 }
         NR > 2 && ($18 <= 0 || $18 > $12) { exit 1 }
         NR == 3 && ($1 != "seismic" || $4 != 0 || $14 != 0 || $7 < 0.99 || $16 != $13 || $17 != 1) { exit 1 }
         NR == 4 && ($14 != 16 || $15 != 0.70 || $16 > $13 || $13 != prev13 || $17 != 1) { exit 1 }
         { prev13 = $13 }' "$WORK/sweep.csv" || { cat "$WORK/sweep.csv" >&2; fail "bench CSV rows"; }
# On the pruned 3-shard index, without kNN, recall never exceeds the share of answers in the walked lists,
# which grows with query_cut and stays below 1 at one list.
"$BIN" bench --index "$WORK/idx" --corpus "$WORK/c.h5" --query-cuts 1,3,10 --heap-factors 0.8,0 --screen-entries 0 \
  --csv "$WORK/pruned.csv" >/dev/null 2>&1
awk -F, 'NR > 2 && ($7 > $17 + 1e-9 || $17 < prev17 - 1e-9) { exit 1 }
         NR == 3 && $17 >= 0.9 { exit 1 }
         NR > 2 { prev17 = $17 }' "$WORK/pruned.csv" || { cat "$WORK/pruned.csv" >&2; fail "bench reachable column"; }

expect_error() {  # expect_error PATTERN CMD...: exit code 1, one line on stderr matching PATTERN
  local pattern="$1"; shift
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [[ $rc -ne 0 ]] || fail "expected failure: $*"
  [[ $rc -lt 128 ]] || fail "crashed (rc=$rc): $*"
  grep -q -- "$pattern" "$WORK/err" || { cat "$WORK/err" >&2; fail "error '$pattern' not reported: $*"; }
}
expect_error "does not exist" "$BIN" search --corpus "$WORK/missing.h5" --exact --out "$WORK/x.tsv"
expect_error "pass --index DIR" "$BIN" search --corpus "$WORK/c.h5" --out "$WORK/x.tsv"
expect_error "k" "$BIN" search --corpus "$WORK/c.h5" --exact --k 0 --out "$WORK/x.tsv"
expect_error "mode" "$BIN" search --corpus "$WORK/c.h5" --exact --mode fancy --out "$WORK/x.tsv"
printf 'garbage' >"$WORK/garbage.h5"
expect_error "cannot open HDF5 file" "$BIN" inspect --corpus "$WORK/garbage.h5"
head -c 20000 "$WORK/c.h5" >"$WORK/truncated.h5"
expect_error "truncated" "$BIN" search --corpus "$WORK/truncated.h5" --exact --out "$WORK/x.tsv"
expect_error "screen-factor" "$BIN" bench --index "$WORK/idx-full" --corpus "$WORK/c.h5" --screen-factor -1
for rounds in 11 -1 x; do  # k-means rounds: at most 10, a count; refused before anything is written
  expect_error "kmeans" "$BUILD_BIN" --corpus "$WORK/c.h5" --out "$WORK/idx-km" --shards 1 --kmeans-rounds "$rounds"
  [[ ! -e "$WORK/idx-km" ]] || fail "a refused build wrote $WORK/idx-km (--kmeans-rounds $rounds)"
done
expect_error "groundtruth" "$BIN" recall --run "$WORK/sparse.tsv" --corpus "$WORK/c.h5" --k 10 --mode hybrid
echo "cli pipeline: all checks passed"
