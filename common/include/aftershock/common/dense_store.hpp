#pragma once
// Row access to a shard's stored dense vectors, whether they were loaded into memory or stay in the shard
// file (issue 9: "sparse in RAM, dense on disk"). On disk, rows are read with pread at offsets taken from the
// HDF5 chunk index once at load: one small read per row, no HDF5 call (and no HDF5 lock) at query time.
#include "aftershock/common/dense_matrix.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace aftershock {

/// Where a shard's /dense/vectors live while it is served.
enum class DenseStoreMode { memory, disk };
[[nodiscard]] std::string_view to_string(DenseStoreMode m) noexcept;
/// "memory" | "disk"; throws UsageError.
[[nodiscard]] DenseStoreMode parse_dense_store_mode(std::string_view s);

/// /dense/vectors of one shard file read by row. Thread-safe (pread).
class DiskRows {
public:
    /// Opens `path` and maps the chunks of /dense/vectors (n rows of d floats). Throws InputError.
    DiskRows(const std::string& path, std::size_t n, std::size_t d);
    ~DiskRows();
    DiskRows(const DiskRows&) = delete;
    DiskRows& operator=(const DiskRows&) = delete;
    [[nodiscard]] std::size_t n() const noexcept { return m_n; }
    [[nodiscard]] std::size_t d() const noexcept { return m_d; }
    /// Copies row `row` (< n) into out[0..d). Throws Error on an I/O failure (file truncated or replaced).
    void read(std::size_t row, float* out) const;

private:
    std::string m_path;
    int m_fd = -1;
    std::size_t m_n = 0;
    std::size_t m_d = 0;
    std::uint64_t m_rows_per_chunk = 0;
    std::vector<std::uint64_t> m_chunk_addr;
};

/// Exact score of one document vector against a query, the same rule as DenseExactIndex up to rounding
/// (ip: dot; cosine: dot / (|q| |d|), 0 for a zero vector; l2: -|q - d|^2), summed in double in index order
/// so every caller gets the same bits.
[[nodiscard]] float dense_score(Metric metric, std::span<const float> query, std::span<const float> doc) noexcept;

}  // namespace aftershock
