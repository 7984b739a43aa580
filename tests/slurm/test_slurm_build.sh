#!/usr/bin/env bash
# deploy/slurm/build-index.sbatch on a real single-node SLURM cluster (slurmctld + slurmd + munged on
# localhost, started by slurm-local.sh in a private directory and stopped by PID at exit, always):
#   - lint: bash -n and shellcheck (when installed) of the scripts, sbatch --test-only against the cluster;
#   - a build given by environment variables, requeued mid-build (scontrol requeue): it restarts, resumes the
#     finished shards, ends COMPLETED; the index verifies and equals an mpirun-built one byte for byte;
#   - a job array over an index list file: every task COMPLETED, every index verifies;
#   - a failing build (test-only --fail-shard): JobState=FAILED, no manifest.
# Installs slurm-wlm and munge with apt-get when missing (as root); exits 77 (skipped) when SLURM cannot be
# installed or started here.
set -euo pipefail
CLI="$1"
BUILD="$2"
HERE="$(cd "$(dirname "$0")" && pwd)"
SBATCH_SCRIPT="$(cd "$HERE/../../deploy/slurm" && pwd)/build-index.sbatch"
HARNESS="$HERE/slurm-local.sh"
STARTED=$SECONDS
skip() { echo "SKIP: $*"; exit 77; }
fail() {
  echo "FAIL: $*" >&2
  if [[ -n ${CLUSTER:-} && -f $CLUSTER/log/slurmctld.log ]]; then
    echo "--- slurmctld.log (last 25 lines)" >&2
    tail -25 "$CLUSTER/log/slurmctld.log" >&2
  fi
  exit 1
}
step() { echo "[$((SECONDS - STARTED)) s] $*"; }

# Lint first: it needs nothing but bash.
bash -n "$SBATCH_SCRIPT" || fail "bash -n $SBATCH_SCRIPT"
bash -n "$HARNESS" || fail "bash -n $HARNESS"
if command -v shellcheck >/dev/null; then
  shellcheck -S warning "$SBATCH_SCRIPT" "$HARNESS" "$0" || fail "shellcheck"
fi

if ! command -v sbatch >/dev/null || [[ ! -x /usr/sbin/slurmctld || ! -x /usr/sbin/munged ]]; then
  [[ $(id -u) -eq 0 ]] || skip "slurm-wlm/munge missing and not root to install them"
  command -v apt-get >/dev/null || skip "slurm-wlm/munge missing and no apt-get"
  echo "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  install() { timeout 120 apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null 2>&1; }
  install || { timeout 120 apt-get update -q >/dev/null 2>&1 && install; } || skip "apt-get could not install slurm-wlm munge"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/aftershock-slurm.XXXXXX")"
chmod 755 "$WORK"  # munged (user munge) and the job steps must reach the cluster directory and files here
CLUSTER="$WORK/cluster"
cleanup() {
  step "stopping the cluster"
  "$HARNESS" down "$CLUSTER" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
rc=0
"$HARNESS" up "$CLUSTER" >"$WORK/up.log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]]; then
  cat "$WORK/up.log"
  skip "could not start a local SLURM cluster (slurm-local.sh up: $rc)"
fi
export SLURM_CONF="$CLUSTER/slurm.conf"
step "cluster up: $(tail -1 "$WORK/up.log")"
unset SLURM_JOB_ID SLURM_JOBID  # in case the test itself runs inside a SLURM job

job_state() { scontrol show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq -c | awk '{printf "%s%s:%s", (NR>1?",":""), $2, $1}'; }
wait_job() {  # wait_job JOBID SECONDS: until squeue no longer lists the job (or any of its array tasks)
  local jid="$1" limit="$2"
  for _ in $(seq 1 $((limit * 5))); do
    squeue -h -j "$jid" 2>/dev/null | grep -q . || return 0
    sleep 0.2
  done
  squeue -j "$jid" >&2 || true
  fail "job $jid still queued or running after ${limit} s"
}

# sbatch --test-only: the script's directives fit this cluster; an impossible request does not.
sbatch --test-only "$SBATCH_SCRIPT" >"$WORK/lint.log" 2>&1 || { cat "$WORK/lint.log" >&2; fail "sbatch --test-only"; }
if sbatch --test-only --ntasks=999 "$SBATCH_SCRIPT" >/dev/null 2>&1; then fail "sbatch --test-only accepted 999 tasks"; fi

"$CLI" gen --docs 2000 --queries 20 --seed 5 --out "$WORK/c.h5" 2>/dev/null || fail "gen"
export AFTERSHOCK_BUILD="$BUILD" OMP_NUM_THREADS=1
SB=(sbatch --parsable --output="$WORK/%x-%j.out")

step "lint passed; job 1: requeue and resume"
# 1. Parameters from the environment; requeued once its first shards exist; resumes; COMPLETED.
jid=$(CORPUS="$WORK/c.h5" OUT="$WORK/idx" SHARDS=4 BUILD_FLAGS="--test-delay-ms 1000 --progress-interval 0" \
  "${SB[@]}" --job-name=as-requeue "$SBATCH_SCRIPT") || fail "sbatch"
for _ in $(seq 1 300); do [[ -e $WORK/idx/shard-00000.h5 ]] && break; sleep 0.1; done
[[ -e $WORK/idx/shard-00000.h5 ]] || { cat "$WORK"/as-requeue-*.out >&2 || true; fail "job $jid wrote no shard"; }
step "requeueing job $jid"
scontrol requeue "$jid" || fail "scontrol requeue"
# A requeued job waits (BeginTime, 2 minutes) before it may start again; let it start once it is back in the
# queue and the node has cleaned up its first run (idle again), and a second later: slurmd revokes the first
# run's credential with a time in whole seconds, and a relaunch within that second is killed as "Job
# credential revoked". (StartTime=now also makes the scheduler run at once; a future StartTime would wait
# for its next periodic pass.)
for _ in $(seq 1 150); do
  [[ $(job_state "$jid") == PENDING:1 && $(sinfo -h -o %T) == idle ]] && break
  sleep 0.2
done
[[ $(job_state "$jid") == PENDING:1 ]] || fail "requeued job $jid: $(job_state "$jid"), not PENDING"
sleep 1.2
scontrol update JobId="$jid" StartTime=now || fail "scontrol update StartTime"
wait_job "$jid" 60
log="$WORK/as-requeue-$jid.out"
[[ $(job_state "$jid") == COMPLETED:1 ]] || { cat "$log" >&2; fail "job $jid: $(job_state "$jid")"; }
scontrol show job "$jid" | grep -q 'Restarts=1' || fail "job $jid was not restarted once"
grep -q 'build-index: job .*, restart 1, 2 ranks' "$log" || fail "restart not logged"
grep -q 'complete and verified, skipped' "$log" || { cat "$log" >&2; fail "the requeued job resumed nothing"; }
grep -q '\[rank 0/2\] progress: 4/4 shards, 2000/2000 docs' "$log" || fail "no final progress line"
"$CLI" inspect --index "$WORK/idx" 2>&1 | grep -q '^verify      ok' || fail "inspect --index idx"
if command -v mpirun >/dev/null; then
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout -k 5 60 \
    mpirun -n 1 "$BUILD" --corpus "$WORK/c.h5" --out "$WORK/ref" --shards 4 2>/dev/null || fail "mpirun reference build"
  for f in "$WORK"/ref/shard-*.h5; do cmp "$f" "$WORK/idx/$(basename "$f")" || fail "srun and mpirun builds differ"; done
fi

step "job 1 passed; job 2: array"
# 2. A job array over an index list file (arguments per line; the two tasks run side by side).
cat >"$WORK/indexes.txt" <<LIST
# corpus                out               shards  flags
$WORK/c.h5   $WORK/arr0   2
$WORK/c.h5   $WORK/arr1   3       --lambda 500
LIST
jid=$(INDEX_LIST="$WORK/indexes.txt" "${SB[@]}" --job-name=as-array --array=0-1 --ntasks=1 "$SBATCH_SCRIPT") || fail "sbatch --array"
wait_job "$jid" 60
[[ $(job_state "$jid") == COMPLETED:2 ]] || { cat "$WORK"/as-array-*.out >&2; fail "array $jid: $(job_state "$jid")"; }
for i in 0 1; do
  "$CLI" inspect --index "$WORK/arr$i" 2>&1 | grep -q '^verify      ok' || fail "inspect arr$i"
done
grep -q '"n_shards": 3' "$WORK/arr1/manifest.json" && grep -q '"lambda": 500' "$WORK/arr1/manifest.json" || fail "array task 1 parameters"

step "job 2 passed; job 3: failing rank"
# 3. A failing rank fails the job: FAILED, no manifest.
jid=$("${SB[@]}" --job-name=as-fail "$SBATCH_SCRIPT" "$WORK/c.h5" "$WORK/bad" 4 --fail-shard 1) || fail "sbatch (failing)"
wait_job "$jid" 60
[[ $(job_state "$jid") == FAILED:1 ]] || fail "failing job $jid: $(job_state "$jid")"
grep -q 'rank 1 failed: shard 1 .*injected fault' "$WORK/as-fail-$jid.out" || { cat "$WORK/as-fail-$jid.out" >&2; fail "failure not reported"; }
[[ ! -e $WORK/bad/manifest.json ]] || fail "manifest written by a failed job"

echo "slurm_build: all checks passed in $((SECONDS - STARTED)) s"
