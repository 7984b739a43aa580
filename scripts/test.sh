#!/usr/bin/env bash
# Set-up (packages, configure, build) and the whole test suite.
#   scripts/test.sh            everything
#   scripts/test.sh -R Corpus  only tests matching a regex (passed to ctest)
set -euo pipefail
# Test-only Debian packages: the SLURM test brings up a real single-node cluster; the deploy tests run a
# Prometheus server and promtool, and install their npm validators (tests/deploy/install-tools.sh) with npm.
EXTRA_PACKAGES=(slurm-wlm munge prometheus)
command -v npm >/dev/null || EXTRA_PACKAGES+=(nodejs npm)  # the image's NodeSource nodejs already ships npm
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(getconf _NPROCESSORS_ONLN)" --timeout 600 "$@"
