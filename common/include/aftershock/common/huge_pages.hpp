#pragma once
// Big read-mostly arrays served from memory (a Seismic shard's forward index, postings and summaries) are
// read at random: on 4 KiB pages nearly every document fetch is also a TLB miss, and a page walk under a
// hypervisor's nested paging costs about as much as the miss itself. Moving the arrays onto 2 MiB pages
// after they are filled (MADV_COLLAPSE, Linux 6.1+) works whatever the THP mode (`madvise` on Debian 12)
// and needs no special allocator.
#include <cstddef>
#include <vector>

namespace aftershock {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

/// Whether collapse_huge_pages() does anything: AFTERSHOCK_HUGE_PAGES=0 turns it off (an A/B switch for
/// benchmarks, and an escape hatch where the kernel misbehaves).
[[nodiscard]] bool huge_pages_enabled() noexcept;

/// Collapses the whole 2 MiB pages inside [data, data + bytes) onto huge pages, synchronously. Contents are
/// unchanged. Returns the bytes now backed by huge pages: 0 when disabled, too small, or refused in any part
/// by the kernel (older kernel, THP `never`, no free huge pages); never throws. The edges stay on small pages.
std::size_t collapse_huge_pages(const void* data, std::size_t bytes) noexcept;

template <typename T> std::size_t collapse_huge_pages(const std::vector<T>& v) noexcept {
    return collapse_huge_pages(v.data(), v.size() * sizeof(T));
}

}  // namespace aftershock
