// How this host's memory answers random reads, the access pattern of Seismic's document phase: one dependent read at a
// time (latency), many independent ones (how many misses the core keeps in flight), and 48-entry "documents" at random
// offsets requested a few documents ahead (what screening does); and a sequential scan for contrast. Buffers are moved
// onto 2 MiB pages as the index is. The hosts this project runs on have differed by 3-5x here while exact search (a
// sequential scan) differed by ~2x, so the ratio of Seismic to exact search depends on the host: run this beside
// `aftershock bench` and quote both.
//   aftershock_bench_memory --benchmark_min_time=0.2
#include "aftershock/common/huge_pages.hpp"
#include "aftershock/common/seismic/prefetch.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace {

using aftershock::collapse_huge_pages;
using aftershock::seismic::prefetch_range;

constexpr std::size_t kLineWords = 64 / sizeof(std::uint64_t);
/// Entries of a screening prefix (SearchParams::screen_entries' default).
constexpr std::size_t kPrefixEntries = 48;

/// A buffer of `mb` MiB whose cache lines form one random cycle: word 0 of each line holds the index of the next line.
/// Built once per size and kept (a 1 GiB cycle takes seconds to shuffle).
const std::vector<std::uint64_t>& cycle(std::size_t mb) {
    static std::map<std::size_t, std::vector<std::uint64_t>> built;
    auto& buf = built[mb];
    if (buf.empty()) {
        const std::size_t lines = (mb << 20) / 64;
        buf.assign(lines * kLineWords, 0);
        collapse_huge_pages(buf);
        std::vector<std::uint64_t> order(lines);
        std::iota(order.begin(), order.end(), std::uint64_t{0});
        std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
        for (std::size_t i = 0; i < lines; ++i) buf[order[i] * kLineWords] = order[(i + 1) % lines];
    }
    return buf;
}

/// Dependent reads: each read's address comes from the one before, so nothing overlaps. Arg: MiB.
void BM_DependentReads(benchmark::State& state) {
    const auto& buf = cycle(static_cast<std::size_t>(state.range(0)));
    std::uint64_t line = 0;
    for (auto _ : state) {
        for (int i = 0; i < 1024; ++i) line = buf[line * kLineWords];
        benchmark::DoNotOptimize(line);
    }
    state.counters["ns/read"] = benchmark::Counter(static_cast<double>(state.iterations()) * 1024,
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DependentReads)->Arg(16)->Arg(512)->Arg(1024)->Unit(benchmark::kMicrosecond);

/// `chains` independent walks of the same cycle, one read of each in turn: with enough of them the core's miss
/// buffers, not the latency, bound the rate. Args: MiB, chains.
void BM_IndependentReads(benchmark::State& state) {
    const auto& buf = cycle(static_cast<std::size_t>(state.range(0)));
    const auto chains = static_cast<std::size_t>(state.range(1));
    const std::size_t lines = buf.size() / kLineWords;
    std::vector<std::uint64_t> at(chains);
    for (std::size_t c = 0; c < chains; ++c) at[c] = c * (lines / chains);
    for (auto _ : state) {
        for (int i = 0; i < 256; ++i) {
            for (auto& a : at) a = buf[a * kLineWords];
        }
        benchmark::DoNotOptimize(at.data());
    }
    const auto reads = static_cast<double>(state.iterations()) * 256 * static_cast<double>(chains);
    state.counters["ns/read"] = benchmark::Counter(reads, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_IndependentReads)->Args({1024, 4})->Args({1024, 8})->Args({1024, 16})->Args({1024, 24})->Args({1024, 32})
    ->Unit(benchmark::kMicrosecond);

/// A sequential scan (what exact search mostly does): the hardware prefetchers see it coming. Arg: MiB.
void BM_SequentialReads(benchmark::State& state) {
    const auto& buf = cycle(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        std::uint64_t sum = 0;
        for (const auto w : buf) sum += w;
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(buf.size() * sizeof(std::uint64_t)));
}
BENCHMARK(BM_SequentialReads)->Arg(1024)->Unit(benchmark::kMillisecond);

/// Screening's pattern: "documents" of 48 four-byte entries (192 bytes, 3-4 lines) at random entry offsets, each
/// summed; `lead` documents ahead, all its lines are requested (0: none). Args: MiB, lead, and 1 to start every
/// document on a cache line (exactly 3 lines each, as in a line-aligned forward index) or 0 for anywhere.
void BM_DocumentPrefixes(benchmark::State& state) {
    const auto& buf = cycle(static_cast<std::size_t>(state.range(0)));
    const auto lead = static_cast<std::size_t>(state.range(1));
    const bool aligned = state.range(2) != 0;
    const auto* entries = reinterpret_cast<const std::uint32_t*>(buf.data());
    const std::size_t n_entries = buf.size() * 2 - kPrefixEntries;
    constexpr std::size_t kDocs = 4096;
    std::vector<std::uint64_t> starts(kDocs);
    std::mt19937_64 rng(7);
    std::uint64_t sum = 0;
    for (auto _ : state) {
        state.PauseTiming();
        // New documents each round, so that none is in cache; aligned ones start on a multiple of 16 entries.
        for (auto& s : starts) s = (rng() % n_entries) & (aligned ? ~std::uint64_t{15} : ~std::uint64_t{0});
        state.ResumeTiming();
        for (std::size_t d = 0; d < kDocs; ++d) {
            if (lead != 0 && d + lead < kDocs) {
                prefetch_range(entries + starts[d + lead], kPrefixEntries * sizeof(std::uint32_t));
            }
            const auto* e = entries + starts[d];
            for (std::size_t i = 0; i < kPrefixEntries; ++i) sum += e[i];
        }
        benchmark::DoNotOptimize(sum);
    }
    state.counters["ns/doc"] = benchmark::Counter(static_cast<double>(state.iterations()) * kDocs,
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DocumentPrefixes)->Args({512, 0, 0})->Args({512, 8, 0})->Args({1024, 0, 0})->Args({1024, 4, 0})
    ->Args({1024, 8, 0})->Args({1024, 8, 1})->Args({1024, 16, 0})->Args({1024, 16, 1})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
