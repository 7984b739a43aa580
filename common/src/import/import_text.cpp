// text: raw text collections -> BM25-weighted WordPiece rows (docs) and token-count rows (queries), so that the
// dot product of a query row with a document row is the document's BM25 score. BM25 needs the collection's
// document frequencies and mean length before any weight is known, so the documents' term counts are kept in
// memory (8 bytes per distinct term of each document) until the end of the documents.
#include "import_common.hpp"

#include "aftershock/common/import/text_collections.hpp"
#include "aftershock/common/text/bm25.hpp"
#include "aftershock/common/text/text_stats.hpp"
#include "aftershock/common/text/wordpiece.hpp"

#include <spdlog/spdlog.h>

namespace aftershock::import_detail {

void import_text(Context& ctx) {
    const auto& opt = ctx.opt;
    const text::Bm25Params params{opt.k1, opt.b};
    text::validate(params);
    ensure<UsageError>(ctx.vocab.fixed(), "--format text needs a WordPiece vocabulary (--vocab)");
    text::TokenizerOptions topt;
    topt.stopwords = text::stopword_list(opt.stopwords);
    topt.s_stem = text::parse_stemmer(opt.stemmer);
    const text::WordPieceTokenizer tok(std::move(ctx.vocab), std::move(topt));
    const auto dim = static_cast<std::uint64_t>(tok.vocab().size());
    const auto unk = tok.unk_id();

    // Documents: term counts first, weights once N, df and avgdl are known.
    CsrMatrix counts;  // data holds the term frequencies
    counts.dim = dim;
    std::vector<std::uint64_t> lengths;
    std::vector<std::string> doc_ids;
    std::vector<std::uint64_t> df(static_cast<std::size_t>(dim), 0);
    std::vector<float> tf;
    std::vector<std::string> skipped;
    // A record without a token has no row to write: an error, or left out with --skip-empty.
    const auto keep = [&](const text::TermCounts& terms, const TextRecord& r, const char* what) {
        if (!terms.ids.empty()) return true;
        ensure<InputError>(opt.skip_empty, "{}: {} '{}' has no indexable WordPiece token (--skip-empty leaves such "
                                           "records out)", r.where, what, r.id);
        skipped.push_back(r.id);
        return false;
    };
    const auto report_skipped = [&](const std::string& path) {
        if (skipped.empty()) return;
        spdlog::warn("import: {}: left out {} records without tokens (--skip-empty): {}", path, skipped.size(),
                     fmt::join(skipped, ", "));
        skipped.clear();
    };
    read_text_collection(opt.docs, Side::docs, [&](TextRecord&& r) {
        const auto tokens = tok.encode(r.text);
        const auto terms = text::count_terms(tokens, unk);
        if (!keep(terms, r, "document")) return;
        tf.assign(terms.counts.begin(), terms.counts.end());
        counts.append_row(terms.ids, tf);
        for (const auto t : terms.ids) ++df[t];
        lengths.push_back(tokens.size());
        doc_ids.push_back(std::move(r.id));
    });
    report_skipped(opt.docs);
    const auto n = static_cast<std::uint64_t>(lengths.size());
    ensure<InputError>(n > 0, "{}: no document with a token", opt.docs);
    double total = 0;
    for (const auto l : lengths) total += static_cast<double>(l);
    text::TextStats stats;
    stats.n_docs = n;
    stats.avgdl = total / static_cast<double>(n);
    stats.k1 = params.k1;
    stats.b = params.b;
    stats.stopwords = opt.stopwords.empty() ? "none" : opt.stopwords;
    stats.stemmer = opt.stemmer.empty() ? "none" : opt.stemmer;
    stats.df = df;
    stats.idf.resize(df.size());
    for (std::size_t t = 0; t < df.size(); ++t) stats.idf[t] = static_cast<float>(text::bm25_idf(n, df[t]));

    SparseSink docs(ctx.out, Side::docs, opt.batch_rows);
    std::vector<float> w;
    for (std::size_t d = 0; d < n; ++d) {
        const auto row = counts.row(d);
        w.resize(row.size());
        for (std::size_t i = 0; i < row.size(); ++i) {
            const double idf = text::bm25_idf(n, df[row.indices[i]]);
            w[i] = static_cast<float>(
                text::bm25_weight(idf, row.values[i], static_cast<double>(lengths[d]), stats.avgdl, params));
        }
        docs.add(row.indices, w, doc_ids[d]);
    }
    docs.finish(dim);
    ctx.stats.docs = docs.rows();
    ctx.stats.doc_nnz = docs.nnz();

    if (ctx.has_queries()) {
        SparseSink queries(ctx.out, Side::queries, opt.batch_rows);
        read_text_collection(opt.queries, Side::queries, [&](TextRecord&& r) {
            const auto terms = text::count_terms(tok.encode(r.text), unk);
            if (!keep(terms, r, "query")) return;
            tf.assign(terms.counts.begin(), terms.counts.end());
            queries.add(terms.ids, tf, r.id);
        });
        report_skipped(opt.queries);
        ensure<InputError>(queries.rows() > 0, "{}: no query with a token", opt.queries);
        queries.finish(dim);
        ctx.stats.queries = queries.rows();
        ctx.stats.query_nnz = queries.nnz();
    }
    ctx.out.write_strings("/vocab", tok.vocab().tokens());
    text::write_text_stats(ctx.out, stats);
    ctx.stats.dim = dim;
    spdlog::info("import: text collection {}: {} docs, avgdl {:.1f} WordPiece tokens, BM25 k1={} b={}, stopwords {}, "
                 "stemmer {}", opt.docs, n, stats.avgdl, params.k1, params.b, stats.stopwords, stats.stemmer);
}

}  // namespace aftershock::import_detail
