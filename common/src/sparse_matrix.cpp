#include "aftershock/common/sparse_matrix.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace aftershock {

void CsrMatrix::append_row(std::span<const std::uint32_t> idx, std::span<const float> val) {
    indices.insert(indices.end(), idx.begin(), idx.end());
    data.insert(data.end(), val.begin(), val.end());
    indptr.push_back(indices.size());
}

void CsrMatrix::clear() {
    indptr.assign(1, 0);
    indices.clear();
    data.clear();
}

void validate_csr(const CsrMatrix& m, std::string_view dataset, std::uint64_t first_row) {
    ensure<InputError>(!m.indptr.empty(), "{}/indptr: empty (needs n+1 entries)", dataset);
    ensure<InputError>(m.indices.size() == m.data.size(),
                       "{}: indices has {} entries but data has {}", dataset, m.indices.size(), m.data.size());
    const auto base = m.indptr.front();
    ensure<InputError>(m.indptr.back() >= base && m.indptr.back() - base == m.nnz(),
                       "{}/indptr: last entry {} does not match nnz {}", dataset, m.indptr.back(), m.nnz() + base);
    for (std::size_t r = 0; r < m.n_rows(); ++r) {
        const auto row_no = first_row + r;
        const auto b = m.indptr[r];
        const auto e = m.indptr[r + 1];
        ensure<InputError>(b <= e, "{}/indptr row {}: not monotone ({} > {})", dataset, row_no, b, e);
        ensure<InputError>(e - base <= m.nnz(), "{}/indptr row {}: offset {} past nnz {}", dataset, row_no, e, m.nnz());
        for (auto j = b - base; j < e - base; ++j) {
            const auto idx = m.indices[j];
            ensure<InputError>(idx < m.dim, "{}/indices row {}: index {} >= dim {}", dataset, row_no, idx, m.dim);
            ensure<InputError>(j == b - base || m.indices[j - 1] < idx,
                               "{}/indices row {}: indices not strictly ascending ({} then {})", dataset, row_no,
                               j == b - base ? 0 : m.indices[j - 1], idx);
            const auto v = m.data[j];
            ensure<InputError>(std::isfinite(v), "{}/data row {}: non-finite value {} at index {}", dataset, row_no,
                               v, idx);
            ensure<InputError>(v > 0.0F, "{}/data row {}: value {} at index {} is not > 0", dataset, row_no, v, idx);
        }
    }
}

bool sort_row(std::vector<std::uint32_t>& idx, std::vector<float>& val) {
    if (!std::is_sorted(idx.begin(), idx.end())) {
        std::vector<std::size_t> order(idx.size());
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](auto a, auto b) { return idx[a] < idx[b]; });
        std::vector<std::uint32_t> si(idx.size());
        std::vector<float> sv(val.size());
        for (std::size_t i = 0; i < order.size(); ++i) {
            si[i] = idx[order[i]];
            sv[i] = val[order[i]];
        }
        idx.swap(si);
        val.swap(sv);
    }
    return std::adjacent_find(idx.begin(), idx.end()) == idx.end();
}

float sparse_dot(const SparseView& a, const SparseView& b) noexcept {
    float s = 0.0F;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() && j < b.size()) {
        if (a.indices[i] < b.indices[j]) {
            ++i;
        } else if (a.indices[i] > b.indices[j]) {
            ++j;
        } else {
            s += a.values[i] * b.values[j];
            ++i;
            ++j;
        }
    }
    return s;
}

}  // namespace aftershock
