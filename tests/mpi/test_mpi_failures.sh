#!/usr/bin/env bash
# A failing rank (test-only fault injection --fail-shard) and a killed rank (kill -9 of one rank's process,
# slowed down by the test-only --test-delay-ms): the job exits non-zero, rank 0 names the failing rank and
# the cause, no manifest.json is written and no *.tmp file is left; a re-run then completes.
source "$(dirname "$0")/lib.sh" "$@"

gen_corpus 2000 "$WORK/c.h5"

# 1. Rank 1 of 2 fails on shard 3 (its second shard): rank 1's cause, reported by rank 0; rank 0 stops too.
rc=0
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 5 --fail-shard 3 2>"$WORK/fail.log" || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || { cat "$WORK/fail.log" >&2; fail "failing rank: exit code $rc"; }
grep -Eq '\[rank 0/2\] .*rank 1 failed: shard 3 \(docs \[[0-9]+, [0-9]+\)\): injected fault' "$WORK/fail.log" \
  || { cat "$WORK/fail.log" >&2; fail "rank 0 does not name rank 1 and the cause"; }
grep -q 'no manifest written' "$WORK/fail.log" || fail "no 'no manifest written' line"
[[ ! -e "$WORK/idx/manifest.json" ]] || fail "manifest written after a failure"
no_tmp_files "$WORK/idx" || fail "*.tmp left after a failure"
[[ ! -e "$WORK/idx/shard-00003.h5" ]] || fail "the failed shard exists"
[[ -e "$WORK/idx/shard-00001.h5" ]] || fail "rank 1's finished shard 1 was not kept"

# 2. Rank 0 itself fails (shard 0, first of its 3 shards) with 4 ranks: rank 0 tells the others to stop after
#    their current shard (they would otherwise build 3 shards each), and the job exits non-zero. Every shard
#    starts with a 1 s sleep, so rank 0 fails at about 1 s and the others reach their third shard at 2 s+:
#    at least one of them stops early however loaded the machine is.
rc=0
mpibuild 4 --corpus "$WORK/c.h5" --out "$WORK/idx0" --shards 12 --fail-shard 0 --test-delay-ms 1000 2>"$WORK/fail0.log" || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || { cat "$WORK/fail0.log" >&2; fail "failing rank 0: exit code $rc"; }
grep -Eq '\[rank 0/4\] .*rank 0 failed: shard 0 .*injected fault' "$WORK/fail0.log" || { cat "$WORK/fail0.log" >&2; fail "rank 0's own failure"; }
grep -Eq '\[rank 0/4\] .*rank [123] stopped early' "$WORK/fail0.log" || { cat "$WORK/fail0.log" >&2; fail "no rank stopped early"; }
[[ ! -e "$WORK/idx0/manifest.json" ]] || fail "manifest written after rank 0 failed"
no_tmp_files "$WORK/idx0" || fail "*.tmp left after rank 0 failed"

# 3. The re-run without the fault completes (and keeps the shards the failed run finished).
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 5 2>"$WORK/rerun.log" || { cat "$WORK/rerun.log" >&2; fail "re-run"; }
grep -q 'complete and verified, skipped' "$WORK/rerun.log" || fail "re-run resumed nothing"
[[ -e "$WORK/idx/manifest.json" ]] || fail "re-run wrote no manifest"
"$CLI" inspect --index "$WORK/idx" 2>&1 | grep -q '^verify      ok' || fail "inspect after re-run"

# 4. A rank killed with SIGKILL mid-build: mpirun exits non-zero, no manifest.
start_bg_build 2 "$WORK/kill.log" --corpus "$WORK/c.h5" --out "$WORK/idxk" --shards 4 --test-delay-ms 2000
rank_pid "$WORK/kill.log" 1 2
sleep 0.5
kill -KILL "$RANK_PID"
wait_bg "$BG_PID" 30
[[ $BG_RC -ne 0 ]] || { cat "$WORK/kill.log" >&2; fail "mpirun exited 0 after a rank was killed"; }
[[ ! -e "$WORK/idxk/manifest.json" ]] || fail "manifest written after a rank was killed"
grep -Eqi 'signal 9|killed' "$WORK/kill.log" || { cat "$WORK/kill.log" >&2; fail "mpirun does not report the killed rank"; }
passed mpi_failures
