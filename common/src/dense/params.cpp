#include "aftershock/common/dense/params.hpp"

#include "aftershock/common/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace aftershock::dense {

std::string_view to_string(IndexType t) noexcept {
    switch (t) {
    case IndexType::none: return "none";
    case IndexType::flat: return "flat";
    case IndexType::hnsw: return "hnsw";
    case IndexType::ivf_flat: return "ivf-flat";
    case IndexType::ivf_pq: return "ivf-pq";
    case IndexType::automatic: return "auto";
    }
    return "none";
}

IndexType parse_index_type(std::string_view s) {
    for (auto t : {IndexType::none, IndexType::flat, IndexType::hnsw, IndexType::ivf_flat, IndexType::ivf_pq,
                   IndexType::automatic}) {
        if (s == to_string(t)) return t;
    }
    throw UsageError(fmt::format("unknown dense index type '{}' (none, flat, hnsw, ivf-flat, ivf-pq or auto)", s));
}

void validate(const BuildParams& p) {
    ensure<UsageError>(p.hnsw_m >= 2 && p.hnsw_m <= 512, "hnsw M must be in [2, 512] (got {})", p.hnsw_m);
    ensure<UsageError>(p.ef_construction >= 1, "ef_construction must be positive");
    ensure<UsageError>(p.pq_nbits >= 1 && p.pq_nbits <= 16, "pq nbits must be in [1, 16] (got {})", p.pq_nbits);
    ensure<UsageError>(p.train_per_list >= 39, "train_per_list must be >= 39 (FAISS's k-means floor), got {}",
                       p.train_per_list);
}

void validate(const SearchParams& p) {
    ensure<UsageError>(p.k > 0 && p.k <= 100000, "k must be in [1, 100000] (got {})", p.k);
    ensure<UsageError>(p.ef_search > 0, "ef_search must be positive");
    ensure<UsageError>(p.nprobe > 0, "nprobe must be positive");
}

BuildParams resolve(const BuildParams& in, std::size_t n, std::size_t d) {
    validate(in);
    BuildParams p = in;
    if (p.type == IndexType::automatic) p.type = n >= kAutoHnswMinVectors ? IndexType::hnsw : IndexType::flat;
    if (p.type == IndexType::ivf_flat || p.type == IndexType::ivf_pq) {
        ensure<UsageError>(n > 0, "an IVF index needs training vectors; this shard has none (use flat or none)");
        if (p.nlist == 0) {
            const auto guess = static_cast<std::size_t>(std::lround(4.0 * std::sqrt(static_cast<double>(n))));
            p.nlist = static_cast<std::uint32_t>(std::clamp<std::size_t>(guess, 1, std::max<std::size_t>(1, n / 39)));
        }
        ensure<UsageError>(p.nlist <= n, "nlist {} exceeds the shard's {} vectors", p.nlist, n);
    }
    if (p.type == IndexType::ivf_pq) {
        if (p.pq_m == 0) {
            p.pq_m = static_cast<std::uint32_t>(std::max<std::size_t>(1, d / 4));
            while (d % p.pq_m != 0) --p.pq_m;
        }
        ensure<UsageError>(d % p.pq_m == 0, "pq m {} does not divide the dimension {}", p.pq_m, d);
        ensure<UsageError>(n >= (std::size_t{1} << p.pq_nbits),
                           "ivf-pq with {} bits needs at least {} training vectors; this shard has {}", p.pq_nbits,
                           std::size_t{1} << p.pq_nbits, n);
    }
    return p;
}

std::string to_json(const BuildParams& p) {
    nlohmann::ordered_json j;
    j["type"] = std::string(to_string(p.type));
    if (p.type == IndexType::hnsw || p.type == IndexType::automatic) {
        j["hnsw_m"] = p.hnsw_m;
        j["ef_construction"] = p.ef_construction;
    }
    if (p.type == IndexType::ivf_flat || p.type == IndexType::ivf_pq || p.type == IndexType::automatic) {
        j["nlist"] = p.nlist;
        j["train_per_list"] = p.train_per_list;
    }
    if (p.type == IndexType::ivf_pq || p.type == IndexType::automatic) {
        j["pq_m"] = p.pq_m;
        j["pq_nbits"] = p.pq_nbits;
    }
    j["seed"] = p.seed;
    return j.dump();
}

BuildParams from_json(const std::string& text) {
    BuildParams p;
    try {
        const auto j = nlohmann::json::parse(text);
        p.type = parse_index_type(j.at("type").get<std::string>());
        p.hnsw_m = j.value("hnsw_m", p.hnsw_m);
        p.ef_construction = j.value("ef_construction", p.ef_construction);
        p.nlist = j.value("nlist", p.nlist);
        p.train_per_list = j.value("train_per_list", p.train_per_list);
        p.pq_m = j.value("pq_m", p.pq_m);
        p.pq_nbits = j.value("pq_nbits", p.pq_nbits);
        p.seed = j.value("seed", p.seed);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("malformed dense index parameters '{}': {}", text, e.what()));
    } catch (const UsageError& e) {
        throw InputError(e.what());
    }
    return p;
}

}  // namespace aftershock::dense
