#pragma once
// What a BM25 text corpus stores beside its vectors so that users can encode new text queries: the token
// strings (/vocab) and the collection statistics (/docs/idf, /docs/df and attributes). An index directory
// carries a copy in DIR/vocab.h5. Layouts: docs/FORMATS.md "Text collections".
#include "aftershock/common/hdf5.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aftershock::text {

/// Tokenizer name stored with the statistics; the only one there is.
inline constexpr const char* kTokenizerName = "bert-base-uncased-wordpiece";

struct TextStats {
    std::vector<float> idf;           ///< [dim], Lucene's BM25 idf of every vocabulary entry
    std::vector<std::uint64_t> df;    ///< [dim], documents containing the token (empty when read from vocab.h5)
    std::uint64_t n_docs = 0;
    double avgdl = 0.0;               ///< mean document length in WordPiece tokens (stopwords removed)
    double k1 = 0.0;
    double b = 0.0;
    std::string stopwords = "none";   ///< "none" or "english": applied to queries as to the documents
    std::string stemmer = "none";     ///< "none" or "s" (text::s_stem): applied to queries as to the documents
    std::string tokenizer = kTokenizerName;
};

struct TextVocab {
    std::vector<std::string> tokens;  ///< /vocab, id order
    std::optional<TextStats> stats;   ///< absent for corpora that were not imported from text
};

/// Writes /docs/idf, /docs/df and their attributes (dim must equal the vocabulary's).
void write_text_stats(h5::File& corpus, const TextStats& stats);
/// /vocab and the statistics of a corpus; nullopt if it has no /vocab. Throws InputError if the statistics
/// disagree with the vocabulary size or are malformed.
[[nodiscard]] std::optional<TextVocab> read_text_vocab(const h5::File& corpus);

/// File name of the vocabulary copy in an index directory.
inline constexpr const char* kIndexVocabFile = "vocab.h5";
/// Writes DIR/vocab.h5 (/vocab, /idf with the statistics' attributes when present) from the corpus, atomically
/// (DIR/vocab.h5.tmp, renamed). Returns false if the corpus has no /vocab; then an older DIR/vocab.h5 is removed.
bool write_index_vocab(const std::string& corpus_path, const std::string& dir);
/// Reads DIR/vocab.h5; nullopt if the directory has none.
[[nodiscard]] std::optional<TextVocab> read_index_vocab(const std::string& dir);

}  // namespace aftershock::text
