// libFuzzer target: the coordinator's HTTP request validator (coordinator/src/api.cpp), parse_search and
// parse_search_batch, over arbitrary bodies. The index has a sparse part (the dimension of a small WordPiece
// vocabulary, so token and text queries are reached too) and a dense one (dim 4).
// Contract: a body is either accepted (then the query is consistent: indices ascending and < dim, values and
// dense finite, dense of the index's dimension, 1 <= k <= max_k) or refused with ApiError 400/413/422, whose
// body() is valid JSON. Anything else is a finding.
#include "aftershock/coordinator/api.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>

using namespace aftershock;
using namespace aftershock::coordinator;

namespace {

const text::QueryEncoder& encoder() {
    static const text::QueryEncoder e = [] {
        text::TextVocab v;
        v.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "retrieval", "sparse", "dense",
                    "query", "##s", "##ing", "learn", "##ed", "vector", "search", "of", "and", "x"};
        return text::QueryEncoder(std::move(v), "fuzz vocabulary");
    }();
    return e;
}

void check(const SearchQuery& q, const ApiLimits& limits, const IndexFacts& facts) {
    bool ok = q.k >= 1 && q.k <= limits.max_k && q.indices.size() == q.values.size();
    for (std::size_t i = 0; ok && i < q.indices.size(); ++i) {
        ok = q.indices[i] < facts.sparse_dim && (i == 0 || q.indices[i - 1] < q.indices[i]) && std::isfinite(q.values[i]);
    }
    if (q.has_dense) ok = ok && q.dense.size() == facts.dense_dim;
    for (const float v : q.dense) ok = ok && std::isfinite(v);
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const ApiLimits limits;
    const IndexFacts facts{encoder().dim(), 4};
    for (const bool batch : {false, true}) {
        try {
            if (batch) {
                for (const auto& q : parse_search_batch(body, limits, facts, &encoder())) check(q, limits, facts);
            } else {
                check(parse_search(body, limits, facts, &encoder()), limits, facts);
            }
        } catch (const ApiError& e) {
            if (e.status() != 400 && e.status() != 413 && e.status() != 422) std::abort();
            (void)nlohmann::json::parse(e.body());  // must be valid JSON (throws, i.e. a finding, if not)
        }
    }
    return 0;
}
