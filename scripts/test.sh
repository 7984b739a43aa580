#!/usr/bin/env bash
# Set-up (packages, configure, build) and the whole test suite.
#   scripts/test.sh            everything
#   scripts/test.sh -R Corpus  only tests matching a regex (passed to ctest)
set -euo pipefail
EXTRA_PACKAGES=(slurm-wlm munge)  # the SLURM test brings up a real single-node cluster
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(getconf _NPROCESSORS_ONLN)" --timeout 600 "$@"
