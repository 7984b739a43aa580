#include "aftershock/common/dense_matrix.hpp"

#include "aftershock/common/error.hpp"

#include <cmath>

namespace aftershock {

std::string_view to_string(Metric m) noexcept {
    switch (m) {
    case Metric::ip: return "ip";
    case Metric::cosine: return "cosine";
    case Metric::l2: return "l2";
    }
    return "ip";
}

Metric parse_metric(std::string_view s) {
    if (s == "ip" || s == "dot" || s == "inner_product") return Metric::ip;
    if (s == "cosine" || s == "angular") return Metric::cosine;
    if (s == "l2" || s == "euclidean") return Metric::l2;
    throw UsageError(fmt::format("unknown metric '{}' (expected ip, cosine or l2)", s));
}

void validate_dense(const DenseMatrix& m, std::string_view dataset, std::size_t first_row) {
    ensure<InputError>(m.data.size() == m.n * m.d, "{}: {} values for shape [{}, {}]", dataset, m.data.size(), m.n, m.d);
    for (std::size_t r = 0; r < m.n; ++r) {
        for (std::size_t c = 0; c < m.d; ++c) {
            const float v = m.data[r * m.d + c];
            ensure<InputError>(std::isfinite(v), "{} row {}: non-finite value {} in column {}", dataset,
                               first_row + r, v, c);
        }
    }
}

void normalize_rows(DenseMatrix& m) {
    for (std::size_t r = 0; r < m.n; ++r) {
        float* row = m.data.data() + r * m.d;
        double sq = 0.0;
        for (std::size_t c = 0; c < m.d; ++c) sq += double(row[c]) * row[c];
        if (sq > 0.0) {
            const auto inv = static_cast<float>(1.0 / std::sqrt(sq));
            for (std::size_t c = 0; c < m.d; ++c) row[c] *= inv;
        }
    }
}

}  // namespace aftershock
