# shellcheck shell=bash disable=SC2034  # variables are used by the tests that source this
# Shared helpers of the serving tests (sourced): start workers and a coordinator on 127.0.0.1 with ports
# picked by the OS (--port-file), wait for readiness, and stop every process by PID at exit.
# Usage: source "$(dirname "$0")/lib.sh" CLI BUILD WORKER COORDINATOR
# Gives: $CLI $BUILD $WORKER $COORD $WORK, fail, build_index CORPUS DIR SHARDS [ARGS],
#        start_worker NAME ARGS... (sets W_PID[NAME], W_PORT[NAME]), start_coordinator ARGS... (sets C_PID, C_PORT, C_ARGS),
#        start_coordinator_on NAME WORKER_ADDRS ARGS... (the same, over given workers),
#        wait_ready SECONDS, http_post PATH BODY (sets HTTP_CODE, HTTP_BODY), metric NAME_WITH_LABELS,
#        wait_metric NAME_WITH_LABELS VALUE MS (sets WAITED_MS), worker_metric NAME NAME_WITH_LABELS, now_ms.
set -euo pipefail
CLI="$1"
BUILD="$2"
# AFTERSHOCK_SERVING_BUILD=FILE: the aftershock-build that makes the index (not under test here). The sanitizer stages
# (scripts/sanitize.sh) take the Release one: an instrumented Seismic build under mpirun is ~20x slower under TSan
# (under ASan these tests took ~300 s with it and ~180 s without; the mpi_* tests cover it there), and Open MPI
# itself is not TSan-clean. Index files do not depend on the build's flags.
BUILD="${AFTERSHOCK_SERVING_BUILD:-$BUILD}"
WORKER="$3"
COORD="$4"
command -v curl >/dev/null || { echo "SKIP: curl not found"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aftershock-serving.XXXXXX")"
declare -A W_PID W_PORT
BG_PIDS=()
C_PID=""
C_PORT=""
C_ARGS=()
cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; } >&2; done
  exit 1
}

# build_index CORPUS DIR SHARDS [ARGS...]: a 2-rank MPI build, bounded in time.
build_index() {
  local corpus="$1" dir="$2" shards="$3"; shift 3
  timeout -k 5 120 mpirun -n 2 "$BUILD" --corpus "$corpus" --out "$dir" --shards "$shards" --threads 1 "$@" >"$WORK/build-$(basename "$dir").log" 2>&1 \
    || fail "build of $dir failed"
}

# wait_file PATH SECONDS
wait_file() {
  for _ in $(seq 1 $(( $2 * 20 ))); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}

# start_worker NAME ARGS...: a worker on a free port; --index etc. come from ARGS.
start_worker() {
  local name="$1"; shift
  local port_file="$WORK/worker-$name.port"
  rm -f "$port_file"
  local listen="127.0.0.1:${W_PORT[$name]:-0}"
  "$WORKER" --listen "$listen" --port-file "$port_file" --threads 1 "$@" >>"$WORK/worker-$name.log" 2>&1 &
  W_PID[$name]=$!
  BG_PIDS+=("$!")
  wait_file "$port_file" 30 || fail "worker $name did not start"
  W_PORT[$name]=$(cat "$port_file")
}

# start_coordinator ARGS...: the coordinator on a free port over every worker in W_PORT (on port C_LISTEN_PORT when
# that is set: a restart at the same address, as in `C_LISTEN_PORT=$C_PORT start_coordinator "${C_ARGS[@]}"`).
start_coordinator() {
  local addrs="" n
  for n in "${!W_PORT[@]}"; do addrs+="${addrs:+,}127.0.0.1:${W_PORT[$n]}"; done
  C_ARGS=("$@")
  start_coordinator_on "" "$addrs" "$@"
}

# start_coordinator_on NAME ADDRS ARGS...: a coordinator on a free port (C_LISTEN_PORT when set) over the workers
# ADDRS (host:port,...), logging to coordinator[-NAME].log; sets C_PID and C_PORT.
start_coordinator_on() {
  local tag="coordinator${1:+-$1}" addrs="$2"; shift 2
  rm -f "$WORK/$tag.port"
  "$COORD" --listen "127.0.0.1:${C_LISTEN_PORT:-0}" --port-file "$WORK/$tag.port" --workers "$addrs" "$@" >>"$WORK/$tag.log" 2>&1 &
  C_PID=$!
  BG_PIDS+=("$C_PID")
  wait_file "$WORK/$tag.port" 30 || fail "$tag did not start"
  C_PORT=$(cat "$WORK/$tag.port")
}

# wait_ready SECONDS: until /readyz says every shard has a live replica.
wait_ready() {
  for _ in $(seq 1 $(( $1 * 20 ))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$C_PORT/readyz")" = 200 ] && return 0
    sleep 0.05
  done
  fail "cluster not ready after $1 s"
}

# http_post PATH BODY: sets HTTP_CODE and HTTP_BODY.
http_post() {
  local out
  out=$(curl -s --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary "$2" -w '\n%{http_code}' "127.0.0.1:$C_PORT$1")
  HTTP_CODE="${out##*$'\n'}"
  HTTP_BODY="${out%$'\n'*}"
}

# metrics_value URL LINE_PREFIX: the value of the first line of a Prometheus page starting with LINE_PREFIX (0 if absent).
metrics_value() {
  # awk reads to the end: an early exit would SIGPIPE curl and, under pipefail, fail the caller's assignment.
  # Bounded: a stopped (SIGSTOP) process accepts the connection and never answers.
  curl -s --max-time 5 "$1" | awk -v p="$2" '!found && index($0, p) == 1 { v = $NF; found = 1 } END { print found ? v : 0 }'
}

# metric LINE_PREFIX: the coordinator's metric.
metric() { metrics_value "127.0.0.1:$C_PORT/metrics" "$1"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_metric LINE_PREFIX VALUE MS: polls the coordinator's /metrics until the line has VALUE; sets WAITED_MS; returns
# 1 after MS milliseconds without it.
wait_metric() {
  local t0
  t0=$(now_ms)
  until [ "$(metric "$1")" = "$2" ]; do
    WAITED_MS=$(( $(now_ms) - t0 ))
    [ "$WAITED_MS" -lt "$3" ] || return 1
    sleep 0.02
  done
  WAITED_MS=$(( $(now_ms) - t0 ))
}

# worker_metric NAME LINE_PREFIX: like metric, from worker NAME's own /metrics (a worker started with
# --metrics-listen 127.0.0.1:0; its port is read from the worker's log line "metrics on http://HOST:PORT/metrics").
worker_metric() {
  local port
  port=$(sed -n 's|.*metrics on http://[^:]*:\([0-9]*\)/metrics.*|\1|p' "$WORK/worker-$1.log" | tail -1)
  [ -n "$port" ] || fail "worker $1 has no metrics port in its log"
  metrics_value "127.0.0.1:$port/metrics" "$2"
}

