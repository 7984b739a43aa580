// Paired A/B of Seismic query latency on a real index: two copies of one shard in one process, differing in one
// setting, and every query run on both, in alternating order. Each copy misses the cache on its own, and a burst
// of load on this shared machine hits both sides of a pair alike, so differences of a few percent show up in
// every round (separate processes swing by 20%). Reports each round's mean per side and the median per-query ratio.
//   AFTERSHOCK_AB_SHARD=idx/shard-00000.h5 AFTERSHOCK_AB_CORPUS=corpus.h5 aftershock_bench_seismic_paired pages
// Settings compared (first word): pages (4 KiB vs 2 MiB pages), kernels (scalar vs SIMD scoring), gather (SIMD
// scoring with gathers vs with loads), directory (summary components by binary search vs through the directory),
// table (screening prefixes scored exactly vs estimated through the ScreeningTable: hits may differ where an estimate
// falls on the other side of the bar; the pairs that differ are counted), lead (screening prefixes requested a block
// ahead vs a number of documents ahead: 8, or the leads given after heap_factor; on one copy).
// Query settings: qc 10, hf 0.8 (or the third and fourth words), kNN 10 (if the index has a graph), screening 48
// and off; 500 queries, 3 rounds (or the second word).
#include "aftershock/common/latency.hpp"
#include "seismic_ab_inputs.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using namespace aftershock;

Shard load(bool huge_pages, bool directory = true) {
    ::setenv("AFTERSHOCK_HUGE_PAGES", huge_pages ? "1" : "0", 1);
    ::setenv("AFTERSHOCK_SUMMARY_DIRECTORY", directory ? "1" : "0", 1);
    return ab::read_ab_shard();
}

/// The prefix lead (SearchParams::prefix_lead) compared on one copy of the shard: two copies can sit on memory of
/// different speed (on a VM the host may back one with small pages and the other with huge ones; sessions 20-21 saw
/// pairs of copies differ by up to 20% either way). A query runs once per round, so that no run finds another's
/// documents in cache; with m leads, round r gives query q lead (q + r) % m, so m rounds run every query with each,
/// interleaved query by query. Reports each group of rounds' mean per lead and the median per-query ratio to the first.
int run_leads(int rounds, seismic::SearchParams p, const std::vector<std::uint32_t>& leads) {
    auto shard = load(true);
    auto& index = *shard.sparse;
    const auto queries = ab::read_ab_queries();
    const auto m = leads.size();
    p.knn = 10;
    p.screen_entries = 48;
    seismic::SearchScratch scratch;
    for (int group = 0; group < rounds; ++group) {
        std::vector<std::vector<double>> t(m, std::vector<double>(queries.n_rows(), 0.0));
        std::vector<std::vector<Hit>> first(queries.n_rows());
        for (std::size_t r = 0; r < m; ++r) {
            for (std::size_t q = 0; q < queries.n_rows(); ++q) {
                const auto s = (q + r) % m;
                p.prefix_lead = leads[s];
                const auto start = std::chrono::steady_clock::now();
                auto hits = index.search(queries.row(q), p, scratch);
                t[s][q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
                if (r == 0) first[q] = std::move(hits);
                else ensure(hits == first[q], "query {}: leads {} and {} disagree", q, leads[s], leads[q % m]);
            }
        }
        std::string line;
        for (std::size_t s = 0; s < m; ++s) {
            std::vector<double> ratio;
            for (std::size_t q = 0; q < queries.n_rows(); ++q) ratio.push_back(t[s][q] / t[0][q]);
            line += fmt::format("; lead {}: {:.1f} us, ratio {:.3f}", leads[s], mean_latency(t[s]),
                                percentile(ratio, 50.0));
        }
        spdlog::info("screen 48 group {}{} (means; median per-query ratios)", group, line);
    }
    return 0;
}

int run(const std::string& what, int rounds, std::uint32_t query_cut, float heap_factor,
        const std::vector<std::uint32_t>& leads) {
    ensure<UsageError>(what == "pages" || what == "kernels" || what == "gather" || what == "directory" ||
                           what == "table" || what == "lead",
                       "compare what? pages, kernels, gather, directory, table or lead, not '{}'", what);
    ensure<UsageError>(rounds > 0, "rounds must be a positive number");
    seismic::SearchParams asked;
    asked.query_cut = query_cut;
    asked.heap_factor = heap_factor;
    seismic::validate(asked);  // before two copies of the shard are loaded
    if (what == "lead") return run_leads(rounds, asked, leads);
    const bool pages = what == "pages";
    auto shard_a = load(!pages, what != "directory");
    auto shard_b = load(true);
    auto& a = *shard_a.sparse;
    auto& b = *shard_b.sparse;
    const char* labels[2] = {"4 KiB pages", "2 MiB pages"};
    if (what == "directory") {
        labels[0] = "binary search";
        labels[1] = "directory";
    }
    if (what == "table") {
        ensure(seismic::ScreeningTable::supported(), "this CPU has no AVX-512 F+BW: nothing to compare");
        a.set_screen_table(seismic::SeismicIndex::ScreenTableUse::never);
        b.set_screen_table(seismic::SeismicIndex::ScreenTableUse::long_lists);
        labels[0] = "exact prefixes";
        labels[1] = "table estimates";
    }
    if (what == "kernels" || what == "gather") {
        const auto* simd = seismic::avx2_kernels();
        ensure(simd != nullptr, "this CPU has no AVX2+F16C: nothing to compare");
        a.set_kernels(what == "gather" ? *seismic::avx2_gather_kernels() : seismic::scalar_kernels());
        b.set_kernels(*simd);
        labels[0] = what == "gather" ? "SIMD, gathers" : "scalar";
        labels[1] = "SIMD";
    }
    const auto queries = ab::read_ab_queries();
    const seismic::SeismicIndex* side[2] = {&a, &b};
    seismic::SearchScratch scratch[2];
    for (const unsigned screen : {48U, 0U}) {
        seismic::SearchParams p;
        p.query_cut = query_cut;
        p.heap_factor = heap_factor;
        p.knn = 10;
        p.screen_entries = screen;
        for (int round = 0; round < rounds; ++round) {
            std::vector<double> us[2];
            std::vector<double> ratio;
            std::size_t differ = 0;
            for (std::size_t q = 0; q < queries.n_rows(); ++q) {
                std::vector<Hit> hits[2];
                double t[2] = {};
                for (std::size_t r = 0; r < 2; ++r) {
                    const auto s = (q + r + static_cast<std::size_t>(round)) % 2;
                    const auto start = std::chrono::steady_clock::now();
                    hits[s] = side[s]->search(queries.row(q), p, scratch[s]);
                    t[s] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
                }
                ensure(what == "table" || hits[0] == hits[1], "query {}: the two copies disagree", q);
                differ += static_cast<std::size_t>(hits[0] != hits[1]);
                us[0].push_back(t[0]);
                us[1].push_back(t[1]);
                ratio.push_back(t[1] / t[0]);
            }
            spdlog::info("screen {:>2} round {}: {} {:.1f} us, {} {:.1f} us (means); median per-query ratio {:.3f}; {} "
                         "queries with other hits",
                         screen, round, labels[0], mean_latency(us[0]), labels[1], mean_latency(us[1]),
                         percentile(ratio, 50.0), differ);
        }
    }
    return 0;
}

/// The whole word as a number, or a UsageError naming it ("x" or "10abc" are refused, not read as 0 or 10).
template <typename T> T number(const char* word, const char* what) {
    T v{};
    const auto* end = word + std::strlen(word);
    const auto [ptr, ec] = std::from_chars(word, end, v);
    ensure<UsageError>(ec == std::errc{} && ptr == end && ptr != word, "{} must be a number, not '{}'", what, word);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        // lead: the prefix leads compared (the sixth word on), after 0 (a block ahead).
        std::vector<std::uint32_t> leads{0};
        for (int i = 5; i < argc; ++i) leads.push_back(number<std::uint32_t>(argv[i], "lead"));
        if (leads.size() == 1) leads.push_back(8);
        return run(argc > 1 ? argv[1] : "pages", argc > 2 ? number<int>(argv[2], "rounds") : 3,
                   argc > 3 ? number<std::uint32_t>(argv[3], "query_cut") : 10U,
                   argc > 4 ? number<float>(argv[4], "heap_factor") : 0.8F,
                   leads);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
