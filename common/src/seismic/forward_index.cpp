#include "aftershock/common/seismic/forward_index.hpp"

#include "aftershock/common/error.hpp"

namespace aftershock::seismic {

ForwardIndex::ForwardIndex(const CsrMatrix& docs) : m_dim(docs.dim), m_offsets(docs.indptr) {
    ensure<UsageError>(docs.nnz() < (std::uint64_t{1} << 48), "{} nonzeros exceed the 2^48 posting offset range",
                       docs.nnz());
    for (std::size_t d = 0; d < docs.n_rows(); ++d) {
        const auto len = docs.indptr[d + 1] - docs.indptr[d];
        ensure<UsageError>(len <= 0xFFFFU, "document {} has {} nonzeros; a posting holds at most 65,535", d, len);
    }
    if (!wide()) {
        m_packed.resize(docs.nnz());
        for (std::size_t i = 0; i < docs.nnz(); ++i) {
            m_packed[i] = docs.indices[i] | (std::uint32_t{f32_to_f16(docs.data[i])} << 16);
        }
    } else {
        m_comp32 = docs.indices;
        m_values.resize(docs.nnz());
        for (std::size_t i = 0; i < docs.nnz(); ++i) m_values[i] = f32_to_f16(docs.data[i]);
    }
    keep_gather_in_range();
}

void ForwardIndex::keep_gather_in_range() noexcept {
    // The SIMD gathers take signed 32-bit indices.
    if (m_dim > (std::uint64_t{1} << 31)) m_kernels = &scalar_kernels();
}

ForwardIndex::ForwardIndex(std::uint64_t dim, std::vector<std::uint64_t> offsets, std::vector<std::uint32_t> packed,
                           std::vector<std::uint32_t> comp32, std::vector<std::uint16_t> values)
    : m_dim(dim), m_offsets(std::move(offsets)), m_packed(std::move(packed)), m_comp32(std::move(comp32)),
      m_values(std::move(values)) {
    keep_gather_in_range();
}

std::uint64_t ForwardIndex::bytes() const noexcept {
    return m_offsets.size() * sizeof(std::uint64_t) + m_packed.size() * sizeof(std::uint32_t) +
           m_comp32.size() * sizeof(std::uint32_t) + m_values.size() * sizeof(std::uint16_t);
}

}  // namespace aftershock::seismic
