// Seismic search and the heap: a query on a warm scratch allocates nothing but its result, and an allocation that
// fails anywhere inside a query throws std::bad_alloc (no terminate from a noexcept helper) and leaves the scratch
// ready for the next query. Its own binary, because it replaces the global operator new to count and to fail
// allocations.
#include "aftershock/common/seismic/seismic_index.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace {

// Only the calling thread's allocations are counted, and only while `t_counting` is set.
thread_local bool t_counting = false;
thread_local std::size_t t_allocations = 0;
thread_local std::size_t t_fail_at = std::numeric_limits<std::size_t>::max();  ///< index of the allocation to fail

void* counted_malloc(std::size_t n) {
    if (t_counting && t_allocations++ == t_fail_at) throw std::bad_alloc();
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}

}  // namespace

// Plain and nothrow forms both take malloc, so that every delete below frees what its new returned (the sanitizers
// keep their own array and aligned forms, which pair among themselves).
void* operator new(std::size_t n) { return counted_malloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_malloc(n);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace aftershock::seismic {
namespace {

/// Counts (and optionally fails) the allocations of the current thread while it lives.
class AllocationWatch {
public:
    explicit AllocationWatch(std::size_t fail_at = std::numeric_limits<std::size_t>::max()) {
        t_allocations = 0;
        t_fail_at = fail_at;
        t_counting = true;
    }
    AllocationWatch(const AllocationWatch&) = delete;
    AllocationWatch& operator=(const AllocationWatch&) = delete;
    ~AllocationWatch() { stop(); }
    std::size_t stop() noexcept {
        t_counting = false;
        t_fail_at = std::numeric_limits<std::size_t>::max();
        return t_allocations;
    }
};

/// Documents over a vocabulary with a few popular terms, long enough (up to 90 entries) to be screened on 32.
CsrMatrix corpus(std::size_t n, std::uint32_t dim, std::size_t nnz_max, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> length(0, nnz_max);
    std::uniform_real_distribution<float> u(0.0F, 1.0F);
    CsrMatrix m;
    m.dim = dim;
    for (std::size_t r = 0; r < n; ++r) {
        std::set<std::uint32_t> terms;
        const auto k = length(rng);
        while (terms.size() < k) terms.insert(static_cast<std::uint32_t>(u(rng) * u(rng) * static_cast<float>(dim)));
        std::vector<std::uint32_t> idx(terms.begin(), terms.end());
        std::vector<float> v;
        for (std::size_t j = 0; j < idx.size(); ++j) v.push_back(0.05F + 2.0F * u(rng) * u(rng));
        m.append_row(idx, v);
    }
    return m;
}

struct Setup {
    CsrMatrix docs = corpus(3000, 700, 90, 7);
    CsrMatrix queries = corpus(40, 700, 30, 8);
    SeismicIndex index;
    SearchParams params;
    Setup() {
        BuildParams bp;
        bp.lambda = 200;
        bp.alpha = 0.5;
        index = SeismicIndex::build(docs, bp);
        index.build_knn_graph(6, 1);
        params.query_cut = 6;
        params.heap_factor = 0.7F;
        params.knn = 6;
        params.screen_entries = 32;
    }
};

const Setup& setup() {
    static const Setup s;
    return s;
}

/// Calls f(index, params) for each way a query is screened: prefixes scored exactly, estimated through the table
/// (where this CPU has one), and no screening.
template <typename F> void for_each_screening(F f) {
    auto index = setup().index;
    auto params = setup().params;
    // (table use, screening prefix, prefix lead): the lead's cursor keeps a per-block count in the scratch.
    std::vector<std::tuple<SeismicIndex::ScreenTableUse, std::uint32_t, std::uint32_t>> modes{
        {SeismicIndex::ScreenTableUse::never, 32, 0}, {SeismicIndex::ScreenTableUse::never, 32, 8},
        {SeismicIndex::ScreenTableUse::never, 0, 0}};
    if (ScreeningTable::supported()) modes.emplace_back(SeismicIndex::ScreenTableUse::always, 32, 8);
    for (const auto& [use, screen, lead] : modes) {
        index.set_screen_table(use);
        params.screen_entries = screen;
        params.prefix_lead = lead;
        f(index, params);
    }
}

TEST(SeismicSearchAllocations, AWarmSearchAllocatesOnlyItsResult) {
    const auto& queries = setup().queries;
    for_each_screening([&](const SeismicIndex& index, const SearchParams& params) {
        SearchScratch scratch;
        for (std::size_t q = 0; q < queries.n_rows(); ++q) (void)index.search(queries.row(q), params, scratch);
        std::size_t screened = 0;
        for (std::size_t q = 0; q < queries.n_rows(); ++q) {
            SearchStats stats;
            AllocationWatch watch;
            const auto hits = index.search(queries.row(q), params, scratch, &stats);
            // The hits, and the heap's storage handed over with them (topk.hpp take_sorted).
            EXPECT_LE(watch.stop(), 2U) << "query " << q << " (" << stats.docs_scored << " documents scored)";
            screened += stats.docs_screened_out;
        }
        if (params.screen_entries != 0) {
            EXPECT_GT(screened, 0U) << "the queries were screened";
        }
    });
}

TEST(SeismicSearchAllocations, AFailedAllocationLeavesTheScratchReadyForTheNextQuery) {
    const auto& queries = setup().queries;
    for_each_screening([&](const SeismicIndex& index, const SearchParams& params) {
        std::vector<std::vector<Hit>> expected;
        {
            SearchScratch fresh;
            for (std::size_t q = 0; q < queries.n_rows(); ++q) expected.push_back(index.search(queries.row(q), params, fresh));
        }
        for (const std::size_t q : {0UL, 5UL, 17UL}) {
            // Every allocation a search on a cold scratch makes, failed in turn: a cold scratch grows its buffers
            // inside the query (block scores, prefix and screening buffers, the screening table, the kNN lists).
            std::size_t cold = 0;
            {
                SearchScratch s;
                AllocationWatch watch;
                (void)index.search(queries.row(q), params, s);
                cold = watch.stop();
            }
            ASSERT_GT(cold, 5U);
            for (std::size_t fail_at = 0; fail_at < cold; ++fail_at) {
                SearchScratch s;
                {
                    AllocationWatch watch(fail_at);
                    EXPECT_THROW((void)index.search(queries.row(q), params, s), std::bad_alloc) << fail_at;
                }
                for (std::size_t r = 0; r < queries.n_rows(); ++r) {
                    ASSERT_EQ(index.search(queries.row(r), params, s), expected[r])
                        << "query " << r << " after allocation " << fail_at << " of query " << q << " failed";
                }
            }
        }
    });
}

}  // namespace
}  // namespace aftershock::seismic
