#!/usr/bin/env bash
# Set-up (packages, configure, build) and the whole test suite, then the reliability stages (issue 8):
#   1. ctest on build/                       (the normal GCC Release build)
#   2. scripts/sanitize.sh asan              ASan+UBSan build-asan, the whole suite
#   3. scripts/sanitize.sh tsan              TSan build-tsan, the coordinator/worker tests
#   4. scripts/fuzz.sh 25                    every libFuzzer target for 25 s (clang-14, build-fuzz)
# Each stage is bounded (timeout) and its time is printed. CI (.ci/run) runs them all.
#   scripts/test.sh                          everything
#   scripts/test.sh -R Corpus                only tests matching a regex (passed to ctest; no extra stages)
#   AFTERSHOCK_SKIP_SLOW=1 scripts/test.sh   only stage 1 (local runs)
set -euo pipefail
# slurm-wlm, munge: the SLURM test brings up a real single-node cluster. clang-14, libclang-rt-14-dev (libFuzzer,
# the sanitizer runtimes) and libomp-14-dev (faiss' OpenMP interface under clang): the fuzz stage.
EXTRA_PACKAGES=(slurm-wlm munge clang-14 libclang-rt-14-dev libomp-14-dev)
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$BUILD_DIR"

stage() {  # stage NAME LIMIT_S COMMAND...
  local name="$1" limit="$2" t0 rc=0
  shift 2
  t0=$(date +%s)
  echo "=== stage $name (limit ${limit} s)"
  timeout -k 30 "$limit" "$@" || rc=$?
  echo "=== stage $name: rc $rc, $(($(date +%s) - t0)) s"
  return $rc
}

stage tests 1800 ctest --output-on-failure -j "$(getconf _NPROCESSORS_ONLN)" --timeout 600 "$@"
if (($#)) || [[ "${AFTERSHOCK_SKIP_SLOW:-0}" == 1 ]]; then
  exit 0
fi
stage asan 2400 "$AFTERSHOCK_ROOT/scripts/sanitize.sh" asan
stage tsan 1500 "$AFTERSHOCK_ROOT/scripts/sanitize.sh" tsan
stage fuzz 900 "$AFTERSHOCK_ROOT/scripts/fuzz.sh" 25
