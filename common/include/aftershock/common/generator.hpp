#pragma once
// `aftershock gen`: a seeded synthetic SPLADE-like corpus (sparse documents and queries, optional dense vectors)
// whose term popularity, nnz and weights are calibrated on real SPLADE++ query vectors (docs/GENERATOR.md).
// Every document and query is a pure function of (options, its index), so blocks can be generated in any
// order, on any number of threads, and the output is bit-identical.
#include "aftershock/common/dense_matrix.hpp"
#include "aftershock/common/sparse_matrix.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace aftershock {

struct GeneratorOptions {
    std::uint64_t n_docs = 100000;
    std::uint64_t n_queries = 1000;
    std::uint64_t seed = 42;
    std::uint32_t dim = 30522;     ///< vocabulary size; 30,522 uses the real BERT ids of the popular terms
    std::uint32_t dense_dim = 0;   ///< 0: no dense vectors
    unsigned threads = 0;          ///< 0: all cores
    std::uint32_t n_topics = 0;    ///< 0: auto (about one topic per 250 documents, 16..8192)
};

struct GeneratorStats {
    std::uint64_t docs = 0;
    std::uint64_t queries = 0;
    std::uint64_t doc_nnz = 0;
    std::uint64_t query_nnz = 0;
    std::uint32_t n_topics = 0;
    double seconds = 0.0;
};

/// The topics a generated document was drawn from (dense vectors mix the same topic centroids).
struct DocTopics {
    std::uint32_t primary = 0;
    std::uint32_t secondary = 0;  ///< equal to primary when the document has one topic
    double secondary_share = 0.0; ///< share of topical terms drawn from the secondary topic
};

/// The model behind `aftershock gen`: popularity tables, topics and dense centroids, built once from the
/// options (a few hundred ms at most). All member functions are const and thread-safe.
class CorpusGenerator {
public:
    /// Throws UsageError for options out of range (dim < 1024, n_queries > 0 with n_docs == 0, ...).
    explicit CorpusGenerator(const GeneratorOptions& opt);
    ~CorpusGenerator();
    CorpusGenerator(CorpusGenerator&&) noexcept;
    CorpusGenerator& operator=(CorpusGenerator&&) noexcept;
    CorpusGenerator(const CorpusGenerator&) = delete;
    CorpusGenerator& operator=(const CorpusGenerator&) = delete;

    [[nodiscard]] const GeneratorOptions& options() const noexcept;
    [[nodiscard]] std::uint32_t n_topics() const noexcept;

    /// Sparse documents [begin, end) on the calling thread; the block's indptr starts at 0.
    [[nodiscard]] CsrMatrix docs(std::uint64_t begin, std::uint64_t end) const;
    /// Sparse queries [begin, end); query q is derived from document query_seed_doc(q).
    [[nodiscard]] CsrMatrix queries(std::uint64_t begin, std::uint64_t end) const;
    /// Unit-norm dense vectors (metric cosine) of documents / queries [begin, end); needs dense_dim > 0.
    [[nodiscard]] DenseMatrix doc_dense(std::uint64_t begin, std::uint64_t end) const;
    [[nodiscard]] DenseMatrix query_dense(std::uint64_t begin, std::uint64_t end) const;

    [[nodiscard]] DocTopics doc_topics(std::uint64_t doc) const;
    [[nodiscard]] std::uint64_t query_seed_doc(std::uint64_t query) const;
    /// Term id of popularity rank `rank` (1 = the most frequent query term).
    [[nodiscard]] std::uint32_t term_of_rank(std::uint32_t rank) const;

private:
    struct Model;
    std::unique_ptr<const Model> m_model;
};

/// Documents [begin, end) generated on opt.threads threads (identical for any thread count).
[[nodiscard]] CsrMatrix generate_docs(const GeneratorOptions& opt, std::uint64_t begin, std::uint64_t end);
/// All opt.n_queries queries.
[[nodiscard]] CsrMatrix generate_queries(const GeneratorOptions& opt);

/// Writes a corpus file (DESIGN.md §4): /docs and /queries sparse (+ dense when dense_dim > 0, metric cosine)
/// and string ids "d0".., "q0"..; streamed in blocks, so memory stays bounded whatever n_docs is.
/// Throws UsageError for bad options and Error when the file cannot be written.
GeneratorStats generate_corpus(const GeneratorOptions& opt, const std::string& out_path);

/// Tables measured once on the 6,980 SPLADE++ED MS MARCO dev query vectors (and the 19 real toy documents) and
/// embedded in generator_calibration.cpp, so the generator needs no data at run time.
namespace calibration {

struct RankValue {
    std::uint32_t rank;  ///< popularity rank, 1-based
    double value;
};
inline constexpr std::size_t kWeightGridSize = 28;
struct WeightRow {
    std::uint32_t max_nnz;                             ///< row applies to queries with nnz <= max_nnz
    std::array<double, kWeightGridSize> quantiles;  ///< weight quantiles at weight_grid()
};

/// Fraction of queries that contain the term of a popularity rank, at log-spaced ranks.
[[nodiscard]] std::span<const RankValue> query_doc_freq() noexcept;
/// Query nnz quantiles at weight_grid().
[[nodiscard]] std::span<const double, kWeightGridSize> query_nnz_quantiles() noexcept;
/// Probabilities at which the weight quantile tables are given (0 ... 1).
[[nodiscard]] std::span<const double, kWeightGridSize> weight_grid() noexcept;
/// Query weight quantiles by query nnz bucket.
[[nodiscard]] std::span<const WeightRow> query_weights() noexcept;
/// Document weight quantiles (real SPLADE++ toy documents).
[[nodiscard]] std::span<const double, kWeightGridSize> doc_weights() noexcept;
/// Mean within-query weight percentile of terms whose popularity rank is >= rank (until the next row).
[[nodiscard]] std::span<const RankValue> weight_percentile_by_rank() noexcept;
/// BERT ids of the most popular query terms, most popular first.
[[nodiscard]] std::span<const std::uint32_t> popular_bert_ids() noexcept;

}  // namespace calibration

}  // namespace aftershock
