#include "aftershock/common/text/text_stats.hpp"

#include "aftershock/common/error.hpp"

#include <cmath>
#include <filesystem>

namespace aftershock::text {
namespace fs = std::filesystem;
namespace {

std::string where(const h5::File& f, const std::string& ds) { return f.path() + ":" + ds; }

void write_stats_attrs(h5::File& f, const std::string& ds, const TextStats& s) {
    f.write_attr(ds, "n_docs", s.n_docs);
    f.write_attr_f64(ds, "avgdl", s.avgdl);
    f.write_attr_f64(ds, "k1", s.k1);
    f.write_attr_f64(ds, "b", s.b);
    f.write_attr(ds, "stopwords", s.stopwords);
    f.write_attr(ds, "stemmer", s.stemmer);
    f.write_attr(ds, "tokenizer", s.tokenizer);
}

TextStats read_stats(const h5::File& f, const std::string& ds, std::size_t dim) {
    TextStats s;
    s.idf = f.read<float>(ds);
    ensure<InputError>(s.idf.size() == dim, "{}: {} entries but the vocabulary has {}", where(f, ds), s.idf.size(), dim);
    for (std::size_t i = 0; i < s.idf.size(); ++i) {
        ensure<InputError>(std::isfinite(s.idf[i]) && s.idf[i] >= 0, "{}: entry {}: bad idf {}", where(f, ds), i, s.idf[i]);
    }
    s.n_docs = f.read_attr_u64(ds, "n_docs");
    s.avgdl = f.read_attr_f64(ds, "avgdl");
    s.k1 = f.read_attr_f64(ds, "k1");
    s.b = f.read_attr_f64(ds, "b");
    s.stopwords = f.read_attr_string(ds, "stopwords");
    s.stemmer = f.has_attr(ds, "stemmer") ? f.read_attr_string(ds, "stemmer") : "none";
    s.tokenizer = f.read_attr_string(ds, "tokenizer");
    ensure<InputError>(s.tokenizer == kTokenizerName, "{}: tokenizer '{}' is not {}", where(f, ds), s.tokenizer,
                       kTokenizerName);
    return s;
}

}  // namespace

void write_text_stats(h5::File& corpus, const TextStats& stats) {
    ensure(stats.df.empty() || stats.df.size() == stats.idf.size(), "text stats: df and idf sizes differ");
    corpus.write<float>("/docs/idf", stats.idf);
    if (!stats.df.empty()) corpus.write<std::uint64_t>("/docs/df", stats.df);
    write_stats_attrs(corpus, "/docs/idf", stats);
}

std::optional<TextVocab> read_text_vocab(const h5::File& corpus) {
    if (!corpus.exists("/vocab")) return std::nullopt;
    TextVocab v;
    v.tokens = corpus.read_strings("/vocab");
    if (corpus.exists("/docs/idf")) {
        v.stats = read_stats(corpus, "/docs/idf", v.tokens.size());
        if (corpus.exists("/docs/df")) v.stats->df = corpus.read<std::uint64_t>("/docs/df");
    }
    return v;
}

bool write_index_vocab(const std::string& corpus_path, const std::string& dir) {
    const h5::File corpus(corpus_path, h5::File::Mode::read);
    const auto vocab = read_text_vocab(corpus);
    const auto path = (fs::path(dir) / kIndexVocabFile).string();
    if (!vocab) {
        std::error_code ec;
        fs::remove(path, ec);  // a copy left by an earlier build from another corpus would be wrong
        return false;
    }
    const auto tmp = path + ".tmp";
    try {
        {
            h5::File out(tmp, h5::File::Mode::truncate);
            out.write_strings("/vocab", vocab->tokens);
            if (vocab->stats) {
                out.write<float>("/idf", vocab->stats->idf);
                write_stats_attrs(out, "/idf", *vocab->stats);
            }
        }
        fs::rename(tmp, path);
    } catch (...) {
        std::error_code ec;
        fs::remove(tmp, ec);  // best effort: the error is on its way
        throw;
    }
    return true;
}

std::optional<TextVocab> read_index_vocab(const std::string& dir) {
    const auto path = (fs::path(dir) / kIndexVocabFile).string();
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;
    const h5::File f(path, h5::File::Mode::read);
    TextVocab v;
    v.tokens = f.read_strings("/vocab");
    if (f.exists("/idf")) v.stats = read_stats(f, "/idf", v.tokens.size());
    return v;
}

}  // namespace aftershock::text
