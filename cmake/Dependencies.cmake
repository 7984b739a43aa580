# Every dependency comes from a Debian 12 package; scripts/setup.sh installs them.
find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS C)

# One HDF5 flavour for the whole project: the openmpi one (serial and parallel must never mix in one binary).
set(HDF5_PREFER_PARALLEL ON)
set(HDF5_C_COMPILER_EXECUTABLE /usr/bin/h5pcc.openmpi CACHE FILEPATH "HDF5 C wrapper (openmpi flavour)")
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "Aftershock needs the openmpi flavour of HDF5 (libhdf5-openmpi-dev)")
endif()

find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS headers)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(ZLIB REQUIRED)
find_package(BLAS REQUIRED)
find_package(OpenMP REQUIRED)   # before faiss: its config uses OpenMP::OpenMP_CXX without defining it
find_package(faiss CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
if(AFTERSHOCK_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(AFTERSHOCK_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
