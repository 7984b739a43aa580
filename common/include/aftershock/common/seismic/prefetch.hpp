#pragma once
// Software prefetch hints: Seismic's query time is mostly waiting on random reads of the index, and
// asking for several at once lets their misses overlap.
#include <cstddef>

namespace aftershock::seismic {

/// Hints the CPU to fetch the cache line holding `p` into L1.
inline void prefetch_line(const void* p) noexcept {
#if defined(__x86_64__)
    // GCC 12's dead-code elimination drops __builtin_prefetch from a loop with no other effect (seen
    // here at -O3: not one prefetch was left); a volatile asm cannot be dropped.
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
}

/// Hints every cache line of [begin, begin + bytes), bytes > 0.
inline void prefetch_range(const void* begin, std::size_t bytes) noexcept {
    const auto* p = static_cast<const char*>(begin);
    for (std::size_t i = 0; i < bytes; i += 64) prefetch_line(p + i);
    prefetch_line(p + bytes - 1);
}

}  // namespace aftershock::seismic
