#pragma once
// Helpers shared by the unit tests: a per-test scratch directory and the location of the shared data.
#include "aftershock/common/error.hpp"
#include "aftershock/common/shard_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

namespace aftershock::test {

/// A fresh directory under the system temp dir, removed when the test ends.
class ScratchDir {
public:
    ScratchDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = std::filesystem::temp_directory_path() /
                 ("aftershock-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
                  std::to_string(::getpid()));
        std::filesystem::remove_all(m_path);
        std::filesystem::create_directories(m_path);
    }
    ~ScratchDir() { std::filesystem::remove_all(m_path); }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] std::string file(const std::string& name) const { return (m_path / name).string(); }
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

/// Path of a file in ../shared/data; the test is skipped when the data set is not there.
inline std::string shared_data(const std::string& rel) {
    const auto p = std::filesystem::path(AFTERSHOCK_SHARED_DATA) / rel;
    return p.string();
}
#define AFTERSHOCK_REQUIRE_SHARED(path)                                              \
    do {                                                                             \
        if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared data missing: " << (path); \
    } while (0)

/// Writes `text` to `path` as is (binary).
inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

/// The whole file as bytes.
inline std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// XORs the byte at `pos` of a file with `mask` (corruption tests).
inline void flip_byte(const std::string& path, std::uint64_t pos, unsigned char mask = 0x5A) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(pos));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ static_cast<char>(mask));
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(&c, 1);
}

/// Overwrites bytes of a file at `pos` (corruption tests).
inline void poke_bytes(const std::string& path, std::uint64_t pos, const std::string& bytes) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Whether rank `j` of a true ranking is within `tol` of the rank above or below it. Oracle comparisons then check
/// only that rank's score: when two true scores are that close, either order of their ids is exact, and float
/// rounding in the code under test may pick either. `score` reads a score from an element of `truth`.
template <class T, class Score>
bool near_tie(const std::vector<T>& truth, std::size_t j, double tol, Score score) {
    const auto gap = [&](std::size_t a, std::size_t b) { return std::abs(double(score(truth[a])) - double(score(truth[b]))); };
    return (j > 0 && gap(j - 1, j) <= tol) || (j + 1 < truth.size() && gap(j, j + 1) <= tol);
}

/// The message of the InputError `fn` throws, or "<no InputError>".
inline std::string input_error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const InputError& e) {
        return e.what();
    }
    return "<no InputError>";
}

/// The message of the InputError read_shard(path) throws, or "<no InputError>".
inline std::string shard_load_error(const std::string& path) {
    return input_error_of([&] { (void)read_shard(path); });
}

}  // namespace aftershock::test
