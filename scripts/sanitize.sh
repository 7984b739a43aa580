#!/usr/bin/env bash
# Sanitizer stages of scripts/test.sh (CI runs both); each has its own build directory beside build/.
#   scripts/sanitize.sh asan   ASan+UBSan (clang-14): build-asan, the whole test suite (ctest -j2) but the deployment
#                              and SLURM tests; the serving tests' index comes from build/'s Release aftershock-build
#   scripts/sanitize.sh tsan   TSan (clang-14): build-tsan, the coordinator/worker tests: tests/serving (TSan workers and
#                              coordinator over loopback; the index made by build/'s Release aftershock-build) and the
#                              wire-protocol, frame-buffer, shard-service, API, auth and cluster unit tests
# Extra arguments go to ctest. Findings fail the stage: UBSan does not recover, TSan halts on the first report.
# Suppressions live in tests/sanitizers/ and each one says why it is there.
# Build cost on 2 cores (docs/BENCHMARKS.md "Sanitizer stages and CI cost"): clang, not the Release GCC (a second
# compiler for the same code, and faster at -O1), -O1 with line tables only (file:line in every report), no
# benchmarks, unity build (8 sources per translation unit) and precompiled headers (AFTERSHOCK_PCH).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIND="${1:?usage: scripts/sanitize.sh asan|tsan [ctest args]}"
shift
JOBS="${AFTERSHOCK_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
SUPP="$ROOT/tests/sanitizers"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
case "$KIND" in
  asan)
    DIR="$ROOT/build-asan"; SAN="address,undefined"
    TARGETS=(all)
    # Left to the Release stage: the deployment checks (npm validators of manifests and dashboards, a live Prometheus
    # whose QPS assertions need an uninstrumented build) and the SLURM batch test (its C++ is the MPI build, which the
    # mpi_* tests run here). Together they held the ASan stage ~2.5 minutes, prometheus_e2e alone 87 s run serially
    # (docs/BENCHMARKS.md "Sanitizer stages and CI cost").
    FILTER=(-E '^(prometheus_e2e|slurm_build_index|deploy_.+)$')
    # The serving tests make their index with build/'s Release aftershock-build, as under TSan: they test workers and
    # coordinator, and the instrumented build is tested by the mpi_* and cli_* tests here. That took their ASan time
    # from ~300 to ~180 s (docs/BENCHMARKS.md "Sanitizer stages and CI cost").
    export AFTERSHOCK_SERVING_BUILD="${AFTERSHOCK_SERVING_BUILD:-$ROOT/build/bin/aftershock-build}"
    export ASAN_OPTIONS="detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1"
    export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"
    ;;
  tsan)
    DIR="$ROOT/build-tsan"; SAN="thread"
    # Workers, coordinator and CLI are instrumented; the serving tests make their index with the Release
    # aftershock-build of build/ (tests/serving/lib.sh: AFTERSHOCK_SERVING_BUILD), so the MPI build stays out of
    # TSan: an instrumented Seismic build is ~20x slower, Open MPI is not TSan-clean (tests/sanitizers/tsan.supp),
    # and it is not coordinator/worker code. The MPI and SLURM tests are not run under TSan for the same reason.
    TARGETS=(aftershock aftershock-worker aftershock-coordinator aftershock_unit_tests)
    FILTER=(-R '^(serving_|(WireProtocol|FrameBuffer|ShardService|Api|BearerAuth|ClusterState|RecallEstimator|Progress)\.)')
    export AFTERSHOCK_SERVING_BUILD="${AFTERSHOCK_SERVING_BUILD:-$ROOT/build/bin/aftershock-build}"
    export TSAN_OPTIONS="suppressions=$SUPP/tsan.supp:halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0"
    ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [ctest args]" >&2; exit 2 ;;
esac
if [[ ! -f "$DIR/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DAFTERSHOCK_SANITIZE="$SAN" -DAFTERSHOCK_BUILD_BENCH=OFF \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 -DAFTERSHOCK_PCH=ON >/dev/null
fi
# CPU time beside wall time: on a shared machine the wall time says little (docs/BENCHMARKS.md).
TIMEFORMAT="sanitize $KIND build: %0R s wall, %0U s user + %0S s sys"
time cmake --build "$DIR" -j "$JOBS" --target "${TARGETS[@]}"
cd "$DIR"
TIMEFORMAT="sanitize $KIND tests: %0R s wall, %0U s user + %0S s sys"
time ctest --output-on-failure -j "$JOBS" --timeout 900 ${FILTER[@]+"${FILTER[@]}"} "$@"
