#include "aftershock/common/text/query_encoder.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/text/bm25.hpp"

#include <cmath>

namespace aftershock::text {
namespace {

/// The tokenizer the documents went through: the corpus' stopwords and stemmer apply to queries too.
WordPieceTokenizer make_tokenizer(std::vector<std::string>&& tokens, const std::optional<TextStats>& stats,
                                  const std::string& source) {
    TokenizerOptions options;
    if (stats) {
        options.stopwords = stopword_list(stats->stopwords);
        options.s_stem = parse_stemmer(stats->stemmer);
    }
    return WordPieceTokenizer(Vocabulary::from_tokens(std::move(tokens), source), std::move(options));
}

}  // namespace

QueryMode parse_query_mode(std::string_view s) {
    if (s == "bm25") return QueryMode::bm25;
    if (s == "idf") return QueryMode::idf;
    throw UsageError(fmt::format("unknown text query mode '{}' (expected bm25 or idf)", s));
}

QueryEncoder::QueryEncoder(TextVocab vocab, std::string source)
    : m_source(std::move(source)), m_stats(std::move(vocab.stats)), m_tokenizer(make_tokenizer(std::move(vocab.tokens), m_stats, m_source)) {}

QueryEncoder QueryEncoder::from_corpus(const std::string& path) {
    const h5::File f(path, h5::File::Mode::read);
    auto v = read_text_vocab(f);
    ensure<InputError>(v.has_value(), "{}: no /vocab: text queries need a corpus imported with a vocabulary "
                                      "(aftershock import --format text)", path);
    return QueryEncoder(std::move(*v), path + ":/vocab");
}

QueryEncoder QueryEncoder::from_index(const std::string& dir) {
    auto v = read_index_vocab(dir);
    ensure<InputError>(v.has_value(), "{}: no {}: the index was built from a corpus without /vocab, so text queries "
                                      "cannot be encoded", dir, kIndexVocabFile);
    return QueryEncoder(std::move(*v), dir + "/" + kIndexVocabFile);
}

SparseQuery QueryEncoder::encode(std::string_view text, QueryMode mode) const {
    ensure<UsageError>(mode != QueryMode::idf || m_stats.has_value(),
                       "{}: text query mode idf needs the corpus' idf statistics (/docs/idf), which it lacks; use bm25",
                       m_source);
    const auto counts = count_terms(m_tokenizer.encode(text), m_tokenizer.unk_id());
    SparseQuery q;
    q.indices = counts.ids;
    q.values.reserve(counts.ids.size());
    for (std::size_t i = 0; i < counts.ids.size(); ++i) {
        q.values.push_back(mode == QueryMode::bm25 ? static_cast<float>(counts.counts[i]) : m_stats->idf[counts.ids[i]]);
    }
    // An idf of 0 cannot occur (Lucene's idf is > 0) but a zero would break the "values > 0" invariant.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < q.indices.size(); ++i) {
        if (q.values[i] > 0.0F) {
            q.indices[kept] = q.indices[i];
            q.values[kept++] = q.values[i];
        }
    }
    q.indices.resize(kept);
    q.values.resize(kept);
    return q;
}

CsrMatrix QueryEncoder::encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>& ids,
                                     QueryMode mode) const {
    ensure(texts.size() == ids.size(), "encode_batch: {} texts but {} ids", texts.size(), ids.size());
    CsrMatrix m;
    m.dim = dim();
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto q = encode(texts[i], mode);
        ensure<InputError>(!q.indices.empty(), "query {}: no known WordPiece token in \"{}\"", ids[i], texts[i]);
        m.append_row(q.indices, q.values);
    }
    return m;
}

SparseQuery QueryEncoder::encode_tokens(const std::vector<std::pair<std::string, float>>& tokens, bool drop_unknown,
                                        std::size_t* dropped) const {
    SparseQuery q;
    for (const auto& [tok, w] : tokens) {
        ensure<InputError>(std::isfinite(w) && w >= 0, "token '{}': weight must be finite and >= 0, got {}", tok, w);
        const auto id = m_tokenizer.vocab().find(tok);
        if (!id) {
            ensure<InputError>(drop_unknown, "token '{}' is not in the vocabulary {}", tok, m_source);
            if (dropped != nullptr) ++*dropped;
            continue;
        }
        if (w == 0.0F) continue;
        q.indices.push_back(*id);
        q.values.push_back(w);
    }
    if (!sort_row(q.indices, q.values)) {
        for (std::size_t i = 1; i < q.indices.size(); ++i) {
            ensure<InputError>(q.indices[i] != q.indices[i - 1], "token '{}' given twice",
                               m_tokenizer.vocab().token(q.indices[i]));
        }
    }
    return q;
}

}  // namespace aftershock::text
