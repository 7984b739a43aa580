#!/usr/bin/env bash
# libFuzzer stage of scripts/test.sh: builds the fuzz targets (tests/fuzz) with clang-14 in build-fuzz and runs
# each for a bounded time, two at a time (AFTERSHOCK_JOBS to change), starting from the committed seeds.
#   scripts/fuzz.sh                 every target for 25 s (CI)
#   AFTERSHOCK_FUZZ_SEED=0 scripts/fuzz.sh 600   every target for 10 minutes, random seed (docs/BENCHMARKS.md)
#   scripts/fuzz.sh 60 fuzz_api     chosen targets
# The growing corpus is kept in build-fuzz/corpus/<target> (git-ignored); a finding is written to
# build-fuzz/artifacts/<target>/ and fails the script. Reproduce one with: build-fuzz/bin/<target> FILE
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-25}"
shift || true
DIR="$ROOT/build-fuzz"
JOBS="${AFTERSHOCK_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
ALL=(fuzz_api fuzz_wire fuzz_corpus fuzz_shard fuzz_import_jsonl fuzz_import_tsv_tokens fuzz_import_bigann_csr
     fuzz_import_seismic_bin fuzz_import_ann_benchmarks fuzz_import_tsv_dense fuzz_import_fvecs fuzz_import_text)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")

if [[ ! -f "$DIR/build.ninja" ]]; then
  # -O1 and line tables only: fast enough to build on 2 cores, stack traces still name file:line. Unity build and
  # precompiled headers as in scripts/sanitize.sh. Its own build directory: the coverage instrumentation of
  # fuzzer-no-link would make the ASan test stage 2-3x slower (docs/BENCHMARKS.md), and only aftershock_common and
  # the targets are built here.
  CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DAFTERSHOCK_FUZZ=ON -DAFTERSHOCK_BUILD_TESTS=OFF -DAFTERSHOCK_BUILD_BENCH=OFF \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 -DAFTERSHOCK_PCH=ON >/dev/null
fi
TIMEFORMAT="fuzz: build %0R s wall, %0U s user + %0S s sys"
time cmake --build "$DIR" -j "$JOBS" --target "${TARGETS[@]}"

# allocator_may_return_null=1: a corrupt size field makes (uninstrumented) HDF5 ask malloc for petabytes; as in
# production it gets NULL and reports an error, instead of ASan aborting. Leak checking stays on
# (tests/sanitizers/lsan.supp lists the exceptions with reasons).
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:abort_on_error=0:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=1
# HDF5 files are vetted in a child process first (common/src/hdf5_vet.cpp); one that makes HDF5 loop is refused after
# this many seconds (a good file takes about 20 ms; a false refusal under load costs only coverage), well inside libFuzzer's -timeout below, so the refusal,
# not a timeout, is what the target sees.
export AFTERSHOCK_H5VET_TIMEOUT_S=0.5

run_one() {
  local t="$1" secs="$2" dir="$3" root="$4"
  mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t" "$dir/logs"
  local log="$dir/logs/$t.log" rc=0
  # -timeout: one input taking longer than 25 s is a finding; -rss_limit_mb: a forged count must not allocate
  # gigabytes. New inputs go to the first (working) corpus dir; the committed seeds are only read.
  # -seed: a fixed seed (AFTERSHOCK_FUZZ_SEED, default 1) makes the mutation sequence repeatable, so a short CI run
  # does not fail at random on an old finding; AFTERSHOCK_FUZZ_SEED=0 lets libFuzzer pick one (long local runs).
  timeout -k 10 $((secs + 120)) "$dir/bin/$t" -seed="${AFTERSHOCK_FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t/" "$dir/corpus/$t" "$root/tests/fuzz/corpus/$t" \
    >"$log" 2>&1 || rc=$?
  local execs cov
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || echo "?")
  printf '%-28s %s s  rc %s  execs %s  %s\n' "$t" "$secs" "$rc" "$execs" "$cov"
  # Every finding fails, HDF5's included: since session 5 a file HDF5 1.10.8 crashes, hangs or exhausts on is
  # refused through the vetting process (common/src/hdf5_vet.cpp): a crash in the target process is a finding to fix,
  # in our code or in what the vet walks.
  if ((rc != 0)); then tail -60 "$log" >&2; return 1; fi
}
export -f run_one
start=$(date +%s)
status=0
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {} "$SECONDS_PER_TARGET" "$DIR" "$ROOT" || status=1
echo "fuzz: ${#TARGETS[@]} targets x ${SECONDS_PER_TARGET} s in $(($(date +%s) - start)) s"
# A target that crashed or was killed never ran its exit handler: remove its scratch directory (fuzz_support.hpp).
for d in /dev/shm/aftershock-fuzz-* "${TMPDIR:-/tmp}"/aftershock-fuzz-*; do
  [[ -d $d ]] || continue
  kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
done
exit $status
