#pragma once
// Helpers shared by the libFuzzer targets: a per-process scratch directory (in /dev/shm when writable, so the
// file-based readers run at memory speed) and writing the fuzz input to a file there.
// Contract every target checks: bad input throws aftershock::Error (InputError, UsageError, ...); anything
// else (a crash, a sanitizer report, another exception type escaping) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace aftershock::fuzz {

inline const std::string& scratch_dir() {
    // Never destroyed: the atexit cleanup below runs after static destructors registered later.
    static const std::string* const dir = [] {
        std::string base;
        if (const char* t = std::getenv("AFTERSHOCK_FUZZ_TMP"); t != nullptr && *t != '\0') {
            base = t;
        } else {
            base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::filesystem::temp_directory_path().string();
        }
        auto* d = new std::string(base + "/aftershock-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(*d);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(scratch_dir(), ec);
        });
        return d;
    }();
    return *dir;
}

inline std::string scratch_file(const std::string& name) { return scratch_dir() + "/" + name; }

/// Writes the input to scratch_dir()/name and returns the path.
inline std::string write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
    const auto path = scratch_file(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) std::abort();  // the harness itself failed (disk full?): not a finding in the code under test
    return path;
}

/// With AFTERSHOCK_FUZZ_VERBOSE=1 the targets print the errors they accept (to check what seeds reach).
inline void note(const std::exception& e) {
    static const bool verbose = std::getenv("AFTERSHOCK_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "accepted error: %s\n", e.what());
}

}  // namespace aftershock::fuzz
