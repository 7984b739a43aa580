#include "aftershock/common/dense_store.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace aftershock {

std::string_view to_string(DenseStoreMode m) noexcept { return m == DenseStoreMode::disk ? "disk" : "memory"; }

DenseStoreMode parse_dense_store_mode(std::string_view s) {
    if (s == "memory") return DenseStoreMode::memory;
    if (s == "disk") return DenseStoreMode::disk;
    throw UsageError(fmt::format("unknown dense store '{}' (expected memory or disk)", s));
}

DiskRows::DiskRows(const std::string& path, std::size_t n, std::size_t d) : m_path(path), m_n(n), m_d(d) {
    {
        const h5::File f(path, h5::File::Mode::read_checksummed);  // a shard file
        auto map = f.chunk_map("/dense/vectors");
        m_rows_per_chunk = map.rows_per_chunk;
        m_chunk_addr = std::move(map.addresses);
    }
    m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ensure<InputError>(m_fd >= 0, "{}: cannot open for dense rows: {}", path, std::strerror(errno));
}

DiskRows::~DiskRows() {
    if (m_fd >= 0) ::close(m_fd);
}

void DiskRows::read(std::size_t row, float* out) const {
    ensure(row < m_n, "{}: dense row {} out of range ({} rows)", m_path, row, m_n);
    const auto chunk = row / m_rows_per_chunk;
    const auto offset = m_chunk_addr[chunk] + (row - chunk * m_rows_per_chunk) * m_d * sizeof(float);
    const auto bytes = m_d * sizeof(float);
    std::size_t done = 0;
    auto* dst = reinterpret_cast<char*>(out);
    while (done < bytes) {
        const auto got = ::pread(m_fd, dst + done, bytes - done, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        ensure(got > 0, "{}: read of dense row {} failed: {}", m_path, row, got == 0 ? "file truncated" : std::strerror(errno));
        done += static_cast<std::size_t>(got);
    }
}

float dense_score(Metric metric, std::span<const float> q, std::span<const float> d) noexcept {
    double dot = 0.0;
    double qq = 0.0;
    double dd = 0.0;
    for (std::size_t i = 0; i < q.size(); ++i) {
        dot += static_cast<double>(q[i]) * d[i];
        qq += static_cast<double>(q[i]) * q[i];
        dd += static_cast<double>(d[i]) * d[i];
    }
    switch (metric) {
    case Metric::ip: return static_cast<float>(dot);
    case Metric::cosine: return qq > 0.0 && dd > 0.0 ? static_cast<float>(dot / std::sqrt(qq * dd)) : 0.0F;
    case Metric::l2: return static_cast<float>(-(qq - 2.0 * dot + dd));
    }
    return 0.0F;
}

}  // namespace aftershock
