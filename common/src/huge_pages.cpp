#include "aftershock/common/huge_pages.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

namespace aftershock {
namespace {

#ifndef MADV_COLLAPSE
constexpr int MADV_COLLAPSE = 25;  // Linux 6.1; older headers lack the name
#endif

}  // namespace

bool huge_pages_enabled() noexcept {
    const char* v = std::getenv("AFTERSHOCK_HUGE_PAGES");  // read per call: a load makes a dozen calls
    return v == nullptr || std::strcmp(v, "0") != 0;
}

std::size_t collapse_huge_pages(const void* data, std::size_t bytes) noexcept {
    if (!huge_pages_enabled() || data == nullptr) return 0;
    const auto begin = reinterpret_cast<std::uintptr_t>(data);
    const auto first = (begin + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
    const auto last = (begin + bytes) & ~(kHugePageBytes - 1);
    if (last <= first) return 0;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): madvise takes the page-aligned address itself
    if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_COLLAPSE) != 0) {
        spdlog::debug("huge pages: MADV_COLLAPSE of {} bytes refused: {}", last - first, std::strerror(errno));
        return 0;
    }
    return last - first;
}

}  // namespace aftershock
