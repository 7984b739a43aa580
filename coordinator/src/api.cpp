#include "aftershock/coordinator/api.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <numeric>

namespace aftershock::coordinator {

using nlohmann::json;

std::string ApiError::body() const {
    return json{{"error", {{"code", m_code}, {"message", what()}}}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& why) {
    throw ApiError(422, "invalid_field", field + ": " + why);
}

json parse_json(std::string_view body, const ApiLimits& limits) {
    try {
        // The depth check runs while parsing, so a deeply nested body is refused before it is built.
        return json::parse(body.begin(), body.end(), [&](int depth, json::parse_event_t, json&) {
            if (static_cast<std::size_t>(depth) > limits.max_json_depth) {
                throw ApiError(400, "invalid_json", fmt::format("JSON nested deeper than {} levels", limits.max_json_depth));
            }
            return true;
        });
    } catch (const json::parse_error& e) {
        // e.byte is where the parser stopped; the message from the library names the token and the UTF-8 problem.
        throw ApiError(400, "invalid_json", fmt::format("malformed JSON at byte {}: {}", e.byte, e.what()));
    } catch (const json::out_of_range& e) {
        // A number beyond double's range (1e999) is out_of_range 406, not a parse_error (found by fuzz_api).
        throw ApiError(400, "invalid_json", fmt::format("malformed JSON: {}", e.what()));
    }
}

double number(const json& v, const std::string& field) {
    if (!v.is_number()) invalid(field, "must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d)) invalid(field, "must be finite");
    return d;
}

std::uint64_t whole(const json& v, const std::string& field, std::uint64_t lo, std::uint64_t hi) {
    if (v.is_number_unsigned() || v.is_number_integer()) {
        if (v.is_number_integer() && v.get<std::int64_t>() < 0) invalid(field, fmt::format("must be in {}..{}", lo, hi));
        const auto u = v.get<std::uint64_t>();
        if (u < lo || u > hi) invalid(field, fmt::format("must be in {}..{}", lo, hi));
        return u;
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) {
            return static_cast<std::uint64_t>(d);
        }
    }
    invalid(field, fmt::format("must be an integer in {}..{}", lo, hi));
}

void only_known(const json& obj, const std::string& where, std::initializer_list<const char*> known) {
    for (const auto& item : obj.items()) {
        const auto& key = item.key();  // not a structured binding: clang 14 cannot capture those in a lambda
        if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
            throw ApiError(422, "unknown_field", fmt::format("{}{}: unknown field", where, key));
        }
    }
}

const json& object(const json& v, const std::string& field) {
    if (!v.is_object()) invalid(field, "must be an object");
    return v;
}

void parse_sparse(const json& s, const std::string& f, const ApiLimits& limits, const IndexFacts& facts,
                  const text::QueryEncoder* encoder, SearchQuery& q) {
    object(s, f);
    only_known(s, f + ".", {"indices", "values", "tokens", "text", "text_mode"});
    std::vector<std::pair<std::uint32_t, float>> terms;
    const int forms = (s.contains("tokens") ? 1 : 0) + (s.contains("text") ? 1 : 0) + (s.contains("indices") || s.contains("values") ? 1 : 0);
    if (forms > 1) invalid(f, "give one of indices/values, tokens or text");
    if ((s.contains("tokens") || s.contains("text")) && encoder == nullptr) {
        throw ApiError(422, "no_vocabulary", f + ": token and text queries need a vocabulary (start the coordinator with --vocab)");
    }
    if (s.contains("text")) {
        if (!s["text"].is_string()) invalid(f + ".text", "must be a string");
        auto mode = text::QueryMode::bm25;
        if (s.contains("text_mode")) {
            if (!s["text_mode"].is_string()) invalid(f + ".text_mode", "must be \"bm25\" or \"idf\"");
            try {
                mode = text::parse_query_mode(s["text_mode"].get<std::string>());
            } catch (const UsageError& e) {
                invalid(f + ".text_mode", e.what());
            }
        }
        try {
            const auto enc = encoder->encode(s["text"].get<std::string>(), mode);
            for (std::size_t i = 0; i < enc.indices.size(); ++i) terms.emplace_back(enc.indices[i], enc.values[i]);
        } catch (const Error& e) {
            invalid(f + ".text", e.what());
        }
        if (terms.empty()) invalid(f + ".text", "has no token in the vocabulary");
    } else if (s.contains("tokens")) {
        const auto& t = object(s["tokens"], f + ".tokens");
        std::vector<std::pair<std::string, float>> pairs;
        for (const auto& [token, weight] : t.items()) {
            pairs.emplace_back(token, static_cast<float>(number(weight, f + ".tokens." + token)));
        }
        try {
            const auto enc = encoder->encode_tokens(pairs);
            for (std::size_t i = 0; i < enc.indices.size(); ++i) terms.emplace_back(enc.indices[i], enc.values[i]);
        } catch (const Error& e) {
            invalid(f + ".tokens", e.what());
        }
    } else {
        if (!s.contains("indices") || !s.contains("values")) invalid(f, "needs indices and values (or tokens)");
        const auto& idx = s["indices"];
        const auto& val = s["values"];
        if (!idx.is_array()) invalid(f + ".indices", "must be an array");
        if (!val.is_array()) invalid(f + ".values", "must be an array");
        if (idx.size() != val.size()) {
            invalid(f, fmt::format("indices has {} entries but values has {}", idx.size(), val.size()));
        }
        for (std::size_t i = 0; i < idx.size(); ++i) {
            const auto field = fmt::format("{}.indices[{}]", f, i);
            const auto id = whole(idx[i], field, 0, 0xFFFFFFFFULL);
            if (facts.sparse_dim > 0 && id >= facts.sparse_dim) invalid(field, fmt::format("{} is out of range (dim {})", id, facts.sparse_dim));
            const double v = number(val[i], fmt::format("{}.values[{}]", f, i));
            if (std::abs(v) > 3.0e38) invalid(fmt::format("{}.values[{}]", f, i), "is out of float range");
            terms.emplace_back(static_cast<std::uint32_t>(id), static_cast<float>(v));
        }
    }
    if (terms.size() > limits.max_sparse_terms) invalid(f, fmt::format("{} terms; the limit is {}", terms.size(), limits.max_sparse_terms));
    std::sort(terms.begin(), terms.end());
    for (std::size_t i = 1; i < terms.size(); ++i) {
        if (terms[i].first == terms[i - 1].first) invalid(f + ".indices", fmt::format("duplicate index {}", terms[i].first));
    }
    q.has_sparse = true;
    for (const auto& [id, v] : terms) {
        if (v == 0.0F) continue;  // a zero weight matches nothing; dropping it keeps the query minimal
        q.indices.push_back(id);
        q.values.push_back(v);
    }
}

void parse_fusion(const json& fj, SearchQuery& q) {
    object(fj, "fusion");
    only_known(fj, "fusion.", {"method", "rank_constant", "weights", "normalization"});
    if (!fj.contains("method") || !fj["method"].is_string()) invalid("fusion.method", "must be \"rrf\" or \"linear\"");
    try {
        q.fusion.method = parse_fusion_method(fj["method"].get<std::string>());
    } catch (const UsageError& e) {
        invalid("fusion.method", e.what());
    }
    if (fj.contains("normalization")) {
        if (!fj["normalization"].is_string()) invalid("fusion.normalization", "must be a string");
        try {
            q.fusion.normalization = parse_normalization(fj["normalization"].get<std::string>());
        } catch (const UsageError& e) {
            invalid("fusion.normalization", e.what());
        }
    }
    if (fj.contains("rank_constant")) {
        q.fusion.rank_constant = number(fj["rank_constant"], "fusion.rank_constant");
        if (q.fusion.rank_constant < 0) invalid("fusion.rank_constant", "must be >= 0");
    }
    if (fj.contains("weights")) {
        const auto& w = object(fj["weights"], "fusion.weights");
        only_known(w, "fusion.weights.", {"sparse", "dense"});
        if (w.contains("sparse")) q.weight_sparse = number(w["sparse"], "fusion.weights.sparse");
        if (w.contains("dense")) q.weight_dense = number(w["dense"], "fusion.weights.dense");
    }
}

void parse_params(const json& p, SearchQuery& q) {
    object(p, "params");
    only_known(p, "params.", {"query_cut", "heap_factor", "knn", "first_sorted", "ef_search", "nprobe"});
    if (p.contains("query_cut")) q.knobs.query_cut = static_cast<std::uint32_t>(whole(p["query_cut"], "params.query_cut", 1, 100000));
    if (p.contains("heap_factor")) {
        const double h = number(p["heap_factor"], "params.heap_factor");
        if (h <= 0.0 || h > 100.0) invalid("params.heap_factor", "must be in (0, 100]");
        q.knobs.heap_factor = static_cast<float>(h);
    }
    if (p.contains("knn")) q.knobs.knn = static_cast<std::uint32_t>(whole(p["knn"], "params.knn", 0, 1000));
    if (p.contains("first_sorted")) {
        if (!p["first_sorted"].is_boolean()) invalid("params.first_sorted", "must be true or false");
        q.knobs.first_sorted = p["first_sorted"].get<bool>();
    }
    if (p.contains("ef_search")) q.knobs.ef_search = static_cast<std::uint32_t>(whole(p["ef_search"], "params.ef_search", 1, 100000));
    if (p.contains("nprobe")) q.knobs.nprobe = static_cast<std::uint32_t>(whole(p["nprobe"], "params.nprobe", 1, 1000000));
}

Normalization normalization_of(const json& v, const std::string& field) {
    if (!v.is_string()) invalid(field, "must be \"none\", \"minmax\" or \"zscore\"");
    try {
        return parse_normalization(v.get<std::string>());
    } catch (const UsageError& e) {
        invalid(field, e.what());
    }
}

void parse_rerank(const json& r, const ApiLimits& limits, SearchQuery& q) {
    object(r, "rerank");
    only_known(r, "rerank.", {"depth", "weight", "normalization"});
    pipeline::RerankParams p;
    if (r.contains("depth")) p.depth = static_cast<std::uint32_t>(whole(r["depth"], "rerank.depth", 1, limits.max_candidates));
    if (r.contains("weight")) p.weight = number(r["weight"], "rerank.weight");
    if (r.contains("normalization")) p.normalization = normalization_of(r["normalization"], "rerank.normalization");
    q.rerank = p;
}

void parse_prf(const json& r, const ApiLimits& limits, SearchQuery& q) {
    object(r, "prf");
    only_known(r, "prf.", {"docs", "depth", "interpolate", "weight", "normalization", "sparse", "dense"});
    pipeline::PrfParams p;
    // A single-route query has nothing to interpolate; a hybrid one interpolates after feedback unless told.
    p.interpolation = q.has_sparse && q.has_dense ? pipeline::Interpolation::after : pipeline::Interpolation::none;
    if (r.contains("docs")) p.docs = static_cast<std::uint32_t>(whole(r["docs"], "prf.docs", 1, 1000));
    if (r.contains("depth")) p.depth = static_cast<std::uint32_t>(whole(r["depth"], "prf.depth", 1, limits.max_candidates));
    if (r.contains("interpolate")) {
        if (!r["interpolate"].is_string()) invalid("prf.interpolate", "must be \"none\", \"before\", \"after\" or \"both\"");
        try {
            p.interpolation = pipeline::parse_interpolation(r["interpolate"].get<std::string>());
        } catch (const UsageError& e) {
            invalid("prf.interpolate", e.what());
        }
    }
    if (r.contains("weight")) p.weight = number(r["weight"], "prf.weight");
    if (r.contains("normalization")) p.normalization = normalization_of(r["normalization"], "prf.normalization");
    if (r.contains("sparse")) {
        const auto& s = object(r["sparse"], "prf.sparse");
        only_known(s, "prf.sparse.", {"terms", "alpha", "beta"});
        p.sparse = true;
        if (s.contains("terms")) p.terms = static_cast<std::uint32_t>(whole(s["terms"], "prf.sparse.terms", 1, 10000));
        if (s.contains("alpha")) p.sparse_alpha = number(s["alpha"], "prf.sparse.alpha");
        if (s.contains("beta")) p.sparse_beta = number(s["beta"], "prf.sparse.beta");
    }
    if (r.contains("dense")) {
        const auto& d = object(r["dense"], "prf.dense");
        only_known(d, "prf.dense.", {"alpha", "beta"});
        p.dense = true;
        if (d.contains("alpha")) p.dense_alpha = number(d["alpha"], "prf.dense.alpha");
        if (d.contains("beta")) p.dense_beta = number(d["beta"], "prf.dense.beta");
    }
    q.prf = p;
}

SearchQuery parse_one(const json& body, const ApiLimits& limits, const IndexFacts& facts, const text::QueryEncoder* encoder) {
    if (!body.is_object()) throw ApiError(422, "invalid_field", "body: must be a JSON object");
    only_known(body, "", {"k", "sparse", "dense", "fusion", "params", "timeout_ms", "min_coverage", "candidates", "exact", "rerank", "prf",
                      "shard_k_epsilon"});
    SearchQuery q;
    if (body.contains("k")) q.k = static_cast<std::uint32_t>(whole(body["k"], "k", 1, limits.max_k));
    if (body.contains("sparse")) {
        if (facts.sparse_dim == 0) invalid("sparse", "this index has no sparse part");
        parse_sparse(body["sparse"], "sparse", limits, facts, encoder, q);
    }
    if (body.contains("dense")) {
        const auto& d = body["dense"];
        if (facts.dense_dim == 0) invalid("dense", "this index has no dense part");
        if (!d.is_array()) invalid("dense", "must be an array of numbers");
        if (d.size() != facts.dense_dim) invalid("dense", fmt::format("has {} values; the index's dimension is {}", d.size(), facts.dense_dim));
        q.dense.reserve(d.size());
        for (std::size_t i = 0; i < d.size(); ++i) {
            const double v = number(d[i], fmt::format("dense[{}]", i));
            if (std::abs(v) > 3.0e38) invalid(fmt::format("dense[{}]", i), "is out of float range");
            q.dense.push_back(static_cast<float>(v));
        }
        q.has_dense = true;
    }
    if (!q.has_sparse && !q.has_dense) invalid("body", "a query needs sparse (indices/values or tokens) or dense");
    if (body.contains("fusion")) parse_fusion(body["fusion"], q);
    if (body.contains("params")) parse_params(body["params"], q);
    if (body.contains("timeout_ms")) q.timeout_ms = static_cast<std::uint32_t>(whole(body["timeout_ms"], "timeout_ms", 1, limits.max_timeout_ms));
    if (body.contains("min_coverage")) {
        q.min_coverage = number(body["min_coverage"], "min_coverage");
        if (q.min_coverage < 0.0 || q.min_coverage > 1.0) invalid("min_coverage", "must be in [0, 1]");
    }
    if (body.contains("shard_k_epsilon")) {
        const double e = number(body["shard_k_epsilon"], "shard_k_epsilon");
        if (e < 0.0 || e >= 0.5) invalid("shard_k_epsilon", "must be in [0, 0.5)");
        q.shard_k_epsilon = e;
    }
    if (body.contains("candidates")) q.candidates = static_cast<std::uint32_t>(whole(body["candidates"], "candidates", 1, limits.max_candidates));
    q.candidates = std::max(q.candidates, q.k);
    if (body.contains("exact")) {
        if (!body["exact"].is_boolean()) invalid("exact", "must be true or false");
        q.exact = body["exact"].get<bool>();
    }
    if (body.contains("rerank")) parse_rerank(body["rerank"], limits, q);
    if (body.contains("prf")) parse_prf(body["prf"], limits, q);
    if (q.is_pipeline()) {
        if (body.contains("fusion")) invalid("fusion", "does not apply to rerank or prf (they interpolate; see their weight)");
        try {
            pipeline::validate(to_pipeline(q));
        } catch (const UsageError& e) {
            // The pipeline's messages start with the field they are about ("prf.interpolate: ...").
            throw ApiError(422, "invalid_field", e.what());
        }
    }
    return q;
}

}  // namespace

pipeline::PipelineQuery to_pipeline(const SearchQuery& q) {
    pipeline::PipelineQuery p;
    p.k = q.k;
    if (q.has_sparse) p.sparse = pipeline::SparseVector{q.indices, q.values};
    if (q.has_dense) p.dense = q.dense;
    p.rerank = q.rerank;
    p.prf = q.prf;
    return p;
}

SearchQuery parse_search(std::string_view body, const ApiLimits& limits, const IndexFacts& facts,
                         const text::QueryEncoder* encoder) {
    return parse_one(parse_json(body, limits), limits, facts, encoder);
}

text::QueryEncoder load_query_encoder(const std::string& path) {
    namespace fs = std::filesystem;
    if (fs::is_directory(path)) return text::QueryEncoder::from_index(path);
    if (fs::path(path).extension() == ".h5") return text::QueryEncoder::from_corpus(path);
    auto tokens = text::WordPieceTokenizer::load(path).vocab().tokens();
    return text::QueryEncoder(text::TextVocab{std::move(tokens), std::nullopt}, path);
}

std::vector<SearchQuery> parse_search_batch(std::string_view body, const ApiLimits& limits, const IndexFacts& facts,
                                            const text::QueryEncoder* encoder) {
    const auto j = parse_json(body, limits);
    if (!j.is_object()) throw ApiError(422, "invalid_field", "body: must be a JSON object");
    only_known(j, "", {"queries"});
    if (!j.contains("queries") || !j["queries"].is_array()) invalid("queries", "must be an array of search bodies");
    const auto& qs = j["queries"];
    if (qs.empty()) invalid("queries", "is empty");
    if (qs.size() > limits.max_batch) {
        throw ApiError(413, "batch_too_large", fmt::format("queries: {} queries; the limit is {}", qs.size(), limits.max_batch));
    }
    std::vector<SearchQuery> out;
    out.reserve(qs.size());
    for (std::size_t i = 0; i < qs.size(); ++i) {
        try {
            out.push_back(parse_one(qs[i], limits, facts, encoder));
        } catch (const ApiError& e) {
            throw ApiError(e.status(), e.code(), fmt::format("queries[{}].{}", i, e.what()));
        }
    }
    return out;
}

}  // namespace aftershock::coordinator
