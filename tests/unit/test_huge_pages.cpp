#include "aftershock/common/huge_pages.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>

namespace aftershock {
namespace {

/// AnonHugePages (bytes) of the mapping in /proc/self/smaps that contains `p`; -1 if none is found.
long long anon_huge_bytes_at(const void* p) {
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t lo = 0;
        std::uintptr_t hi = 0;
        char dash = 0;
        std::istringstream head(line);
        if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
            inside = lo <= addr && addr < hi;
            continue;
        }
        if (inside && line.rfind("AnonHugePages:", 0) == 0) return std::stoll(line.substr(14)) * 1024;
    }
    return -1;
}

class HugePages : public ::testing::Test {
protected:
    void TearDown() override { ::unsetenv("AFTERSHOCK_HUGE_PAGES"); }
};

TEST_F(HugePages, CollapsesWholeHugePagesAndKeepsTheContents) {
    std::vector<std::uint32_t> v(5 * kHugePageBytes / sizeof(std::uint32_t) + 123);
    std::iota(v.begin(), v.end(), 7U);
    const auto before = v;
    const auto got = collapse_huge_pages(v);
    EXPECT_EQ(v, before);
    EXPECT_EQ(got % kHugePageBytes, 0U);
    EXPECT_LE(got, v.size() * sizeof(std::uint32_t));
    if (got == 0) GTEST_SKIP() << "this kernel refused MADV_COLLAPSE (needs Linux 6.1+, THP not `never`)";
    EXPECT_GE(got, 4 * kHugePageBytes);  // an unaligned 20 MiB array has at least 4 whole huge pages inside
    EXPECT_GE(anon_huge_bytes_at(v.data() + v.size() / 2), static_cast<long long>(got));
}

TEST_F(HugePages, DoesNothingForSmallArraysNullOrWhenSwitchedOff) {
    const std::vector<std::uint8_t> small(kHugePageBytes / 2, 1);
    EXPECT_EQ(collapse_huge_pages(small), 0U);
    EXPECT_EQ(collapse_huge_pages(nullptr, 64 * kHugePageBytes), 0U);
    ASSERT_TRUE(huge_pages_enabled());
    ::setenv("AFTERSHOCK_HUGE_PAGES", "0", 1);
    EXPECT_FALSE(huge_pages_enabled());
    const std::vector<std::uint64_t> big(3 * kHugePageBytes / sizeof(std::uint64_t), 5);
    EXPECT_EQ(collapse_huge_pages(big), 0U);
    ::setenv("AFTERSHOCK_HUGE_PAGES", "1", 1);
    EXPECT_TRUE(huge_pages_enabled());
}

}  // namespace
}  // namespace aftershock
