#!/usr/bin/env bash
# Sanitizer stages of scripts/test.sh (CI runs both); each has its own build directory beside build/.
#   scripts/sanitize.sh asan   ASan+UBSan (GCC): build-asan, the whole test suite (ctest -j2)
#   scripts/sanitize.sh tsan   TSan (GCC): build-tsan, the coordinator/worker tests: tests/serving (TSan workers and
#                              coordinator over loopback; the index made by build/'s Release aftershock-build) and the
#                              wire-protocol unit tests
# Extra arguments go to ctest. Findings fail the stage: UBSan does not recover, TSan halts on the first report.
# Suppressions live in tests/sanitizers/ and each one says why it is there.
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
    FILTER=()
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
    FILTER=(-R '^(serving_|WireProtocol\.)')
    export AFTERSHOCK_SERVING_BUILD="${AFTERSHOCK_SERVING_BUILD:-$ROOT/build/bin/aftershock-build}"
    export TSAN_OPTIONS="suppressions=$SUPP/tsan.supp:halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0"
    ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [ctest args]" >&2; exit 2 ;;
esac
if [[ ! -f "$DIR/build.ninja" ]]; then
  # -O1: sanitizer builds compile and run in reasonable time; -g1: line tables for the reports.
  cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DAFTERSHOCK_SANITIZE="$SAN" -DAFTERSHOCK_BUILD_BENCH=OFF >/dev/null
fi
start=$(date +%s)
cmake --build "$DIR" -j "$JOBS" --target "${TARGETS[@]}"
built=$(date +%s)
cd "$DIR"
ctest --output-on-failure -j "$JOBS" --timeout 900 ${FILTER[@]+"${FILTER[@]}"} "$@"
echo "sanitize $KIND: build $((built - start)) s, tests $(($(date +%s) - built)) s"
