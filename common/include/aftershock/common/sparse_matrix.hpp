#pragma once
// Compressed sparse rows: the in-memory form of /docs/sparse and /queries/sparse.
#include "aftershock/common/types.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace aftershock {

struct CsrMatrix {
    std::uint64_t dim = 0;                   ///< number of components (vocabulary size)
    std::vector<std::uint64_t> indptr{0};    ///< n_rows + 1 offsets into indices/data
    std::vector<std::uint32_t> indices;      ///< component ids, ascending within a row
    std::vector<float> data;                 ///< values, finite and > 0

    [[nodiscard]] std::size_t n_rows() const noexcept { return indptr.size() - 1; }
    [[nodiscard]] std::size_t nnz() const noexcept { return indices.size(); }
    [[nodiscard]] SparseView row(std::size_t i) const noexcept {
        const auto begin = indptr[i];
        const auto len = indptr[i + 1] - begin;
        return {{indices.data() + begin, len}, {data.data() + begin, len}};
    }
    /// Appends one row; the caller guarantees ascending indices (see sort_row()).
    void append_row(std::span<const std::uint32_t> idx, std::span<const float> val);
    void clear();
};

/// Checks every invariant of a CSR block and throws InputError naming `dataset` and the first bad row:
/// indptr starts at 0 (or `first_offset`), is monotone and ends at nnz; indices < dim, strictly ascending;
/// values finite and > 0. `first_row` is added to reported row numbers (for blocks read from a file).
void validate_csr(const CsrMatrix& m, std::string_view dataset, std::uint64_t first_row = 0);

/// Sorts (index, value) pairs of one row by index in place; returns false if an index repeats.
bool sort_row(std::vector<std::uint32_t>& idx, std::vector<float>& val);

/// Exact inner product of two sparse vectors by merging their sorted indices (f32, ascending order).
[[nodiscard]] float sparse_dot(const SparseView& a, const SparseView& b) noexcept;

}  // namespace aftershock
