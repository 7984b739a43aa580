#!/usr/bin/env bash
# Resume: (1) delete one shard and the manifest of a finished index, re-run: only that shard is rebuilt;
# (2) kill a rank mid-build (kill -9 by PID), re-run: exactly the shards the killed job finished are skipped,
# the rest rebuilt. Both times the files are identical to an uninterrupted build, the manifest is written
# and no *.tmp file is left.
source "$(dirname "$0")/lib.sh" "$@"

gen_corpus 2000 "$WORK/c.h5"
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/ref" --shards 4 2>"$WORK/ref.log" || { cat "$WORK/ref.log" >&2; fail "reference build"; }
"$CLI" search --index "$WORK/ref" --corpus "$WORK/c.h5" --k 10 --out "$WORK/ref.tsv" 2>/dev/null || fail "search ref"

same_as_ref() {  # same_as_ref DIR: shard files byte-identical, manifest identical but timings and resume flags
  local dir="$1" f
  for f in "$WORK"/ref/shard-*.h5; do cmp "$f" "$dir/$(basename "$f")" || fail "$(basename "$f") differs from the reference"; done
  diff <(strip_timings "$WORK/ref/manifest.json" | grep -v '"resumed"') <(strip_timings "$dir/manifest.json" | grep -v '"resumed"') \
    || fail "manifest differs from the reference"
  no_tmp_files "$dir" || fail "*.tmp left in $dir"
  "$CLI" search --index "$dir" --corpus "$WORK/c.h5" --k 10 --out "$dir.tsv" 2>/dev/null || fail "search $dir"
  cmp "$WORK/ref.tsv" "$dir.tsv" || fail "search results differ from the reference ($dir)"
}

# 1. One shard and the manifest deleted.
cp -r "$WORK/ref" "$WORK/idx"
rm "$WORK/idx/shard-00002.h5" "$WORK/idx/manifest.json"
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 4 2>"$WORK/resume.log" || { cat "$WORK/resume.log" >&2; fail "resume build"; }
[[ $(grep -c 'complete and verified, skipped' "$WORK/resume.log") -eq 3 ]] || { cat "$WORK/resume.log" >&2; fail "expected 3 skipped shards"; }
for s in 0 1 3; do grep -q "shard $s: .*shard-0000$s.h5 is complete and verified, skipped" "$WORK/resume.log" || fail "shard $s not skipped"; done
grep -Eq 'shard 2: docs \[[0-9]+, [0-9]+\), ' "$WORK/resume.log" || fail "shard 2 not rebuilt"
grep -q '"resumed": true' "$WORK/idx/manifest.json" || fail "manifest does not record the resumed shards"
grep -q 'progress: 4/4 shards, 2000/2000 docs (100.0%), 3 resumed' "$WORK/resume.log" || fail "progress counts the resumed shards"
same_as_ref "$WORK/idx"

# 2. Kill rank 1 mid-build, once the first two shards exist (ranks sleep 1.5 s before each shard).
start_bg_build 2 "$WORK/kill.log" --corpus "$WORK/c.h5" --out "$WORK/idxk" --shards 4 --test-delay-ms 1500
rank_pid "$WORK/kill.log" 1 2
for _ in $(seq 1 300); do [[ -e "$WORK/idxk/shard-00001.h5" && -e "$WORK/idxk/shard-00000.h5" ]] && break; sleep 0.1; done
[[ -e "$WORK/idxk/shard-00001.h5" ]] || { cat "$WORK/kill.log" >&2; fail "shard 1 never written"; }
kill -KILL "$RANK_PID"
wait_bg "$BG_PID" 30
[[ $BG_RC -ne 0 ]] || fail "mpirun exited 0 after a rank was killed"
[[ ! -e "$WORK/idxk/manifest.json" ]] || fail "manifest written by the killed job"
present=$(compgen -G "$WORK/idxk/shard-*.h5" | wc -l)
[[ $present -ge 2 && $present -lt 4 ]] || fail "expected 2 or 3 finished shards after the kill, found $present"
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/idxk" --shards 4 2>"$WORK/rerun.log" || { cat "$WORK/rerun.log" >&2; fail "re-run after the kill"; }
skipped=$(grep -c 'complete and verified, skipped' "$WORK/rerun.log" || true)
built=$(grep -Ec 'shard [0-9]+: docs \[[0-9]+, [0-9]+\), ' "$WORK/rerun.log" || true)
[[ $skipped -eq $present && $built -eq $((4 - present)) ]] || { cat "$WORK/rerun.log" >&2; fail "re-run skipped $skipped and built $built of 4 ($present finished before)"; }
same_as_ref "$WORK/idxk"
passed mpi_resume
