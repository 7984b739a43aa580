#!/usr/bin/env bash
# Index files under faults (issue 8):
# 1. Disk full during the build: a single-process aftershock-build gets a file size limit (prlimit RLIMIT_FSIZE on
#    the running process: no root needed; applied once shard 0 is complete, and after MPI_Init, whose runtime files
#    would trip it). Expected: exit 1 (not a signal: no crash, no abort) with a line naming the shard and the limit,
#    no manifest, no temporary file, shard 0 kept whole; a worker refuses the directory with a clear error and a
#    non-zero exit; a re-run without the limit resumes shard 0 and finishes.
# 2. Manifest and shard files deleted while serving: the worker keeps serving from memory (and reads re-ranking rows
#    through the shard file it holds open, --dense-store disk) with zero failed requests and the same answers;
#    health and readiness stay up; a restart with the files gone fails with a clear error and a non-zero exit.
source "$(dirname "$0")/lib.sh" "$@"
command -v prlimit >/dev/null || { echo "SKIP: prlimit not found"; exit 77; }

"$CLI" gen --docs 1500 --queries 40 --seed 11 --dense-dim 16 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
IDX="$WORK/idx"
BUILD_ARGS=(--corpus "$WORK/c.h5" --out "$IDX" --shards 2 --threads 1 --lambda 200)

# 1. The write limit lands between shard 0 (complete: written to a temporary name and renamed) and shard 1.
# Started directly (not through a shell function, whose background subshell would get the limit instead).
"$BUILD" "${BUILD_ARGS[@]}" --test-delay-ms 1500 >"$WORK/build-full.log" 2>&1 &
B=$!
BG_PIDS+=("$B")
wait_file "$IDX/shard-00000.h5" 90 || fail "shard 0 was not written: $(tail -5 "$WORK/build-full.log")"
prlimit --pid "$B" --fsize=65536 || fail "prlimit"
rc=0
wait "$B" || rc=$?
[ "$rc" = 1 ] || fail "a build over its file size limit must exit 1, not $rc (>128: killed by a signal): $(tail -5 "$WORK/build-full.log")"
grep -Eq 'shard 1.*file size limit reached' "$WORK/build-full.log" || fail "the failing shard and the limit are not named: $(tail -5 "$WORK/build-full.log")"
[ ! -e "$IDX/manifest.json" ] || fail "a manifest was written by a failed build"
! compgen -G "$IDX/*.tmp" >/dev/null || fail "temporary files left behind: $(ls "$IDX")"
[ ! -e "$IDX/shard-00001.h5" ] || fail "a shard that could not be written is in the directory"
rc=0
timeout -k 5 30 "$WORKER" --index "$IDX" --listen 127.0.0.1:0 >"$WORK/worker-refuse.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a worker on the half-built directory must exit 1, not $rc: $(cat "$WORK/worker-refuse.log")"
grep -q "manifest.json: no manifest" "$WORK/worker-refuse.log" || fail "unclear refusal: $(cat "$WORK/worker-refuse.log")"
"$BUILD" "${BUILD_ARGS[@]}" >"$WORK/build-resume.log" 2>&1 || fail "re-run without the limit: $(tail -5 "$WORK/build-resume.log")"
grep -q "(1 resumed)" "$WORK/build-resume.log" || fail "shard 0 was not resumed: $(tail -3 "$WORK/build-resume.log")"
echo "ok: file size limit during the build: exit 1 naming shard 1 and the limit, no manifest or temporary file," \
  "the worker refuses the directory, a re-run resumes shard 0 and completes"
rc=0
timeout -k 5 30 "$WORKER" --index "$IDX" --listen 127.0.0.1:0 --screen-factor -1 >"$WORK/worker-flag.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "a worker with --screen-factor -1 must exit with an error, not $rc"
grep -q -- "--screen-factor: Value -1 not in range" "$WORK/worker-flag.log" || fail "unclear refusal: $(cat "$WORK/worker-flag.log")"
echo "ok: a worker refuses a negative --screen-factor in one line"

# 2. Serve a copy, then delete its manifest and shard files under load.
LIVE="$WORK/live"
cp -a "$IDX" "$LIVE"
start_worker a --index "$LIVE" --dense-store disk
start_coordinator --recall-sample 0 --timeout-ms 3000
wait_ready 20
load() { "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --mode hybrid --rerank-depth 20 --min-coverage 1 "$@"; }
load --concurrency 2 --fail-on-error --out "$WORK/ref.tsv" >"$WORK/ref.log" 2>&1 || fail "reference load: $(cat "$WORK/ref.log")"
load --concurrency 2 --duration 4 >"$WORK/load.txt" 2>&1 &
LOAD=$!
BG_PIDS+=("$LOAD")
sleep 1
rm -f "$LIVE"/*
[ -z "$(ls -A "$LIVE")" ] || fail "files left in $LIVE"
wait "$LOAD" || fail "load across the deletion: $(cat "$WORK/load.txt")"
grep -q "codes=200:[0-9]* partial=0 " "$WORK/load.txt" || fail "failed requests after the files were deleted: $(cat "$WORK/load.txt")"
load --concurrency 2 --fail-on-error --out "$WORK/after.tsv" >"$WORK/after.log" 2>&1 || fail "load after deletion: $(cat "$WORK/after.log")"
cmp -s "$WORK/ref.tsv" "$WORK/after.tsv" || fail "answers changed after the files were deleted"
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$C_PORT/readyz")" = 200 ] || fail "/readyz not 200 while the worker serves"
[ "$(metric "aftershock_worker_up{worker=\"127.0.0.1:${W_PORT[a]}\"}")" = 1 ] || fail "worker not up while it serves"
echo "ok: files deleted under load: $(sed -n 's/^requests=\([0-9]*\) .*/\1/p' "$WORK/load.txt") requests all 200," \
  "answers unchanged (re-ranking rows read from the unlinked files), worker up, /readyz 200"

# A restart with the files gone: refused at start, clearly, non-zero.
kill -TERM "${W_PID[a]}"
wait "${W_PID[a]}" || fail "worker exit code after SIGTERM was $?"
rc=0
timeout -k 5 30 "$WORKER" --index "$LIVE" --listen 127.0.0.1:0 >"$WORK/worker-gone.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a worker without its files must exit 1, not $rc: $(cat "$WORK/worker-gone.log")"
grep -q "no manifest" "$WORK/worker-gone.log" || fail "unclear error without a manifest: $(cat "$WORK/worker-gone.log")"
cp "$IDX/manifest.json" "$LIVE/"
rc=0
timeout -k 5 30 "$WORKER" --index "$LIVE" --listen 127.0.0.1:0 >"$WORK/worker-noshard.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a worker whose shard files are gone must exit 1, not $rc: $(cat "$WORK/worker-noshard.log")"
grep -q "shard-00000.h5: shard 0 listed in the manifest is missing" "$WORK/worker-noshard.log" \
  || fail "unclear error without the shard files: $(cat "$WORK/worker-noshard.log")"
echo "ok: a restart without the files exits 1: 'no manifest', then 'shard 0 listed in the manifest is missing'"
echo "PASS"
