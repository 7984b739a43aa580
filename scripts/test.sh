#!/usr/bin/env bash
# Set-up (packages, configure, build) and the whole test suite, then the reliability stages (issue 8):
#   1. ctest on build/                       the normal GCC Release build, the whole suite
#   2. scripts/sanitize.sh asan              ASan+UBSan (clang-14) build-asan, the suite but deployment and SLURM
#   3. scripts/sanitize.sh tsan              TSan (clang-14) build-tsan, the coordinator/worker tests
#   4. scripts/fuzz.sh 25                    every libFuzzer target for 25 s (clang-14, build-fuzz)
# CI (.ci/run) runs all four. Each stage is bounded (timeout) and prints its wall and CPU time. On an idle 2-core
# machine the whole run takes 25-41 minutes with the host, inside CI's 45 (docs/BENCHMARKS.md "Sanitizer stages and CI cost"):
# the sanitizer and fuzz builds are clang -O1 with line tables, unity builds with precompiled headers, no benchmarks.
#   scripts/test.sh                          stages 1-4
#   AFTERSHOCK_SLOW_STAGES=0 scripts/test.sh stage 1 only (quick local run)
#   scripts/test.sh -R Corpus                only tests matching a regex (passed to ctest; no extra stages)
set -euo pipefail
# Test-only Debian packages: slurm-wlm, munge (the SLURM test brings up a real single-node cluster); prometheus
# (promtool and the end-to-end Prometheus test; the deploy tests install their npm validators with npm);
# clang-14, libclang-rt-14-dev, libomp-14-dev (libFuzzer, sanitizer runtimes, faiss' OpenMP under clang).
EXTRA_PACKAGES=(slurm-wlm munge prometheus)
[[ "${AFTERSHOCK_SLOW_STAGES:-1}" == 1 ]] && EXTRA_PACKAGES+=(clang-14 libclang-rt-14-dev libomp-14-dev)
command -v npm >/dev/null || EXTRA_PACKAGES+=(nodejs npm)  # the image's NodeSource nodejs already ships npm
TIMEFORMAT="=== set-up and Release build: %0R s wall, %0U s user + %0S s sys"
time source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$BUILD_DIR"

stage() {  # stage NAME LIMIT_S COMMAND...: wall and CPU (user + sys, of all the stage's processes) time
  local name="$1" limit="$2" rc=0
  shift 2
  echo "=== stage $name (limit ${limit} s)"
  local TIMEFORMAT="=== stage $name: %0R s wall, %0U s user + %0S s sys"
  time timeout -k 30 "$limit" "$@" || rc=$?
  echo "=== stage $name: rc $rc"
  return $rc
}

stage tests 1800 ctest --output-on-failure -j "$(getconf _NPROCESSORS_ONLN)" --timeout 600 "$@"
if (($#)) || [[ "${AFTERSHOCK_SLOW_STAGES:-1}" != 1 ]]; then
  exit 0
fi
# Limits: about twice each stage's time on an idle 2-core machine (build and tests together).
stage asan 1500 "$AFTERSHOCK_ROOT/scripts/sanitize.sh" asan
stage tsan 900 "$AFTERSHOCK_ROOT/scripts/sanitize.sh" tsan
stage fuzz 600 "$AFTERSHOCK_ROOT/scripts/fuzz.sh" 25
