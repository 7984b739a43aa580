#pragma once
// Turning user text into sparse queries in a corpus' WordPiece space, without a model:
//  - bm25: each WordPiece counts once per occurrence, so that the dot product with BM25-weighted documents is
//    the BM25 score (the query side of `aftershock import --format text`);
//  - idf:  each distinct WordPiece weighted by its idf (the inference-free learned-sparse setup, where only the
//    documents go through a model). Needs the corpus' statistics (/docs/idf).
// [UNK] pieces are dropped (the documents do not index them either); the corpus' stopwords apply.
// Token maps {"token": weight} are looked up verbatim (WordPiece spelling, "##piece").
#include "aftershock/common/sparse_matrix.hpp"
#include "aftershock/common/text/text_stats.hpp"
#include "aftershock/common/text/wordpiece.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aftershock::text {

enum class QueryMode { bm25, idf };
/// "bm25" or "idf"; UsageError otherwise.
[[nodiscard]] QueryMode parse_query_mode(std::string_view s);

/// One sparse query (ascending indices, positive values).
struct SparseQuery {
    std::vector<std::uint32_t> indices;
    std::vector<float> values;
};

class QueryEncoder {
public:
    /// `source` names where the vocabulary came from in messages.
    QueryEncoder(TextVocab vocab, std::string source);
    /// From a corpus' /vocab (and /docs/idf); InputError if the corpus has no /vocab.
    [[nodiscard]] static QueryEncoder from_corpus(const std::string& path);
    /// From DIR/vocab.h5; InputError if the index has none (its corpus had no /vocab).
    [[nodiscard]] static QueryEncoder from_index(const std::string& dir);

    /// Encodes free text. An empty result (no known token) is returned as is; callers decide.
    [[nodiscard]] SparseQuery encode(std::string_view text, QueryMode mode) const;
    /// Many texts as CSR rows of dimension vocab size. InputError naming `ids[i]` if a text encodes to nothing.
    [[nodiscard]] CsrMatrix encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>& ids,
                                         QueryMode mode) const;
    /// {"token": weight} -> (indices, values). Weights must be finite and >= 0 (zeros are dropped), tokens unique.
    /// Unknown tokens are an InputError naming them unless `drop_unknown`, which skips them and counts them in
    /// `*dropped` when given.
    [[nodiscard]] SparseQuery encode_tokens(const std::vector<std::pair<std::string, float>>& tokens,
                                            bool drop_unknown = false, std::size_t* dropped = nullptr) const;

    [[nodiscard]] const WordPieceTokenizer& tokenizer() const noexcept { return m_tokenizer; }
    [[nodiscard]] const std::optional<TextStats>& stats() const noexcept { return m_stats; }
    [[nodiscard]] std::size_t dim() const noexcept { return m_tokenizer.vocab().size(); }

private:
    std::string m_source;
    std::optional<TextStats> m_stats;
    WordPieceTokenizer m_tokenizer;
};

}  // namespace aftershock::text
