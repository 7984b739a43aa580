#include "aftershock/common/generator.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/common/progress.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

namespace aftershock {

namespace {

// ---- Model parameters (docs/GENERATOR.md explains each; the measured tables live in generator_calibration.cpp).
constexpr std::uint32_t kMinDim = 1024;
constexpr std::uint32_t kBertVocab = 30522;
constexpr std::uint32_t kBertReserved = 999;     // ids 0..998 are [PAD], [unusedN], [CLS], ...: never popular
constexpr double kDocNnzMean = 132.0;            // BigANN'23 SPLADE MS MARCO docs: about 120-130; toy docs 145
constexpr double kDocNnzCv = 0.25;               // toy documents: sd / mean about 0.2
constexpr double kDocBackgroundShare = 0.30;     // share of document terms drawn from global popularity
constexpr double kSecondaryTopicProb = 0.35;     // documents with a second topic
constexpr std::uint32_t kMaxDomains = 64;
constexpr std::uint32_t kMaxTopics = 16384;
constexpr double kDomainBreadthExp = 0.8;        // a term of query frequency p is in (p / p_max)^exp of the domains
constexpr double kDomainTermSigma = 0.5;         // log-normal spread of a term's weight inside a domain
constexpr double kSubtopicSigma = 2.5;           // log-normal re-weighting of a domain's narrow terms per topic
constexpr double kTopicSizeSigma = 0.5;          // log-normal spread of topic sizes
constexpr double kPopAffinityScale = 1.0;        // how strongly popularity moves the weight percentile
constexpr double kTopicAffinity = 0.35;          // narrow topic terms get heavier document weights
constexpr double kDocAffinityNoise = 0.25;
constexpr double kQuerySeedShare = 0.50;         // share of query terms kept from the seed document
constexpr double kQueryTopicShare = 0.35;        // share drawn afresh from the seed document's topics
constexpr double kSeedWeightExp = 1.0;           // a document term is kept with probability ~ weight^exp
constexpr double kQueryTopicAffinity = 0.30;
constexpr double kQueryAffinityNoise = 0.25;
constexpr double kTopicCentroidSpread = 0.8;     // topic centroid = domain centroid + 0.8 * own direction
constexpr double kDocDenseNoise = 1.0;           // cos(doc, topic centroid) about 1 / sqrt(1 + noise^2)
constexpr double kQueryDenseNoise = 0.75;
constexpr std::size_t kBlockRows = 2048;

// Multiplier on the target popularity so that the generated queries (which keep heavy document terms, a
// selection that depends on popularity) reproduce the measured query frequencies; fitted by simulation.
constexpr calibration::RankValue kPopularityCorrection[] = {
    {1, 0.953}, {2, 0.961}, {3, 0.954}, {4, 0.938}, {5, 0.907}, {6, 0.948}, {8, 0.921}, {10, 0.941},
    {13, 1.194}, {16, 1.202}, {20, 1.178}, {25, 1.188}, {32, 1.237}, {40, 1.231}, {50, 1.237}, {63, 1.231},
    {80, 1.254}, {100, 1.245}, {126, 1.243}, {158, 1.259}, {200, 1.284}, {251, 1.267}, {316, 1.307}, {398, 1.341},
    {501, 1.312}, {631, 1.313}, {794, 1.280}, {1000, 1.163}, {1259, 1.073}, {1585, 1.008}, {1995, 0.937}, {2512, 0.909},
    {3162, 0.699}, {3981, 0.641}, {5012, 0.610}, {6310, 0.586}, {7943, 0.599}, {10000, 0.485}, {12589, 0.527}, {30522, 0.527},
};

// Independent random streams per purpose, so adding e.g. dense vectors never changes the sparse output.
enum class Stream : std::uint64_t { doc = 1, query, dense_doc, dense_query, centroid, topic_terms, model };

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::uint64_t stream_key(std::uint64_t seed, Stream stream, std::uint64_t index) noexcept {
    std::uint64_t s = seed;
    std::uint64_t h = splitmix64(s);
    s = h ^ static_cast<std::uint64_t>(stream) * 0xD1B54A32D192ED03ULL;
    h = splitmix64(s);
    s = h ^ index;
    return splitmix64(s);
}

/// xoshiro256**: fast, and its output is fully specified (std distributions are not portable).
class Rng {
public:
    explicit Rng(std::uint64_t key) noexcept {
        for (auto& w : m_s) w = splitmix64(key);
    }
    std::uint64_t next() noexcept {
        const auto result = rotl(m_s[1] * 5, 7) * 9;
        const auto t = m_s[1] << 17;
        m_s[2] ^= m_s[0];
        m_s[3] ^= m_s[1];
        m_s[1] ^= m_s[2];
        m_s[0] ^= m_s[3];
        m_s[2] ^= t;
        m_s[3] = rotl(m_s[3], 45);
        return result;
    }
    /// Uniform in [0, 1).
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform in (0, 1).
    double uniform_open() noexcept { return (static_cast<double>(next() >> 12) + 0.5) * 0x1.0p-52; }
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
    std::uint64_t below(std::uint64_t n) noexcept {
        return ((next() >> 32) * n) >> 32;  // n <= 2^32 everywhere here
    }
    bool chance(double p) noexcept { return uniform() < p; }
    /// Standard normal (Marsaglia polar; the spare value is kept).
    double normal() noexcept {
        if (m_has_spare) {
            m_has_spare = false;
            return m_spare;
        }
        double u = 0.0;
        double v = 0.0;
        double s = 0.0;
        do {
            u = 2.0 * uniform() - 1.0;
            v = 2.0 * uniform() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        const double f = std::sqrt(-2.0 * std::log(s) / s);
        m_spare = v * f;
        m_has_spare = true;
        return u * f;
    }
    double gumbel() noexcept { return -std::log(-std::log(uniform_open())); }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    std::uint64_t m_s[4]{};
    double m_spare = 0.0;
    bool m_has_spare = false;
};

/// One slot of a Vose alias table: keep `self` with probability `prob`, else take `other`. Interleaved in one
/// array so that a draw touches a single cache line (generation is bound by these random reads).
struct AliasSlot {
    float prob = 1.0F;
    std::uint32_t self = 0;
    std::uint32_t other = 0;
};

std::uint32_t alias_sample(Rng& rng, const AliasSlot* slots, std::size_t n) noexcept {
    const auto x = rng.next();
    const auto& slot = slots[((x >> 32) * n) >> 32];
    const float u = static_cast<float>(x & 0xFFFFFFFFULL) * 0x1.0p-32F;
    return u < slot.prob ? slot.self : slot.other;
}

/// Fills `out` (w.size() slots) to draw values[i] with probability w[i] / sum(w) (all w >= 0, sum > 0).
void alias_build(std::span<const double> w, std::span<const std::uint32_t> values, AliasSlot* out) {
    const auto n = w.size();
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    std::vector<double> scaled(n);
    std::vector<std::uint32_t> small;
    std::vector<std::uint32_t> large;
    for (std::size_t i = 0; i < n; ++i) {
        scaled[i] = w[i] * static_cast<double>(n) / total;
        (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
        out[i] = {1.0F, values[i], values[i]};
    }
    while (!small.empty() && !large.empty()) {
        const auto s = small.back();
        small.pop_back();
        const auto l = large.back();
        out[s].prob = static_cast<float>(scaled[s]);
        out[s].other = values[l];
        scaled[l] -= 1.0 - scaled[s];
        if (scaled[l] < 1.0) {
            large.pop_back();
            small.push_back(l);
        }
    }
    // Whatever is left (rounding) keeps probability 1.
}

/// An alias table over 0..n-1.
struct AliasTable {
    std::vector<AliasSlot> slots;

    void build(std::span<const double> w) {
        std::vector<std::uint32_t> values(w.size());
        std::iota(values.begin(), values.end(), 0U);
        slots.resize(w.size());
        alias_build(w, values, slots.data());
    }
    std::uint32_t sample(Rng& rng) const noexcept { return alias_sample(rng, slots.data(), slots.size()); }
};

/// Sorts by an unsigned 32-bit key; ties keep no particular order, so keys carry the index in the low half.
inline std::uint64_t sort_key(float f, std::uint32_t index) noexcept {
    // Float bits made monotone as unsigned integers.
    auto bits = std::bit_cast<std::uint32_t>(f);
    bits = (bits & 0x80000000U) ? ~bits : (bits | 0x80000000U);
    return (std::uint64_t{bits} << 32) | index;
}

/// Piecewise log-log interpolation of a (rank, value) table; beyond the last point the last slope continues.
double interpolate_rank(std::span<const calibration::RankValue> table, double rank) {
    if (rank <= table.front().rank) return table.front().value;
    std::size_t j = 1;
    while (j + 1 < table.size() && table[j].rank < rank) ++j;
    const auto& a = table[j - 1];
    const auto& b = table[j];
    const double t = (std::log(rank) - std::log(a.rank)) / (std::log(b.rank) - std::log(a.rank));
    return std::exp(std::log(a.value) + t * (std::log(b.value) - std::log(a.value)));
}

/// A quantile function given at grid probabilities, interpolated linearly in log(value).
struct QuantileFn {
    std::array<double, calibration::kWeightGridSize> log_q{};

    explicit QuantileFn(std::span<const double, calibration::kWeightGridSize> q) {
        for (std::size_t i = 0; i < q.size(); ++i) log_q[i] = std::log(q[i]);
    }
    [[nodiscard]] double operator()(double u) const noexcept {
        const auto grid = calibration::weight_grid();
        const auto it = std::upper_bound(grid.begin() + 1, grid.end() - 1, u);
        const auto j = static_cast<std::size_t>(it - grid.begin());
        const double t = std::clamp((u - grid[j - 1]) / (grid[j] - grid[j - 1]), 0.0, 1.0);
        return std::exp(log_q[j - 1] + t * (log_q[j] - log_q[j - 1]));
    }
};

/// A generated sparse vector in popularity-rank space, before mapping to term ids.
struct Draft {
    DocTopics topics;
    std::vector<std::uint32_t> ranks;  // 0-based popularity ranks
    std::vector<float> weights;
    std::vector<float> affinity;  // weights go to terms in order of affinity

    void clear() {
        ranks.clear();
        weights.clear();
        affinity.clear();
    }
};

/// Per-call working memory (one per thread).
struct Scratch {
    explicit Scratch(std::uint32_t dim) : seen(dim, 0) {}
    std::vector<std::uint32_t> seen;  // seen[r] == epoch: rank r already in the current vector
    std::uint32_t epoch = 0;
    Draft doc;
    Draft query;
    std::vector<std::uint32_t> order;
    std::vector<double> keys;
    std::vector<std::uint64_t> packed;
    struct Pending {
        const AliasSlot* slot;
        float u;
        bool topical;
    };
    std::vector<Pending> pending;

    void next_epoch() {
        if (++epoch == 0) {
            std::fill(seen.begin(), seen.end(), 0U);
            epoch = 1;
        }
    }
    bool insert(std::uint32_t rank) {
        if (seen[rank] == epoch) return false;
        seen[rank] = epoch;
        return true;
    }
};

/// Draws d.ranks.size() weights from a quantile function and gives the heaviest to the highest affinity. The
/// draws are a random half of a stratified sample of twice the size: the marginal stays exact, and queries
/// differ in their largest weight about as much as real ones do (full stratification would put every
/// maximum in the top stratum: 2.87 on average instead of the real 2.72).
void assign_weights(Rng& rng, const QuantileFn& quantile, Scratch& s, Draft& d) {
    const auto n = d.ranks.size();
    s.keys.clear();
    // Selection sampling keeps n of the 2n strata in ascending order.
    for (std::size_t k = 0; k < 2 * n && s.keys.size() < n; ++k) {
        if (rng.below(2 * n - k) < n - s.keys.size())
            s.keys.push_back((static_cast<double>(k) + rng.uniform()) / static_cast<double>(2 * n));
    }
    s.packed.resize(n);
    for (std::size_t k = 0; k < n; ++k) s.packed[k] = sort_key(d.affinity[k], static_cast<std::uint32_t>(k));
    std::sort(s.packed.begin(), s.packed.end());
    d.weights.resize(n);
    for (std::size_t k = 0; k < n; ++k) d.weights[s.packed[k] & 0xFFFFFFFFU] = static_cast<float>(quantile(s.keys[k]));
}

}  // namespace

struct CorpusGenerator::Model {
    GeneratorOptions opt;
    std::uint32_t dim = 0;
    std::uint32_t n_topics = 0;
    std::uint32_t n_domains = 0;
    std::vector<std::uint32_t> rank_term;  // popularity rank (0-based) -> term id
    struct RankInfo {
        float pop_affinity = 0.0F;  // weight percentile shift of this popularity (centred on 0)
        float specificity = 0.0F;   // 0 in every domain, 1 in a single one
    };
    std::vector<RankInfo> rank_info;
    AliasTable background;                 // over ranks
    AliasTable topic_pick;                 // over topics
    std::vector<std::size_t> topic_begin;  // per topic: its slice of topic_slots
    std::vector<AliasSlot> topic_slots;    // values are ranks
    std::vector<float> centroids;  // n_topics x dense_dim, unit rows
    QuantileFn doc_weight{calibration::doc_weights()};
    std::vector<QuantileFn> query_weight;  // per calibration::query_weights() row

    explicit Model(const GeneratorOptions& o);

    [[nodiscard]] std::uint32_t sample_topic_term(Rng& rng, std::uint32_t topic) const noexcept {
        const auto b = topic_begin[topic];
        const auto n = topic_begin[topic + 1] - b;
        return alias_sample(rng, topic_slots.data() + b, n);
    }
    [[nodiscard]] DocTopics draw_topics(Rng& rng) const noexcept;
    void make_doc(std::uint64_t doc, Scratch& s, Draft& out) const;
    void make_query(std::uint64_t query, Scratch& s) const;
    [[nodiscard]] std::uint64_t seed_doc(Rng& rng) const noexcept { return rng.below(opt.n_docs); }
    void emit(const Draft& d, Scratch& s, CsrMatrix& out) const;
    void doc_vector(std::uint64_t doc, float* out) const;
};

CorpusGenerator::Model::Model(const GeneratorOptions& o) : opt(o), dim(o.dim) {
    ensure<UsageError>(o.dim >= kMinDim, "gen: --dim {} is too small (at least {})", o.dim, kMinDim);
    ensure<UsageError>(o.n_queries == 0 || o.n_docs > 0, "gen: queries need documents (--docs 0 with --queries {})",
                       o.n_queries);
    ensure<UsageError>(o.n_docs <= (std::uint64_t{1} << 32), "gen: --docs {} exceeds the 2^32 document limit",
                       o.n_docs);
    ensure<UsageError>(o.dense_dim <= 65536, "gen: --dense-dim {} is too large (at most 65536)", o.dense_dim);
    // Each topic holds its own alias table over its domain's terms (about 10 KB), hence the cap.
    ensure<UsageError>(o.n_topics <= kMaxTopics, "gen: --topics {} is too large (at most {})", o.n_topics, kMaxTopics);
    n_topics = o.n_topics > 0 ? o.n_topics
                              : static_cast<std::uint32_t>(std::clamp<std::uint64_t>(o.n_docs / 250, 16, 8192));

    // Popularity rank -> term id. With the BERT vocabulary the most popular ranks get the real ids of the most
    // frequent SPLADE query terms, and the reserved ids come last; otherwise a seeded permutation.
    rank_term.resize(dim);
    Rng perm_rng(stream_key(o.seed, Stream::model, 0));
    auto shuffle = [&](auto first, auto last) {
        for (auto n = static_cast<std::uint64_t>(last - first); n > 1; --n) std::swap(first[n - 1], first[perm_rng.below(n)]);
    };
    if (dim == kBertVocab) {
        const auto popular = calibration::popular_bert_ids();
        std::vector<std::uint8_t> used(dim, 0);
        std::size_t k = 0;
        for (auto id : popular) rank_term[k++] = id, used[id] = 1;
        const auto rest = k;
        for (std::uint32_t id = kBertReserved; id < dim; ++id)
            if (!used[id]) rank_term[k++] = id;
        shuffle(rank_term.begin() + static_cast<std::ptrdiff_t>(rest), rank_term.begin() + static_cast<std::ptrdiff_t>(k));
        const auto reserved = k;
        for (std::uint32_t id = 0; id < kBertReserved; ++id) rank_term[k++] = id;
        shuffle(rank_term.begin() + static_cast<std::ptrdiff_t>(reserved), rank_term.end());
    } else {
        std::iota(rank_term.begin(), rank_term.end(), 0U);
        shuffle(rank_term.begin(), rank_term.end());
    }

    // Target query frequency per rank, corrected for the query construction, is the background distribution.
    const auto freq = calibration::query_doc_freq();
    const double p_max = freq.front().value;
    std::vector<double> pop(dim);
    for (std::uint32_t r = 0; r < dim; ++r) {
        const double rank = r + 1.0;
        pop[r] = interpolate_rank(freq, rank) * interpolate_rank(kPopularityCorrection, rank);
    }
    background.build(pop);

    // Weight percentile by popularity (step table), centred on 0.
    const auto pct = calibration::weight_percentile_by_rank();
    rank_info.resize(dim);
    for (std::uint32_t r = 0; r < dim; ++r) {
        std::size_t j = 0;
        while (j + 1 < pct.size() && pct[j + 1].rank <= r + 1) ++j;
        rank_info[r].pop_affinity = static_cast<float>(kPopAffinityScale * (pct[j].value - 0.5));
    }

    // Two levels of topics. Domains: a term of query frequency p belongs to about D * (p / p_max)^exp of the D
    // domains (at least one) with weight pop * D / h there, so the average over domains is the background
    // distribution again and rare terms mark their domain. Topics: each belongs to one domain and re-weights its
    // terms log-normally, so 30K terms still tell thousands of topics apart.
    const auto K = n_topics;
    const auto D = n_domains = std::min(K, kMaxDomains);
    Rng topic_rng(stream_key(o.seed, Stream::topic_terms, 0));
    std::vector<double> topic_sizes(K);
    for (auto& w : topic_sizes) w = std::exp(kTopicSizeSigma * topic_rng.normal());
    topic_pick.build(topic_sizes);
    std::vector<std::uint32_t> perm(D);
    std::iota(perm.begin(), perm.end(), 0U);
    std::vector<std::vector<std::pair<std::uint32_t, double>>> domain_terms(D);
    std::vector<float> subtopic_sigma(dim);
    for (std::uint32_t r = 0; r < dim; ++r) {
        const double breadth = std::min(1.0, std::pow(interpolate_rank(freq, r + 1.0) / p_max, kDomainBreadthExp));
        const auto h = static_cast<std::uint32_t>(std::clamp(std::lround(breadth * D), 1L, static_cast<long>(D)));
        rank_info[r].specificity =
            D > 1 ? static_cast<float>(1.0 - std::log(static_cast<double>(h)) / std::log(static_cast<double>(D))) : 0.0F;
        // Broad terms keep their weight in every topic (so their frequency stays close to the target); the
        // narrower a term, the more topics of its domain differ on it.
        subtopic_sigma[r] = static_cast<float>(kSubtopicSigma * (1.0 - breadth));
        const double boost = pop[r] * D / h;
        for (std::uint32_t j = 0; j < h; ++j) {
            std::swap(perm[j], perm[j + topic_rng.below(D - j)]);  // partial Fisher-Yates: h distinct domains
            const double noise = std::exp(kDomainTermSigma * topic_rng.normal() - 0.5 * kDomainTermSigma * kDomainTermSigma);
            domain_terms[perm[j]].emplace_back(r, boost * noise);
        }
    }
    topic_begin.assign(K + 1, 0);
    for (std::uint32_t t = 0; t < K; ++t) topic_begin[t + 1] = topic_begin[t] + domain_terms[t % D].size();
    const auto entries = topic_begin.back();
    std::vector<std::uint32_t> topic_rank(entries);
    std::vector<double> weights(entries);
    for (std::uint32_t t = 0; t < K; ++t) {
        const auto& terms = domain_terms[t % D];
        ensure(!terms.empty(), "gen: domain {} has no terms (dim {} too small)", t % D, dim);
        Rng rng(stream_key(o.seed, Stream::topic_terms, 1 + std::uint64_t{t}));
        const auto b = topic_begin[t];
        for (std::size_t k = 0; k < terms.size(); ++k) {
            const auto r = terms[k].first;
            const double sigma = subtopic_sigma[r];
            topic_rank[b + k] = r;
            weights[b + k] = terms[k].second * std::exp(sigma * rng.normal() - 0.5 * sigma * sigma);
        }
    }
    // Rescale each term so that its frequency averaged over topics (as documents pick them) equals its background
    // frequency: the random memberships and re-weightings then shape topics without moving a term's overall
    // popularity (which the calibration targets). A few fixed-point rounds, since topic totals move too.
    const double pop_total = std::accumulate(pop.begin(), pop.end(), 0.0);
    const double size_total = std::accumulate(topic_sizes.begin(), topic_sizes.end(), 0.0);
    std::vector<double> exposure(dim);
    for (int round = 0; round < 3; ++round) {
        std::fill(exposure.begin(), exposure.end(), 0.0);
        for (std::uint32_t t = 0; t < K; ++t) {
            const auto b = topic_begin[t];
            const auto e = topic_begin[t + 1];
            const double mass = std::accumulate(weights.begin() + static_cast<std::ptrdiff_t>(b),
                                                weights.begin() + static_cast<std::ptrdiff_t>(e), 0.0);
            const double share = topic_sizes[t] / size_total / mass;
            for (auto k = b; k < e; ++k) exposure[topic_rank[k]] += share * weights[k];
        }
        for (std::size_t k = 0; k < entries; ++k) {
            const auto r = topic_rank[k];
            weights[k] *= pop[r] / pop_total / exposure[r];
        }
    }
    topic_slots.resize(entries);
    for (std::uint32_t t = 0; t < K; ++t) {
        const auto b = topic_begin[t];
        const auto n = topic_begin[t + 1] - b;
        alias_build(std::span<const double>(weights.data() + b, n), std::span<const std::uint32_t>(topic_rank.data() + b, n),
                    topic_slots.data() + b);
    }

    for (const auto& row : calibration::query_weights()) query_weight.emplace_back(row.quantiles);

    if (o.dense_dim > 0) {
        // Topic centroid = its domain's centroid plus a topic-specific direction, so dense neighbours nest too.
        const auto d = o.dense_dim;
        const auto random_unit = [d](Rng& rng, float* c) {
            double norm = 0.0;
            for (std::uint32_t j = 0; j < d; ++j) {
                const double x = rng.normal();
                c[j] = static_cast<float>(x);
                norm += x * x;
            }
            const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
            for (std::uint32_t j = 0; j < d; ++j) c[j] *= inv;
        };
        std::vector<float> domains(static_cast<std::size_t>(D) * d);
        for (std::uint32_t k = 0; k < D; ++k) {
            Rng rng(stream_key(o.seed, Stream::centroid, k));
            random_unit(rng, domains.data() + static_cast<std::size_t>(k) * d);
        }
        centroids.resize(static_cast<std::size_t>(K) * d);
        std::vector<float> own(d);
        for (std::uint32_t t = 0; t < K; ++t) {
            Rng rng(stream_key(o.seed, Stream::centroid, std::uint64_t{D} + t));
            random_unit(rng, own.data());
            float* c = centroids.data() + static_cast<std::size_t>(t) * d;
            const float* dc = domains.data() + static_cast<std::size_t>(t % D) * d;
            double norm = 0.0;
            for (std::uint32_t j = 0; j < d; ++j) {
                c[j] = static_cast<float>(dc[j] + kTopicCentroidSpread * own[j]);
                norm += static_cast<double>(c[j]) * c[j];
            }
            const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
            for (std::uint32_t j = 0; j < d; ++j) c[j] *= inv;
        }
    }
}

DocTopics CorpusGenerator::Model::draw_topics(Rng& rng) const noexcept {
    DocTopics t;
    t.primary = topic_pick.sample(rng);
    t.secondary = t.primary;
    if (n_topics > 1 && rng.chance(kSecondaryTopicProb)) {
        do {
            t.secondary = topic_pick.sample(rng);
        } while (t.secondary == t.primary);
        t.secondary_share = rng.uniform(0.2, 0.45);
    }
    return t;
}

void CorpusGenerator::Model::make_doc(std::uint64_t doc, Scratch& s, Draft& out) const {
    Rng rng(stream_key(opt.seed, Stream::doc, doc));
    out.clear();
    out.topics = draw_topics(rng);
    const double sigma = std::sqrt(std::log1p(kDocNnzCv * kDocNnzCv));
    const double mu = std::log(kDocNnzMean) - 0.5 * sigma * sigma;
    const auto n = static_cast<std::size_t>(
        std::clamp(std::lround(std::exp(mu + sigma * rng.normal())), 16L, static_cast<long>(std::min(dim / 4, 512U))));

    // Draws go in batches: first choose every alias slot (and prefetch it), then resolve them. Generation is
    // bound by these random reads into topic tables far larger than the caches.
    s.next_epoch();
    for (std::size_t attempts = 0; out.ranks.size() < n && attempts < 8 * n;) {
        const auto want = n - out.ranks.size();
        const auto batch = std::min(want + want / 8 + 2, 8 * n - attempts);
        attempts += batch;
        s.pending.clear();
        for (std::size_t i = 0; i < batch; ++i) {
            const bool topical = !rng.chance(kDocBackgroundShare);
            const AliasSlot* slots = background.slots.data();
            std::size_t size = background.slots.size();
            if (topical) {
                const auto t = rng.chance(out.topics.secondary_share) ? out.topics.secondary : out.topics.primary;
                slots = topic_slots.data() + topic_begin[t];
                size = topic_begin[t + 1] - topic_begin[t];
            }
            const auto x = rng.next();
            const AliasSlot* slot = slots + (((x >> 32) * size) >> 32);
            __builtin_prefetch(slot);
            s.pending.push_back({slot, static_cast<float>(x & 0xFFFFFFFFULL) * 0x1.0p-32F, topical});
        }
        for (const auto& p : s.pending) {
            if (out.ranks.size() >= n) break;
            const auto r = p.u < p.slot->prob ? p.slot->self : p.slot->other;
            if (!s.insert(r)) continue;
            out.ranks.push_back(r);
            const auto& info = rank_info[r];
            out.affinity.push_back(static_cast<float>(info.pop_affinity + (p.topical ? kTopicAffinity * info.specificity : 0.0) +
                                                      kDocAffinityNoise * rng.normal()));
        }
    }

    assign_weights(rng, doc_weight, s, out);
}

void CorpusGenerator::Model::make_query(std::uint64_t query, Scratch& s) const {
    Rng rng(stream_key(opt.seed, Stream::query, query));
    const auto doc = seed_doc(rng);
    make_doc(doc, s, s.doc);
    const Draft& d = s.doc;
    Draft& q = s.query;
    q.clear();
    q.topics = d.topics;

    // nnz from the real quantile function.
    const auto grid = calibration::weight_grid();
    const auto nq_table = calibration::query_nnz_quantiles();
    const double u = rng.uniform();
    const auto j = static_cast<std::size_t>(std::upper_bound(grid.begin() + 1, grid.end() - 1, u) - grid.begin());
    const double nq_real = nq_table[j - 1] + (u - grid[j - 1]) / (grid[j] - grid[j - 1]) * (nq_table[j] - nq_table[j - 1]);
    const auto n = static_cast<std::size_t>(std::clamp(std::lround(nq_real), 1L, static_cast<long>(dim / 8)));

    const auto m = d.ranks.size();
    s.order.resize(m);
    // Keep mainly the heavy document terms: Gumbel top-k sampling with probability ~ weight^exp.
    const auto keep = std::min<std::size_t>(m, static_cast<std::size_t>(std::lround(kQuerySeedShare * static_cast<double>(n))));
    s.keys.resize(m);
    for (std::size_t k = 0; k < m; ++k) s.keys[k] = kSeedWeightExp * std::log(d.weights[k]) + rng.gumbel();
    std::iota(s.order.begin(), s.order.end(), 0U);
    std::partial_sort(s.order.begin(), s.order.begin() + static_cast<std::ptrdiff_t>(keep), s.order.end(),
                      [&](auto a, auto b) { return s.keys[a] > s.keys[b]; });
    s.next_epoch();
    for (std::size_t k = 0; k < keep; ++k) {
        const auto i = s.order[k];
        const auto r = d.ranks[i];
        s.insert(r);
        q.ranks.push_back(r);
        q.affinity.push_back(static_cast<float>(rank_info[r].pop_affinity + kQueryAffinityNoise * rng.normal()));
    }
    // Then fresh topic terms (what a related document would also say) and background noise.
    const auto topical_until = std::min(n, keep + static_cast<std::size_t>(std::lround(kQueryTopicShare * static_cast<double>(n))));
    for (std::size_t attempts = 0; q.ranks.size() < n && attempts < 8 * n; ++attempts) {
        const bool topical = q.ranks.size() < topical_until;
        std::uint32_t r = 0;
        if (topical) {
            const auto t = rng.chance(d.topics.secondary_share) ? d.topics.secondary : d.topics.primary;
            r = sample_topic_term(rng, t);
        } else {
            r = background.sample(rng);
        }
        if (!s.insert(r)) continue;
        q.ranks.push_back(r);
        const auto& info = rank_info[r];
        q.affinity.push_back(static_cast<float>(info.pop_affinity + (topical ? kQueryTopicAffinity * info.specificity : 0.0) +
                                                kQueryAffinityNoise * rng.normal()));
    }

    // Weights from the real weight distribution of queries of this length.
    const auto rows = calibration::query_weights();
    std::size_t row = 0;
    while (row + 1 < rows.size() && q.ranks.size() > rows[row].max_nnz) ++row;
    assign_weights(rng, query_weight[row], s, q);
}

void CorpusGenerator::Model::emit(const Draft& d, Scratch& s, CsrMatrix& out) const {
    // Term ids are distinct, so (id, weight bits) sorts by id.
    s.packed.resize(d.ranks.size());
    for (std::size_t k = 0; k < d.ranks.size(); ++k)
        s.packed[k] = (std::uint64_t{rank_term[d.ranks[k]]} << 32) | std::bit_cast<std::uint32_t>(d.weights[k]);
    std::sort(s.packed.begin(), s.packed.end());
    for (const auto p : s.packed) {
        out.indices.push_back(static_cast<std::uint32_t>(p >> 32));
        out.data.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(p & 0xFFFFFFFFU)));
    }
    out.indptr.push_back(out.indices.size());
}

void CorpusGenerator::Model::doc_vector(std::uint64_t doc, float* out) const {
    Rng topic_rng(stream_key(opt.seed, Stream::doc, doc));
    const auto topics = draw_topics(topic_rng);
    Rng rng(stream_key(opt.seed, Stream::dense_doc, doc));
    const auto d = opt.dense_dim;
    const float* c1 = centroids.data() + static_cast<std::size_t>(topics.primary) * d;
    const float* c2 = centroids.data() + static_cast<std::size_t>(topics.secondary) * d;
    const double s2 = topics.secondary_share;
    const double noise = kDocDenseNoise / std::sqrt(static_cast<double>(d));
    double norm = 0.0;
    for (std::uint32_t j = 0; j < d; ++j) {
        const double v = (1.0 - s2) * c1[j] + s2 * c2[j] + noise * rng.normal();
        out[j] = static_cast<float>(v);
        norm += v * v;
    }
    const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
    for (std::uint32_t j = 0; j < d; ++j) out[j] *= inv;
}

CorpusGenerator::CorpusGenerator(const GeneratorOptions& opt) : m_model(std::make_unique<const Model>(opt)) {}
CorpusGenerator::~CorpusGenerator() = default;
CorpusGenerator::CorpusGenerator(CorpusGenerator&&) noexcept = default;
CorpusGenerator& CorpusGenerator::operator=(CorpusGenerator&&) noexcept = default;

const GeneratorOptions& CorpusGenerator::options() const noexcept { return m_model->opt; }
std::uint32_t CorpusGenerator::n_topics() const noexcept { return m_model->n_topics; }

CsrMatrix CorpusGenerator::docs(std::uint64_t begin, std::uint64_t end) const {
    ensure<UsageError>(begin <= end && end <= m_model->opt.n_docs, "gen: document range [{}, {}) outside [0, {})", begin,
                       end, m_model->opt.n_docs);
    CsrMatrix out;
    out.dim = m_model->dim;
    out.indptr.reserve(end - begin + 1);
    out.indices.reserve(static_cast<std::size_t>((end - begin) * 140));
    out.data.reserve(out.indices.capacity());
    Scratch s(m_model->dim);
    for (auto i = begin; i < end; ++i) {
        m_model->make_doc(i, s, s.doc);
        m_model->emit(s.doc, s, out);
    }
    return out;
}

CsrMatrix CorpusGenerator::queries(std::uint64_t begin, std::uint64_t end) const {
    ensure<UsageError>(begin <= end && end <= m_model->opt.n_queries, "gen: query range [{}, {}) outside [0, {})",
                       begin, end, m_model->opt.n_queries);
    CsrMatrix out;
    out.dim = m_model->dim;
    Scratch s(m_model->dim);
    for (auto i = begin; i < end; ++i) {
        m_model->make_query(i, s);
        m_model->emit(s.query, s, out);
    }
    return out;
}

DenseMatrix CorpusGenerator::doc_dense(std::uint64_t begin, std::uint64_t end) const {
    const auto d = m_model->opt.dense_dim;
    ensure<UsageError>(d > 0, "gen: dense vectors need --dense-dim > 0");
    ensure<UsageError>(begin <= end && end <= m_model->opt.n_docs, "gen: document range [{}, {}) outside [0, {})", begin,
                       end, m_model->opt.n_docs);
    DenseMatrix out;
    out.n = end - begin;
    out.d = d;
    out.metric = Metric::cosine;
    out.data.resize(out.n * d);
    for (auto i = begin; i < end; ++i) m_model->doc_vector(i, out.data.data() + (i - begin) * d);
    return out;
}

DenseMatrix CorpusGenerator::query_dense(std::uint64_t begin, std::uint64_t end) const {
    const auto d = m_model->opt.dense_dim;
    ensure<UsageError>(d > 0, "gen: dense vectors need --dense-dim > 0");
    ensure<UsageError>(begin <= end && end <= m_model->opt.n_queries, "gen: query range [{}, {}) outside [0, {})",
                       begin, end, m_model->opt.n_queries);
    DenseMatrix out;
    out.n = end - begin;
    out.d = d;
    out.metric = Metric::cosine;
    out.data.resize(out.n * d);
    const double noise = kQueryDenseNoise / std::sqrt(static_cast<double>(d));
    for (auto i = begin; i < end; ++i) {
        float* v = out.data.data() + (i - begin) * d;
        m_model->doc_vector(query_seed_doc(i), v);
        Rng rng(stream_key(m_model->opt.seed, Stream::dense_query, i));
        double norm = 0.0;
        for (std::uint32_t j = 0; j < d; ++j) {
            const double x = v[j] + noise * rng.normal();
            v[j] = static_cast<float>(x);
            norm += x * x;
        }
        const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
        for (std::uint32_t j = 0; j < d; ++j) v[j] *= inv;
    }
    return out;
}

DocTopics CorpusGenerator::doc_topics(std::uint64_t doc) const {
    Rng rng(stream_key(m_model->opt.seed, Stream::doc, doc));
    return m_model->draw_topics(rng);
}

std::uint64_t CorpusGenerator::query_seed_doc(std::uint64_t query) const {
    Rng rng(stream_key(m_model->opt.seed, Stream::query, query));
    return m_model->seed_doc(rng);
}

std::uint32_t CorpusGenerator::term_of_rank(std::uint32_t rank) const {
    ensure<UsageError>(rank >= 1 && rank <= m_model->dim, "gen: popularity rank {} outside [1, {}]", rank, m_model->dim);
    return m_model->rank_term[rank - 1];
}

namespace {

/// Concatenates row blocks (each with indptr starting at 0) into one matrix.
CsrMatrix concat(std::vector<CsrMatrix>& blocks, std::uint64_t dim) {
    CsrMatrix out;
    out.dim = dim;
    std::size_t nnz = 0;
    std::size_t rows = 0;
    for (const auto& b : blocks) nnz += b.nnz(), rows += b.n_rows();
    out.indices.reserve(nnz);
    out.data.reserve(nnz);
    out.indptr.reserve(rows + 1);
    for (auto& b : blocks) {
        const auto base = out.indices.size();
        out.indices.insert(out.indices.end(), b.indices.begin(), b.indices.end());
        out.data.insert(out.data.end(), b.data.begin(), b.data.end());
        for (std::size_t r = 1; r < b.indptr.size(); ++r) out.indptr.push_back(base + b.indptr[r]);
        b = CsrMatrix{};
    }
    return out;
}

/// Generates rows [begin, end) of one side in kBlockRows blocks on `threads` threads, in order.
std::vector<CsrMatrix> parallel_rows(const CorpusGenerator& gen, Side side, std::uint64_t begin, std::uint64_t end,
                                     unsigned threads) {
    const auto n_blocks = static_cast<std::size_t>((end - begin + kBlockRows - 1) / kBlockRows);
    std::vector<CsrMatrix> blocks(n_blocks);
    parallel_for(n_blocks, threads, 1, [&](unsigned, std::size_t b0, std::size_t b1) {
        for (auto b = b0; b < b1; ++b) {
            const auto lo = begin + b * kBlockRows;
            const auto hi = std::min<std::uint64_t>(end, lo + kBlockRows);
            blocks[b] = side == Side::docs ? gen.docs(lo, hi) : gen.queries(lo, hi);
        }
    });
    return blocks;
}

/// Streams one side (sparse rows, optional dense rows, ids) into the file.
void write_side(h5::File& file, const CorpusGenerator& gen, Side side, std::uint64_t n, GeneratorStats& stats) {
    const auto& opt = gen.options();
    const auto threads = resolve_threads(opt.threads);
    const std::uint64_t batch = kBlockRows * std::max<std::uint64_t>(8, 4ULL * threads);
    const char prefix = side == Side::docs ? 'd' : 'q';
    SparseRowWriter sparse(file, side);
    std::optional<DenseRowWriter> dense;
    if (opt.dense_dim > 0) dense.emplace(file, side, opt.dense_dim, Metric::cosine);
    auto ids = file.string_appender(ids_dataset(side));
    Progress progress(fmt::format("gen {}", to_string(side)), n, std::string(to_string(side)));
    std::vector<std::string> names;
    for (std::uint64_t lo = 0; lo < n; lo += batch) {
        const auto hi = std::min(n, lo + batch);
        for (auto& block : parallel_rows(gen, side, lo, hi, threads)) sparse.append(block);
        if (dense) {
            const auto n_blocks = static_cast<std::size_t>((hi - lo + kBlockRows - 1) / kBlockRows);
            std::vector<DenseMatrix> blocks(n_blocks);
            parallel_for(n_blocks, threads, 1, [&](unsigned, std::size_t b0, std::size_t b1) {
                for (auto b = b0; b < b1; ++b) {
                    const auto first = lo + b * kBlockRows;
                    const auto last = std::min<std::uint64_t>(hi, first + kBlockRows);
                    blocks[b] = side == Side::docs ? gen.doc_dense(first, last) : gen.query_dense(first, last);
                }
            });
            for (const auto& b : blocks) dense->append(b.data);
        }
        names.clear();
        for (auto i = lo; i < hi; ++i) names.push_back(fmt::format("{}{}", prefix, i));
        ids.append(names);
        progress.add(hi - lo);
    }
    sparse.finish(opt.dim);
    progress.finish();
    (side == Side::docs ? stats.doc_nnz : stats.query_nnz) = sparse.nnz();
    (side == Side::docs ? stats.docs : stats.queries) = sparse.rows();
}

}  // namespace

CsrMatrix generate_docs(const GeneratorOptions& opt, std::uint64_t begin, std::uint64_t end) {
    const CorpusGenerator gen(opt);
    auto blocks = parallel_rows(gen, Side::docs, begin, end, opt.threads);
    return concat(blocks, opt.dim);
}

CsrMatrix generate_queries(const GeneratorOptions& opt) {
    const CorpusGenerator gen(opt);
    auto blocks = parallel_rows(gen, Side::queries, 0, opt.n_queries, opt.threads);
    return concat(blocks, opt.dim);
}

GeneratorStats generate_corpus(const GeneratorOptions& opt, const std::string& out_path) {
    ensure<UsageError>(!out_path.empty(), "gen: --out is empty");
    ensure<UsageError>(opt.n_docs > 0, "gen: --docs must be at least 1");
    const auto start = std::chrono::steady_clock::now();
    const CorpusGenerator gen(opt);
    GeneratorStats stats;
    stats.n_topics = gen.n_topics();
    spdlog::info("gen: {} docs, {} queries, dim {}, dense dim {}, {} topics, seed {}, {} threads -> {}", opt.n_docs,
                 opt.n_queries, opt.dim, opt.dense_dim, stats.n_topics, opt.seed, resolve_threads(opt.threads),
                 out_path);
    // Write under a temporary name and rename when complete, so a killed run never leaves a plausible file.
    const auto tmp = out_path + ".tmp";
    try {
        {
            h5::File file(tmp, h5::File::Mode::truncate);
            write_side(file, gen, Side::docs, opt.n_docs, stats);
            if (opt.n_queries > 0) write_side(file, gen, Side::queries, opt.n_queries, stats);
            file.write_attr("/", "generator", std::string("aftershock gen"));
            file.write_attr("/", "generator_seed", opt.seed);
            file.write_attr("/", "generator_topics", std::uint64_t{stats.n_topics});
        }
        std::error_code ec;
        std::filesystem::rename(tmp, out_path, ec);
        ensure(!ec, "gen: cannot rename {} to {}: {}", tmp, out_path, ec.message());
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw;
    }
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return stats;
}

}  // namespace aftershock
