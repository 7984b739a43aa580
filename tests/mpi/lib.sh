# shellcheck shell=bash disable=SC2034  # RANK_PID, BG_RC, CLI are set here for the tests that source this
# Shared helpers of the MPI build tests (sourced, not run). Usage in a test:
#   source "$(dirname "$0")/lib.sh" "$AFTERSHOCK_BIN" "$AFTERSHOCK_BUILD_BIN"
# Gives: $CLI, $BUILD, $WORK (removed at exit), fail, mpibuild N ARGS..., start_bg_build N LOG ARGS...,
# rank_pid LOG RANK SIZE (sets RANK_PID), wait_bg PID SECONDS (sets BG_RC), strip_timings MANIFEST. Every process a test starts in the background is recorded
# in BG_PIDS and killed by PID at exit (with the rank processes recorded in RANK_PIDS).
set -euo pipefail
CLI="$1"
BUILD="$2"
command -v mpirun >/dev/null || { echo "SKIP: mpirun not found"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aftershock-mpi.XXXXXX")"
BG_PIDS=()
RANK_PIDS=()
cleanup() {
  local p
  for p in "${BG_PIDS[@]}" "${RANK_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${BG_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for p in "${RANK_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
STARTED=$SECONDS

# mpibuild N ARGS...: a foreground build with N ranks, bounded in time (timeout stops mpirun, mpirun its ranks).
mpibuild() {
  local n="$1"; shift
  timeout -k 5 90 mpirun -n "$n" "$BUILD" "$@"
}

# start_bg_build N LOG ARGS...: a background build; its mpirun PID is in BG_PID (and BG_PIDS for the cleanup).
start_bg_build() {
  local n="$1" log="$2"; shift 2
  mpirun -n "$n" "$BUILD" "$@" >"$log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# rank_pid LOG RANK SIZE: waits (20 s at most) for the rank's "pid N on HOST" line; sets RANK_PID=N.
rank_pid() {
  local log="$1" rank="$2" size="$3" pid=""
  for _ in $(seq 1 200); do
    pid=$(sed -n "s/.*\[rank $rank\/$size\] pid \([0-9]*\) on .*/\1/p" "$log" | head -1)
    [[ -n "$pid" ]] && break
    sleep 0.1
  done
  [[ -n "$pid" ]] || { cat "$log" >&2; fail "rank $rank never logged its pid"; }
  RANK_PIDS+=("$pid")
  RANK_PID="$pid"
}

# wait_bg PID SECONDS: waits for a background process (bounded); sets BG_RC to its exit code.
wait_bg() {
  local pid="$1" limit="$2" rc=0
  for _ in $(seq 1 $((limit * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "process $pid still running after ${limit} s"
  wait "$pid" || rc=$?
  BG_RC=$rc
}

# The manifest without its timings: the per-shard "build_seconds" and the trailing "build" object.
strip_timings() { grep -v '"build_seconds"' "$1" | sed '/^  "build": {/,$d'; }

no_tmp_files() { ! compgen -G "$1/*.tmp" >/dev/null; }

# gen_corpus DOCS OUT: a small synthetic corpus (seeded, so every test run sees the same one).
gen_corpus() { "$CLI" gen --docs "$1" --queries 40 --seed 11 --out "$2" 2>"$WORK/gen.log" || { cat "$WORK/gen.log" >&2; fail "gen"; }; }

passed() { echo "$1: all checks passed in $((SECONDS - STARTED)) s"; }
