#pragma once
// Row-major float matrix: the in-memory form of /docs/dense and /queries/dense.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aftershock {

/// Similarity used for dense vectors. ip and cosine rank by higher score; l2 by lower distance.
enum class Metric { ip, cosine, l2 };

[[nodiscard]] std::string_view to_string(Metric m) noexcept;
/// Parses "ip" | "cosine" | "l2" (also ann-benchmarks' "angular", "euclidean", "dot"); throws UsageError.
[[nodiscard]] Metric parse_metric(std::string_view s);

struct DenseMatrix {
    std::size_t n = 0;
    std::size_t d = 0;
    std::vector<float> data;  ///< n * d values, row-major
    Metric metric = Metric::ip;

    [[nodiscard]] std::span<const float> row(std::size_t i) const noexcept { return {data.data() + i * d, d}; }
};

/// Throws InputError naming `dataset` and the first row with a NaN or infinite value.
void validate_dense(const DenseMatrix& m, std::string_view dataset, std::size_t first_row = 0);

/// Scales every row to unit L2 norm (rows of norm 0 stay 0): cosine becomes inner product.
void normalize_rows(DenseMatrix& m);

}  // namespace aftershock
