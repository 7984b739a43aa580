#pragma once
// The query's weights held in vector registers for screening (SearchParams::screen_entries): up to four cuckoo hash
// tables of 64 (component, weight) slots each, so that a document is scored 16 entries at a time with register permutes
// instead of one load from the dense query per entry. Two uses:
//  - score_prefixes(): prefix scores from bfloat16 weights, an estimate within ~0.4% of the exact score, 2.15x faster
//    than exact prefixes (docs/BENCHMARKS.md, session 18). It only decides which documents are scored in full.
//  - dot(): a whole document's exact score, bit for bit the forward index kernels' (exact f32 weights, same sums).
#include "aftershock/common/seismic/forward_index.hpp"
#include "aftershock/common/sparse_matrix.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>

namespace aftershock::seismic {

class ScreeningTable {
public:
    static constexpr unsigned kSlots = 64;      ///< per table: two 512-bit registers of u16
    static constexpr unsigned kMaxTables = 4;

    /// Fills the tables for `query` (components below `dim` only, as the dense query holds them). Returns false, and
    /// leaves the table unusable, when it cannot: no CPU support (AVX-512 F+BW), a vocabulary past 65,536 terms (the
    /// wide forward layout), components not strictly ascending, a weight that bfloat16 x 2^112 cannot hold, or more
    /// components than four tables place. The caller then screens with exact prefix scores. The first build allocates
    /// the tables (4 KB; std::bad_alloc).
    bool build(const SparseView& query, std::uint64_t dim);
    [[nodiscard]] bool usable() const noexcept { return m_tables != 0; }
    /// Unusable until the next successful build().
    void clear() noexcept { m_tables = 0; }
    [[nodiscard]] unsigned tables() const noexcept { return m_tables; }
    /// The weight the estimates use for `component` (its bfloat16 rounding): 0 for one not in the query (the scalar
    /// model of score_prefixes(), for tests).
    [[nodiscard]] float weight(std::uint32_t component) const noexcept;

    /// Estimated score of each document's first min(n, length) entries (narrow forward layout `packed`): out[i] for
    /// postings[i]. Requires usable().
    void score_prefixes(const std::uint32_t* packed, std::span<const PackedPosting> postings, std::uint32_t n,
                        float* out) const noexcept;

    /// The exact dot product of the query and a whole document (narrow layout): bit for bit what the forward index's
    /// kernels give (the same products, into the same four running sums in the same order; DotSums). Requires usable().
    [[nodiscard]] float dot(const std::uint32_t* packed, PackedPosting p) const noexcept;

    /// Whether this CPU runs the table kernel (AVX-512 F and BW); AFTERSHOCK_SCREEN_TABLE=0 turns it off.
    [[nodiscard]] static bool supported() noexcept;

    struct Tables {
        alignas(64) std::array<std::array<std::uint16_t, kSlots>, kMaxTables> keys{};
        alignas(64) std::array<std::array<std::uint16_t, kSlots>, kMaxTables> weights{};  ///< bfloat16 of w x 2^112
        /// The f32 bits of w x 2^112 (exact: a power-of-two scale), high and low halves.
        alignas(64) std::array<std::array<std::uint16_t, kSlots>, kMaxTables> exact_high{};
        alignas(64) std::array<std::array<std::uint16_t, kSlots>, kMaxTables> exact_low{};
        std::array<std::uint16_t, kMaxTables> multipliers{};
    };

private:
    bool place(const SparseView& query, std::uint64_t dim, unsigned tables, std::uint16_t empty) noexcept;
    // On the heap, not in the object: a SearchScratch is often thread_local, and glibc takes every thread's static TLS
    // out of its stack. With these 4 KB inline (5.4 KB of static TLS instead of 3.3 KB) the worker's Prometheus exposer,
    // whose civetweb threads have 100 KB stacks, answered /metrics with an empty page (found by tests/serving).
    std::unique_ptr<Tables> m_t;
    unsigned m_tables = 0;
};

}  // namespace aftershock::seismic
