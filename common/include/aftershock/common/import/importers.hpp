#pragma once
// `aftershock import`: third-party vector files -> corpus HDF5 (DESIGN.md §4). Every importer streams:
// memory is one batch of rows plus the vocabulary (plus the --holdout records), never the whole input.
//
// Formats (see SEISMIC.md §4 and DATA.md):
//   jsonl          Anserini/Pyserini JsonVectorCollection lines {"id"|"docid"|"qid": .., "vector": ..}; an object
//                  vector is sparse {token: weight}, an array is dense. Ids (string or integer) go to /{side}/ids.
//   tsv-tokens     Anserini token-repeat lines "id<TAB>tok tok ..."; weight = count / weight_scale (default 1000).
//   bigann-csr     BigANN .csr (int64 nrow, ncol, nnz; int64 indptr; int32 indices; f32 data); --groundtruth .gt
//                  (u32 n, d; i32 I[n*d]; f32 D[n*d]) -> /groundtruth/sparse.
//   seismic-bin    Seismic .bin (u32 n_vecs; per vector u32 n, u32 components[n], f32 values[n]); --groundtruth .gt.
//   ann-benchmarks HDF5 /train, /test, /neighbors, /distances, attr distance. /groundtruth/dense/distances always
//                  holds the ranking score: angular distances d become cosine similarities 1 - d; euclidean
//                  stays an L2 distance; dot/ip stays an inner product (negated if the file stores -ip, which
//                  is detected from rows that ascend).
//   tsv-dense      "id<TAB>v v v ..." per line, or only numbers (NGT's TSV; ids are then 0..n-1). NGT's data
//                  files end each row with an object id that its query files lack: documents with exactly one
//                  column more than the --queries file keep that last column as their id.
//   fvecs          TEXMEX .fvecs (i32 d, f32[d] per vector); --groundtruth .ivecs -> /groundtruth/dense with
//                  distances recomputed from the vectors (similarity for ip/cosine, L2 distance for l2).
//   text           raw text (see import/text_collections.hpp: tar.gz of HTML, JSONL {"id","contents"}, Cranfield,
//                  TREC topics, id<TAB>text) -> bert-base-uncased WordPieces (--vocab, default
//                  text::default_vocab_path()). Documents get BM25 weights (--k1, --b; docs/FORMATS.md), queries
//                  token counts, so that their dot product is the BM25 score; /vocab, /docs/idf and /docs/df are
//                  written. Optional --stopwords english (Lucene's list) and --stemmer s (plurals) on both sides.
// Binary and text inputs may be gzip-compressed. Sparse rows are sorted by component; zero weights are
// dropped (counted); negative or non-finite weights, repeated components, bad lengths and truncation are
// InputErrors that name the file and the line (1-based) or row/vector (0-based).
//
// The corpus is written to OUT.tmp and renamed to OUT only when complete and valid. With `append`, OUT
// must exist: the imported parts are added to a copy of it, rows reordered to its ids; parts that exist
// already are refused.
#include "aftershock/common/dense_matrix.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aftershock {

struct ImportOptions {
    std::string format;       ///< one of import_formats()
    std::string docs;         ///< documents input (required unless append adds queries only)
    std::string queries;      ///< queries input (optional)
    std::string out;          ///< corpus HDF5 to write
    std::string groundtruth;  ///< .gt (bigann-csr, seismic-bin) or .ivecs (fvecs)
    std::string vocab;        ///< fixed vocabulary for token formats (JSON list/object or vocab.txt)
    std::optional<Metric> metric;  ///< dense metric (default ip; ann-benchmarks: the file's)
    bool append = false;      ///< add to the existing corpus `out` instead of creating it
    std::size_t holdout = 0;  ///< the last N records of `docs` become the queries
    double weight_scale = 0;  ///< sparse weight = value / weight_scale; 0 = format default (tsv-tokens 1000, else 1)
    std::size_t batch_rows = 16384;  ///< rows per write batch
    double k1 = 0.9;          ///< text: BM25 k1 (Anserini's default)
    double b = 0.4;           ///< text: BM25 b (Anserini's default)
    std::string stopwords;    ///< text: "" / "none" or "english"
    std::string stemmer;      ///< text: "" / "none" or "s" (plural stripping before WordPiece)
    bool skip_empty = false;  ///< text: leave out records without a token (logged) instead of failing
};

struct ImportStats {
    std::uint64_t docs = 0;
    std::uint64_t queries = 0;
    std::uint64_t doc_nnz = 0;
    std::uint64_t query_nnz = 0;
    std::uint64_t dim = 0;        ///< sparse dimension (vocabulary size)
    std::uint64_t dense_dim = 0;
    std::uint64_t unknown_query_tokens = 0;  ///< query tokens not in the vocabulary, dropped
    std::uint64_t dropped_zero_weights = 0;
};

/// Names accepted in ImportOptions::format.
[[nodiscard]] const std::vector<std::string>& import_formats();

/// Runs one import. Throws UsageError for inconsistent options and InputError for bad input data (the
/// message names the file and line/row); on any error OUT is left untouched and no temporary remains.
ImportStats import_corpus(const ImportOptions& opt);

}  // namespace aftershock
