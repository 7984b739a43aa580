#pragma once
// Seeded dense test data: clustered rows (so nearest neighbours are meaningful for HNSW and IVF) with
// varied norms, and the tolerance for comparing FAISS scores with DenseExactIndex's.
#include "aftershock/common/dense_matrix.hpp"

#include <cmath>
#include <random>

namespace aftershock::test {

/// Rows around 16 centres drawn from `centre_seed`: documents and queries made with the same centre seed
/// come from one distribution (queries far from every cluster would defeat any graph index).
inline DenseMatrix clustered_dense(std::size_t n, std::size_t d, Metric metric, std::uint32_t seed,
                                   std::uint32_t centre_seed = 99) {
    std::normal_distribution<float> gauss(0.0F, 1.0F);
    std::uniform_real_distribution<float> scale(0.5F, 2.0F);
    constexpr std::size_t kCentres = 16;
    std::vector<float> centres(kCentres * d);
    std::mt19937 centre_rng(centre_seed);
    for (auto& c : centres) c = gauss(centre_rng);
    std::mt19937 rng(seed);
    DenseMatrix m{n, d, std::vector<float>(n * d), metric};
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(rng() % kCentres);
        const float s = scale(rng);
        for (std::size_t j = 0; j < d; ++j) m.data[i * d + j] = s * (centres[c * d + j] + 0.4F * gauss(rng));
    }
    return m;
}

/// FAISS and the BLAS oracle sum in different orders: allow float rounding relative to the magnitude.
inline float score_tolerance(float a) { return 1e-4F * std::max(1.0F, std::abs(a)); }

}  // namespace aftershock::test
