#pragma once
// The corpus file (DESIGN.md §4): sparse and/or dense documents and queries, external ids, vocabulary and
// ground truth in one HDF5 file. Readers validate everything they load; writers stream.
#include "aftershock/common/dense_matrix.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/sparse_matrix.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aftershock {

/// Which part of a corpus: documents or queries.
enum class Side { docs, queries };
[[nodiscard]] std::string_view to_string(Side s) noexcept;

/// Summary of a corpus file without loading its vectors.
struct CorpusInfo {
    bool ann_benchmarks = false;  ///< /train, /test layout (read as is)
    std::uint64_t n_docs = 0;
    std::uint64_t n_queries = 0;
    bool docs_sparse = false;
    bool docs_dense = false;
    bool queries_sparse = false;
    bool queries_dense = false;
    std::uint64_t dim = 0;        ///< sparse dimension (vocabulary size)
    std::uint64_t dense_dim = 0;
    std::uint64_t doc_nnz = 0;
    std::uint64_t query_nnz = 0;
    Metric metric = Metric::ip;
};

struct Corpus {
    std::optional<CsrMatrix> doc_sparse;
    std::optional<DenseMatrix> doc_dense;
    std::optional<CsrMatrix> query_sparse;
    std::optional<DenseMatrix> query_dense;
    std::vector<std::string> doc_ids;    ///< empty: implicit "0".."n-1"
    std::vector<std::string> query_ids;  ///< empty: implicit "0".."n-1"
    std::vector<std::string> vocab;      ///< empty: none stored

    [[nodiscard]] std::size_t n_docs() const noexcept;
    [[nodiscard]] std::size_t n_queries() const noexcept;
    [[nodiscard]] std::string doc_id(std::size_t i) const;
    [[nodiscard]] std::string query_id(std::size_t i) const;
};

/// Exact top-K per query: neighbors[q*k + j] is a document index, distances the matching score.
struct GroundTruth {
    std::size_t n_queries = 0;
    std::size_t k = 0;
    std::vector<std::int64_t> neighbors;
    std::vector<float> distances;
};

/// What read_corpus loads.
struct CorpusParts {
    bool docs = true;
    bool queries = true;
    bool sparse = true;
    bool dense = true;
    bool ids = true;
    bool vocab = true;
};

/// Validates the file's structure (datasets present, shapes agree) and returns its summary.
[[nodiscard]] CorpusInfo describe_corpus(const h5::File& file);
[[nodiscard]] CorpusInfo describe_corpus(const std::string& path);

/// Loads and validates the requested parts (every row; errors name dataset and row).
[[nodiscard]] Corpus read_corpus(const std::string& path, CorpusParts parts = {});

/// Reads and validates rows [begin, end) of a sparse group ("/docs/sparse" or "/queries/sparse").
/// The returned block's indptr starts at 0.
[[nodiscard]] CsrMatrix read_sparse_rows(const h5::File& file, Side side, std::uint64_t begin, std::uint64_t end);
/// Reads and validates rows [begin, end) of a dense dataset.
[[nodiscard]] DenseMatrix read_dense_rows(const h5::File& file, Side side, std::uint64_t begin, std::uint64_t end);
/// External ids of one side (strings; integer ids are converted), or empty if none are stored.
[[nodiscard]] std::vector<std::string> read_ids(const h5::File& file, Side side);
/// Ids of rows [begin, end); "begin".."end-1" when none are stored.
[[nodiscard]] std::vector<std::string> read_ids(const h5::File& file, Side side, std::uint64_t begin, std::uint64_t end);

/// Writes a whole corpus to a new file (truncating).
void write_corpus(const std::string& path, const Corpus& corpus);
/// Adds or replaces one side's dense vectors in an existing file (the row count must match that side's).
void write_dense(h5::File& file, Side side, const DenseMatrix& m);

[[nodiscard]] std::optional<GroundTruth> read_groundtruth(const h5::File& file, std::string_view mode);
void write_groundtruth(h5::File& file, std::string_view mode, const GroundTruth& gt);

/// Streams sparse rows into "/docs/sparse" or "/queries/sparse" block by block.
class SparseRowWriter {
public:
    SparseRowWriter(h5::File& file, Side side);
    /// Appends a block of rows whose indptr starts at 0. Rows must already be valid.
    void append(const CsrMatrix& block);
    /// Writes the dim attribute; call once after the last block.
    void finish(std::uint64_t dim);
    [[nodiscard]] std::uint64_t rows() const noexcept { return m_rows; }
    [[nodiscard]] std::uint64_t nnz() const noexcept { return m_nnz; }

private:
    h5::File& m_file;
    std::string m_group;
    h5::Appender<std::uint64_t> m_indptr;
    h5::Appender<std::uint32_t> m_indices;
    h5::Appender<float> m_data;
    std::uint64_t m_rows = 0;
    std::uint64_t m_nnz = 0;
};

/// Streams dense rows into "/docs/dense" or "/queries/dense".
class DenseRowWriter {
public:
    DenseRowWriter(h5::File& file, Side side, std::size_t d, Metric metric);
    void append(std::span<const float> rows);
    [[nodiscard]] std::uint64_t rows() const noexcept { return m_data.rows(); }

private:
    h5::Appender<float> m_data;
};

[[nodiscard]] std::string sparse_group(Side side);
[[nodiscard]] std::string dense_dataset(Side side);
[[nodiscard]] std::string ids_dataset(Side side);

}  // namespace aftershock
