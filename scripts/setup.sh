#!/usr/bin/env bash
# Installs the Debian 12 packages Aftershock needs (only the missing ones), then configures and builds.
# Sourced by demo.sh and test.sh; safe to run again (fast when everything is there).
set -euo pipefail

AFTERSHOCK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$AFTERSHOCK_ROOT/build}"

PACKAGES=(
  g++ cmake ninja-build pkg-config zlib1g-dev libssl-dev
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  libboost1.81-dev prometheus-cpp-dev libfaiss-dev libopenblas0-openmp
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev gnuplot-nox curl openssl
)

install_packages() {
  local missing=()
  # EXTRA_PACKAGES: set by test.sh for test-only tools (the local SLURM cluster).
  for p in "${PACKAGES[@]}" ${EXTRA_PACKAGES[@]+"${EXTRA_PACKAGES[@]}"}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# Open MPI refuses root and more ranks than cores unless told otherwise (containers, CI, 2-core machines).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

build_project() {
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    cmake -S "$AFTERSHOCK_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
  fi
  # getconf, not nproc: nproc obeys OMP_NUM_THREADS, which CI sets to 1.
  cmake --build "$BUILD_DIR" -j "$(getconf _NPROCESSORS_ONLN)"
}

install_packages
build_project "$@"
