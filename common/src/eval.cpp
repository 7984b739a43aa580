#include "aftershock/common/eval.hpp"
#include "aftershock/common/text.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <unordered_map>
#include <unordered_set>

namespace aftershock {

std::size_t Qrels::n_judgments() const noexcept {
    std::size_t n = 0;
    for (const auto& [qid, docs] : queries) n += docs.size();
    return n;
}

namespace {

bool parse_int(std::string_view s, int& value) {
    if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);  // atol accepts a plus sign
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, value);
    return ec == std::errc() && ptr == end;
}

/// trec_eval's order: score descending, then docid descending (strcmp).
bool trec_before(const RunEntry* a, const RunEntry* b) noexcept {
    if (a->score != b->score) return a->score > b->score;
    return a->docid > b->docid;
}

std::vector<std::size_t> checked_depths(std::vector<std::size_t> depths, std::string_view what) {
    for (auto d : depths) ensure<UsageError>(d > 0, "evaluate: {} depth must be at least 1", what);
    std::sort(depths.begin(), depths.end());
    depths.erase(std::unique(depths.begin(), depths.end()), depths.end());
    return depths;
}

/// Groups a run's entries by query, keeping file order inside each query.
std::unordered_map<std::string_view, std::vector<const RunEntry*>> group_by_query(const Run& run) {
    std::unordered_map<std::string_view, std::vector<const RunEntry*>> out;
    for (const auto& e : run.entries) out[e.qid].push_back(&e);
    return out;
}

struct Measures {
    std::vector<std::size_t> ndcg;
    std::vector<std::size_t> precision;
    std::vector<std::size_t> recall;
};

/// One query's measures, in the order of metric_names(). `ranked` is already in trec_eval order.
std::vector<double> score_query(const std::vector<const RunEntry*>& ranked, const std::map<std::string, int>& judged,
                                const Measures& m) {
    std::vector<int> rels(ranked.size());
    for (std::size_t i = 0; i < ranked.size(); ++i) {
        const auto it = judged.find(ranked[i]->docid);
        rels[i] = it == judged.end() ? 0 : it->second;
    }
    std::vector<int> ideal;
    for (const auto& [docid, rel] : judged) {
        if (rel > 0) ideal.push_back(rel);
    }
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    const auto num_rel = ideal.size();

    std::vector<double> out;
    // AP, summed in rank order as trec_eval does so that the means agree to the last bit.
    double sum = 0.0;
    std::size_t rel_so_far = 0;
    for (std::size_t i = 0; i < rels.size(); ++i) {
        if (rels[i] > 0) {
            ++rel_so_far;
            sum += static_cast<double>(rel_so_far) / static_cast<double>(i + 1);
        }
    }
    out.push_back(num_rel > 0 ? sum / static_cast<double>(num_rel) : 0.0);

    for (const auto k : m.ndcg) {
        double dcg = 0.0;
        for (std::size_t i = 0; i < std::min(k, rels.size()); ++i) {
            if (rels[i] > 0) dcg += rels[i] / std::log2(static_cast<double>(i + 2));
        }
        double idcg = 0.0;
        for (std::size_t i = 0; i < std::min(k, ideal.size()); ++i) {
            idcg += ideal[i] / std::log2(static_cast<double>(i + 2));
        }
        out.push_back(idcg > 0.0 ? dcg / idcg : dcg);
    }
    const auto relevant_in_top = [&](std::size_t k) {
        return static_cast<std::size_t>(
            std::count_if(rels.begin(), rels.begin() + static_cast<std::ptrdiff_t>(std::min(k, rels.size())),
                          [](int r) { return r > 0; }));
    };
    for (const auto k : m.precision) {
        out.push_back(static_cast<double>(relevant_in_top(k)) / static_cast<double>(k));
    }
    for (const auto k : m.recall) {
        out.push_back(num_rel > 0 ? static_cast<double>(relevant_in_top(k)) / static_cast<double>(num_rel) : 0.0);
    }
    return out;
}

std::vector<std::string> metric_names(const Measures& m) {
    std::vector<std::string> names{"map"};
    for (auto k : m.ndcg) names.push_back(fmt::format("ndcg_cut_{}", k));
    for (auto k : m.precision) names.push_back(fmt::format("P_{}", k));
    for (auto k : m.recall) names.push_back(fmt::format("recall_{}", k));
    return names;
}

bool has_relevant(const std::map<std::string, int>& judged) {
    return std::any_of(judged.begin(), judged.end(), [](const auto& j) { return j.second > 0; });
}

/// Canonical decimal "0".."n-1" only: "007" or "+7" are not implicit ids.
bool parse_implicit_id(std::string_view s, std::size_t n, std::size_t& index) {
    if (s.empty() || (s.size() > 1 && s.front() == '0')) return false;
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, index);
    return ec == std::errc() && ptr == end && index < n;
}

std::unordered_map<std::string_view, std::size_t> index_ids(const std::vector<std::string>& ids, std::string_view what) {
    std::unordered_map<std::string_view, std::size_t> out;
    out.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto [it, inserted] = out.try_emplace(ids[i], i);
        ensure<InputError>(inserted, "{} id '{}' appears twice (rows {} and {})", what, ids[i], it->second, i);
    }
    return out;
}

/// A run's top-k for recall: its own rank order (a score's direction depends on the metric), then trec_eval's.
bool rank_before(const RunEntry* a, const RunEntry* b) noexcept {
    if (a->rank != b->rank) return a->rank < b->rank;
    return trec_before(a, b);
}

}  // namespace

Qrels parse_qrels(std::istream& in, std::string_view source) {
    Qrels qrels;
    std::unordered_map<std::string, std::size_t> first_line;  // "qid\ndocid" -> line, for the duplicate message
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        const auto f = split_whitespace(line);
        if (f.empty() || f[0].front() == '#') continue;
        ensure<InputError>(f.size() == 4, "{}:{}: expected 4 columns (qid iter docid rel), found {}", source, line_no,
                           f.size());
        int rel = 0;
        ensure<InputError>(parse_int(f[3], rel), "{}:{}: relevance '{}' is not an integer", source, line_no, f[3]);
        const std::string qid(f[0]);
        const std::string docid(f[2]);
        const auto [it, inserted] = first_line.try_emplace(qid + '\n' + docid, line_no);
        ensure<InputError>(inserted, "{}:{}: document '{}' judged twice for query '{}' (first at line {})", source,
                           line_no, docid, qid, it->second);
        qrels.queries[qid].emplace(docid, rel);
    }
    ensure(!in.bad(), "{}: read error after line {}", source, line_no);
    return qrels;
}

Qrels read_qrels(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    ensure<InputError>(in.is_open(), "{}: cannot open qrels file", path);
    return parse_qrels(in, path);
}

EvalResult evaluate(const Run& run, const Qrels& qrels, const EvalOptions& options) {
    const Measures m{checked_depths(options.ndcg_depths, "ndcg_cut"), checked_depths(options.precision_depths, "P"),
                     checked_depths(options.recall_depths, "recall")};
    EvalResult result;
    result.metrics = metric_names(m);
    std::vector<double> sums(result.metrics.size(), 0.0);

    auto by_query = group_by_query(run);
    for (const auto& [qid, entries] : by_query) {
        if (!qrels.queries.contains(std::string(qid))) ++result.n_unjudged;
    }
    // qrels order (byte order of qid) is trec_eval's accumulation order.
    for (const auto& [qid, judged] : qrels.queries) {
        if (options.skip_no_relevant && !has_relevant(judged)) continue;
        const auto it = by_query.find(qid);
        if (it == by_query.end()) {
            ++result.n_missing;
            if (!options.complete) continue;
            std::vector<double> zeros(result.metrics.size(), 0.0);
            auto& row = result.per_query[qid];
            for (std::size_t i = 0; i < zeros.size(); ++i) row[result.metrics[i]] = 0.0;
            ++result.n_queries;
            continue;
        }
        auto& ranked = it->second;
        std::unordered_set<std::string_view> seen;
        for (const auto* e : ranked) {
            ensure<InputError>(seen.insert(e->docid).second, "run lists document '{}' twice for query '{}'", e->docid,
                               qid);
        }
        std::sort(ranked.begin(), ranked.end(), trec_before);
        const auto values = score_query(ranked, judged, m);
        auto& row = result.per_query[qid];
        for (std::size_t i = 0; i < values.size(); ++i) {
            row[result.metrics[i]] = values[i];
            sums[i] += values[i];
        }
        ++result.n_queries;
    }
    if (result.n_queries == 0) {
        const auto example_run = run.entries.empty() ? std::string("none") : "'" + run.entries.front().qid + "'";
        const auto example_qrels = qrels.queries.empty() ? std::string("none") : "'" + qrels.queries.begin()->first + "'";
        throw InputError(fmt::format("evaluate: no query is both in the run ({} queries, e.g. {}) and in the qrels ({} "
                                     "queries, e.g. {}){}",
                                     by_query.size(), example_run, qrels.queries.size(), example_qrels,
                                     options.skip_no_relevant ? " with a relevant document" : ""));
    }
    for (std::size_t i = 0; i < sums.size(); ++i) {
        result.mean[result.metrics[i]] = sums[i] / static_cast<double>(result.n_queries);
    }
    return result;
}

RecallResult recall_at_k(const Run& run, const GroundTruth& gt, const std::vector<std::string>& doc_ids,
                         std::size_t n_docs, const std::vector<std::string>& query_ids, std::size_t k) {
    ensure<UsageError>(k > 0, "recall: k must be at least 1");
    ensure<UsageError>(k <= gt.k, "recall: k = {} exceeds the ground truth's depth of {} neighbours per query", k, gt.k);
    ensure<InputError>(gt.neighbors.size() == gt.n_queries * gt.k,
                       "recall: ground truth holds {} neighbours, expected {} queries x {}", gt.neighbors.size(),
                       gt.n_queries, gt.k);
    ensure<InputError>(doc_ids.empty() || doc_ids.size() == n_docs, "recall: {} document ids for {} documents",
                       doc_ids.size(), n_docs);
    ensure<InputError>(query_ids.empty() || query_ids.size() == gt.n_queries,
                       "recall: {} query ids but the ground truth has {} queries", query_ids.size(), gt.n_queries);

    const auto doc_index = index_ids(doc_ids, "document");
    const auto lookup_doc = [&](const RunEntry& e) {
        std::size_t index = 0;
        if (doc_ids.empty()) {
            ensure<InputError>(parse_implicit_id(e.docid, n_docs, index),
                               "recall: run query '{}' returns document '{}', which is not a corpus document id (the "
                               "corpus has no /docs/ids, so ids are 0..{})",
                               e.qid, e.docid, n_docs == 0 ? 0 : n_docs - 1);
            return index;
        }
        const auto it = doc_index.find(e.docid);
        ensure<InputError>(it != doc_index.end(),
                           "recall: run query '{}' returns document '{}', which is not in the corpus's /docs/ids", e.qid,
                           e.docid);
        return it->second;
    };

    RecallResult result;
    result.k = k;
    result.n_queries = gt.n_queries;
    result.query_ids.reserve(gt.n_queries);
    for (std::size_t q = 0; q < gt.n_queries; ++q) {
        result.query_ids.push_back(query_ids.empty() ? std::to_string(q) : query_ids[q]);
    }
    const auto query_index = index_ids(result.query_ids, "query");

    auto by_query = group_by_query(run);
    for (const auto& [qid, entries] : by_query) {
        if (!query_index.contains(qid)) ++result.n_unknown_queries;
    }
    // Every run document must exist, not only those in the top k: a wrong id space shows up at once.
    for (const auto& e : run.entries) {
        if (query_index.contains(e.qid)) static_cast<void>(lookup_doc(e));
    }

    result.per_query.assign(gt.n_queries, 0.0);
    std::vector<std::size_t> top;
    for (std::size_t q = 0; q < gt.n_queries; ++q) {
        // The ground-truth top-k as document rows (-1 is padding).
        top.clear();
        for (std::size_t j = 0; j < k; ++j) {
            const auto nb = gt.neighbors[q * gt.k + j];
            ensure<InputError>(nb >= -1 && nb < static_cast<std::int64_t>(n_docs),
                               "recall: ground truth row {} position {}: document index {} out of range [0, {})", q, j,
                               nb, n_docs);
            if (nb >= 0) top.push_back(static_cast<std::size_t>(nb));
        }
        const auto it = by_query.find(result.query_ids[q]);
        if (it == by_query.end()) {
            ++result.n_missing;
            continue;
        }
        if (top.empty()) {
            result.per_query[q] = 1.0;  // nothing to find
            continue;
        }
        auto& ranked = it->second;
        const auto depth = std::min(k, ranked.size());
        std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(depth), ranked.end(), rank_before);
        std::sort(top.begin(), top.end());
        top.erase(std::unique(top.begin(), top.end()), top.end());
        std::vector<bool> found(top.size(), false);  // each true neighbour counts once, even if listed twice
        std::size_t hits = 0;
        for (std::size_t i = 0; i < depth; ++i) {
            const auto d = lookup_doc(*ranked[i]);
            const auto pos = std::lower_bound(top.begin(), top.end(), d);
            if (pos != top.end() && *pos == d && !found[static_cast<std::size_t>(pos - top.begin())]) {
                found[static_cast<std::size_t>(pos - top.begin())] = true;
                ++hits;
            }
        }
        result.per_query[q] = static_cast<double>(hits) / static_cast<double>(top.size());
    }
    double sum = 0.0;
    for (const auto r : result.per_query) sum += r;
    result.recall = gt.n_queries > 0 ? sum / static_cast<double>(gt.n_queries) : 0.0;
    return result;
}

RecallResult recall_at_k(const Run& run, const std::string& corpus_path, std::string_view mode, std::size_t k) {
    ensure<UsageError>(mode == "sparse" || mode == "dense" || mode == "hybrid",
                       "recall: unknown mode '{}' (sparse, dense or hybrid)", mode);
    const h5::File file(corpus_path, h5::File::Mode::read);
    const auto info = describe_corpus(file);
    const auto gt = read_groundtruth(file, mode);
    ensure<InputError>(gt.has_value(),
                       "{}: no {} ground truth (/groundtruth/{}); compute it first with `aftershock groundtruth --corpus "
                       "{} --mode {}`",
                       corpus_path, mode, mode, corpus_path, mode);
    ensure<InputError>(info.n_queries == 0 || gt->n_queries == info.n_queries,
                       "{}:/groundtruth/{}: {} rows for {} queries", corpus_path, mode, gt->n_queries, info.n_queries);
    const auto doc_ids = read_ids(file, Side::docs);
    const auto query_ids = read_ids(file, Side::queries);
    return recall_at_k(run, *gt, doc_ids, static_cast<std::size_t>(info.n_docs), query_ids, k);
}

}  // namespace aftershock
