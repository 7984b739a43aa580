#include "aftershock/common/seismic/seismic_index.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/huge_pages.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/common/progress.hpp"
#include "aftershock/common/seismic/build_steps.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>
#include <tuple>

namespace aftershock::seismic {
namespace {

constexpr std::uint32_t kNoNeighbour = std::numeric_limits<std::uint32_t>::max();
/// The screening table is built for a query whose walked lists hold at least this many postings: on the real SPLADE
/// dev vectors as a corpus (5,980 documents, ~120 screened per query) building it cost more than it saved
/// (docs/BENCHMARKS.md, session 18).
constexpr std::uint64_t kScreenTablePostings = 2048;
/// One directory sample per this many summary entries: 4 bytes per 64 entries of 3 bytes (+2% of the summaries).
constexpr std::uint64_t kDirectoryStride = 64;
[[nodiscard]] constexpr std::uint64_t directory_samples(std::uint64_t entries) noexcept {
    return (entries + kDirectoryStride - 1) / kDirectoryStride;
}
/// The directory can be switched off (AFTERSHOCK_SUMMARY_DIRECTORY=0): A/B runs, and the tests' oracle.
[[nodiscard]] bool summary_directory_on() noexcept {
    const char* v = std::getenv("AFTERSHOCK_SUMMARY_DIRECTORY");
    return v == nullptr || std::string_view(v) != "0";
}

/// The query's weights scattered into the scratch's dense query for as long as one search runs. However the search
/// ends (an allocation can fail mid-query), the scratch is left as the next query needs it: a dense query of zeros, an
/// empty visited set, nothing waiting to be scored.
class QueryScope {
public:
    QueryScope(const SparseView& query, std::uint64_t dim, SearchScratch& s) : m_query(query), m_dim(dim), m_s(s) {
        if (s.dense_query.size() != dim) s.dense_query.assign(dim, 0.0F);
        for (std::size_t i = 0; i < query.size(); ++i) {
            if (query.indices[i] < dim) s.dense_query[query.indices[i]] = query.values[i];
        }
    }
    QueryScope(const QueryScope&) = delete;
    QueryScope& operator=(const QueryScope&) = delete;
    ~QueryScope() {
        for (std::size_t i = 0; i < m_query.size(); ++i) {
            if (m_query.indices[i] < m_dim) m_s.dense_query[m_query.indices[i]] = 0.0F;
        }
        m_s.visited.clear();
        m_s.n_pending = 0;
    }

private:
    const SparseView& m_query;
    std::uint64_t m_dim;
    SearchScratch& m_s;
};

/// Walks the directory samples of one list's entries [begin, end) forward, for ascending components. After
/// skip_below(c), every sample before k inside the list is below c, so the first entry >= c lies in
/// [window_begin(), window_end()]: after sample k - 1 and at or before sample k (or at the list's end).
class DirectoryCursor {
public:
    DirectoryCursor(const std::uint32_t* samples, std::uint64_t begin, std::uint64_t end) noexcept
        : m_samples(samples), m_end(end), m_k((begin + kDirectoryStride - 1) / kDirectoryStride) {}
    void skip_below(std::uint32_t c) noexcept {
        while (m_k * kDirectoryStride < m_end && m_samples[m_k] < c) ++m_k;
    }
    [[nodiscard]] std::uint64_t window_begin() const noexcept { return m_k > 0 ? (m_k - 1) * kDirectoryStride + 1 : 0; }
    [[nodiscard]] std::uint64_t window_end() const noexcept { return std::min(m_k * kDirectoryStride, m_end); }
    /// The component of the entry before window_begin() (sample k - 1); only meaningful when that entry is in the list.
    [[nodiscard]] std::uint32_t window_base() const noexcept { return m_samples[m_k - 1]; }

private:
    const std::uint32_t* m_samples;
    std::uint64_t m_end;
    std::uint64_t m_k;
};

/// One list's share of the arrays, built by one thread and appended in term order.
struct BuiltList {
    std::vector<PackedPosting> postings;
    std::vector<std::uint32_t> block_ends;
    std::vector<float> mins;
    std::vector<float> quants;
    std::vector<std::uint8_t> entry_step;
    std::vector<std::uint16_t> entry_block;  ///< kFillerMark for a filler entry
    std::vector<std::uint8_t> entry_code;    ///< 8-bit codes, narrowed once the index's code bits are known
};

/// A filler's block number in a BuiltList, before the index's block field width is known.
constexpr std::uint16_t kFillerMark = 0xFFFF;

BuiltList build_list(std::span<const DocIndex> list, std::uint32_t term, const ForwardIndex& fwd, const BuildParams& p,
                     BuildScratch& scratch) {
    BuiltList out;
    if (list.empty()) return out;
    const auto blocks = cluster_list(list, fwd, p, mix_seed(p.seed, term), scratch);
    std::vector<std::tuple<std::uint32_t, std::uint16_t, std::uint8_t>> entries;  // (component, block, code)
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        for (auto d : blocks[b]) out.postings.push_back(fwd.posting(d));
        out.block_ends.push_back(static_cast<std::uint32_t>(out.postings.size()));
        const auto summary = alpha_mass_prune(block_max_vector(blocks[b], fwd, scratch), p.alpha);
        std::vector<float> values;
        values.reserve(summary.size());
        for (const auto& e : summary) values.push_back(e.second);
        const auto q = quantize(values);
        out.mins.push_back(q.min);
        out.quants.push_back(q.quant);
        for (std::size_t i = 0; i < summary.size(); ++i) {
            entries.emplace_back(summary[i].first, static_cast<std::uint16_t>(b), q.codes[i]);
        }
    }
    // Transpose: component -> (block, code), so a query scores all blocks of a list in one sparse pass.
    std::sort(entries.begin(), entries.end());
    std::uint32_t previous = 0;
    const auto push = [&](std::uint32_t step, std::uint16_t block, std::uint8_t code) {
        out.entry_step.push_back(static_cast<std::uint8_t>(step));
        out.entry_block.push_back(block);
        out.entry_code.push_back(code);
    };
    for (const auto& [c, b, code] : entries) {
        auto step = c - previous;
        for (; step > 255; step -= 255) push(255, kFillerMark, 0);
        push(step, b, code);
        previous = c;
    }
    return out;
}

template <typename T> void append(std::vector<T>& to, const std::vector<T>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

/// Packs the built entries' blocks and 8-bit codes into entry_word, at the code width the longest list leaves
/// (build_steps.hpp: summary_code_bits), scaling the blocks' quant to match.
void pack_entry_words(SeismicArrays& a, std::vector<std::uint16_t>& blocks, std::vector<std::uint8_t>& codes) {
    std::uint64_t most_blocks = 0;
    for (std::size_t t = 0; t + 1 < a.list_blocks.size(); ++t) {
        most_blocks = std::max(most_blocks, a.list_blocks[t + 1] - a.list_blocks[t]);
    }
    a.code_bits = summary_code_bits(most_blocks);
    const auto drop = 8U - a.code_bits;
    for (auto& q : a.summary_quant) q = std::ldexp(q, static_cast<int>(drop));  // a power of two: exact
    a.entry_word.resize(blocks.size());
    const auto filler = static_cast<std::uint16_t>(a.filler_block() << a.code_bits);
    for (std::size_t e = 0; e < blocks.size(); ++e) {
        a.entry_word[e] = blocks[e] == kFillerMark ? filler
                                                   : static_cast<std::uint16_t>((blocks[e] << a.code_bits) | (codes[e] >> drop));
    }
    blocks = {};
    codes = {};
}

}  // namespace

SeismicIndex SeismicIndex::build(const CsrMatrix& docs, const BuildParams& params) {
    validate(params);
    SeismicIndex idx;
    idx.m_params = params;
    const auto t0 = std::chrono::steady_clock::now();
    idx.m_forward = ForwardIndex(docs);
    const auto pruned = prune_lists(docs, params);
    spdlog::debug("seismic: pruned to {} postings of {} nonzeros", pruned.docs.size(), docs.nnz());
    const auto dim = docs.dim;
    auto& a = idx.m_arrays;
    a.list_offsets.assign(1, 0);
    a.list_blocks.assign(1, 0);
    a.list_entries.assign(1, 0);
    std::vector<std::uint16_t> entry_blocks;  // packed with entry_codes into a.entry_word once all lists are built
    std::vector<std::uint8_t> entry_codes;
    Progress progress("seismic build", pruned.docs.size(), "postings", 5.0);
    const unsigned threads = resolve_threads(params.threads);
    std::vector<BuildScratch> scratch(threads);
    // Terms in batches: lists are built in parallel, then appended in term order (deterministic output,
    // memory bounded by one batch of built lists).
    constexpr std::size_t kBatch = 2048;
    for (std::size_t batch = 0; batch < dim; batch += kBatch) {
        const auto batch_end = std::min<std::size_t>(dim, batch + kBatch);
        std::vector<BuiltList> built(batch_end - batch);
        parallel_for(built.size(), threads, 16, [&](unsigned t, std::size_t b, std::size_t e) {
            for (auto i = b; i < e; ++i) {
                const auto term = static_cast<std::uint32_t>(batch + i);
                built[i] = build_list(pruned.list(term), term, idx.m_forward, params, scratch[t]);
                progress.add(built[i].postings.size());
            }
        });
        for (auto& l : built) {
            append(a.postings, l.postings);
            append(a.block_ends, l.block_ends);
            append(a.summary_min, l.mins);
            append(a.summary_quant, l.quants);
            append(a.entry_step, l.entry_step);
            append(entry_blocks, l.entry_block);
            append(entry_codes, l.entry_code);
            a.list_offsets.push_back(a.postings.size());
            a.list_blocks.push_back(a.block_ends.size());
            a.list_entries.push_back(a.entry_step.size());
            l = BuiltList{};
        }
    }
    progress.finish();
    pack_entry_words(a, entry_blocks, entry_codes);
    // Through the constructor a loaded shard takes: the arrays are checked and the directory sampled in one place.
    idx = SeismicIndex(std::move(idx.m_forward), std::move(idx.m_arrays), params);
    idx.prepare_for_queries();  // the kNN graph's million searches are the first to gain
    if (params.knn > 0) idx.build_knn_graph(params.knn, params.threads);
    spdlog::info("seismic: {} docs, {} postings, {} blocks, {} summary entries, {:.1f} s", idx.n_docs(),
                 a.postings.size(), a.block_ends.size(), a.n_entries(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return idx;
}

SeismicIndex::SeismicIndex(ForwardIndex forward, SeismicArrays arrays, BuildParams params)
    : m_forward(std::move(forward)), m_arrays(std::move(arrays)), m_params(params) {
    const auto& a = m_arrays;
    const auto dim = m_forward.dim();
    const auto sizes_ok = a.list_offsets.size() == dim + 1 && a.list_blocks.size() == dim + 1 &&
                          a.list_entries.size() == dim + 1;
    ensure<InputError>(sizes_ok, "seismic index: per-list offset arrays must have dim+1 = {} entries", dim + 1);
    ensure<InputError>(a.list_offsets.back() == a.postings.size() && a.list_blocks.back() == a.block_ends.size() &&
                           a.list_entries.back() == a.n_entries(),
                       "seismic index: per-list offsets do not end at the array sizes");
    ensure<InputError>(a.summary_min.size() == a.block_ends.size() && a.summary_quant.size() == a.block_ends.size() &&
                           a.entry_step.size() == a.n_entries(),
                       "seismic index: summary array sizes disagree");
    ensure<InputError>(a.code_bits >= 4 && a.code_bits <= 8, "seismic index: summary code bits {} not in 4..8",
                       a.code_bits);
    ensure<InputError>(a.neighbours.size() == std::uint64_t{a.knn} * m_forward.n_docs(),
                       "seismic index: kNN graph has {} entries for {} docs x {}", a.neighbours.size(), m_forward.n_docs(),
                       a.knn);
    // Every offset array monotone first: with the back() checks above, that bounds each list's ranges by the array
    // sizes. (Checked list by list inside the loop below, a later list's bad offsets came too late: list 0 with
    // [0, 100) over 5 blocks was read before [100, 5) was refused. Found by fuzz_shard.)
    for (std::size_t t = 0; t < dim; ++t) {
        ensure<InputError>(a.list_offsets[t] <= a.list_offsets[t + 1] && a.list_blocks[t] <= a.list_blocks[t + 1] &&
                               a.list_entries[t] <= a.list_entries[t + 1],
                           "seismic index: list {} offsets not monotone", t);
    }
    std::vector<std::uint32_t> directory(summary_directory_on() ? directory_samples(a.n_entries()) : 0);
    for (std::size_t t = 0; t < dim; ++t) {
        const auto nb = a.list_blocks[t + 1] - a.list_blocks[t];
        const auto len = a.list_offsets[t + 1] - a.list_offsets[t];
        std::uint32_t prev = 0;
        for (auto b = a.list_blocks[t]; b < a.list_blocks[t + 1]; ++b) {
            ensure<InputError>(a.block_ends[b] >= prev && a.block_ends[b] <= len, "seismic index: list {} block ends bad", t);
            prev = a.block_ends[b];
        }
        ensure<InputError>(nb == 0 || prev == len, "seismic index: list {} blocks do not cover its postings", t);
        ensure<InputError>(nb <= a.filler_block(), "seismic index: list {} has {} blocks, more than {} code bits leave",
                           t, nb, a.code_bits);
        std::uint64_t component = 0;
        for (auto e = a.list_entries[t]; e < a.list_entries[t + 1]; ++e) {
            component += a.entry_step[e];
            const std::uint32_t block = a.entry_word[e] >> a.code_bits;
            ensure<InputError>(block < nb || block == a.filler_block(),
                               "seismic index: list {} summary entry names block {} of {}", t, block, nb);
            ensure<InputError>(component < dim, "seismic index: list {} summary component {} past the vocabulary", t,
                               component);
            if (e % kDirectoryStride == 0 && !directory.empty()) {
                directory[e / kDirectoryStride] = static_cast<std::uint32_t>(component);
            }
        }
    }
    m_directory = std::move(directory);  // sampled while the components are checked: the steps are decoded once
    const auto nnz = m_forward.nnz();
    for (auto p : a.postings) {
        ensure<InputError>(posting_offset(p) + posting_length(p) <= nnz && posting_length(p) > 0,
                           "seismic index: posting past the forward index");
    }
    for (auto nb : a.neighbours) {
        ensure<InputError>(nb == kNoNeighbour || nb < m_forward.n_docs(), "seismic index: kNN neighbour {} out of range", nb);
    }
}

void SeismicIndex::prepare_for_queries() const noexcept {
    if (!huge_pages_enabled()) return;
    const auto t0 = std::chrono::steady_clock::now();
    const auto& a = m_arrays;
    const auto& f = m_forward;
    const auto got = collapse_huge_pages(f.offsets()) + collapse_huge_pages(f.packed()) +
                     collapse_huge_pages(f.components32()) + collapse_huge_pages(f.values32()) +
                     collapse_huge_pages(a.postings) + collapse_huge_pages(a.block_ends) +
                     collapse_huge_pages(a.summary_min) + collapse_huge_pages(a.summary_quant) +
                     collapse_huge_pages(a.entry_step) + collapse_huge_pages(a.entry_word) +
                     collapse_huge_pages(a.neighbours) + collapse_huge_pages(m_directory);
    if (got > 0) {
        spdlog::info("seismic: {} MiB of the index on huge pages ({:.1f} s)", got >> 20,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
}

void SeismicIndex::prefetch_list_head(std::uint32_t term) const noexcept {
    const auto& a = m_arrays;
    const auto b0 = a.list_blocks[term];
    const auto e0 = a.list_entries[term];
    prefetch_line(a.summary_min.data() + b0);
    prefetch_line(a.summary_quant.data() + b0);
    prefetch_line(a.block_ends.data() + b0);
    prefetch_line(a.postings.data() + a.list_offsets[term]);
    prefetch_line(a.entry_step.data() + e0);
    prefetch_line(a.entry_word.data() + e0);
}

void SeismicIndex::request_summaries(std::uint32_t term, const SparseView& query) const noexcept {
    const auto& a = m_arrays;
    const auto b0 = a.list_blocks[term];
    const auto nb = a.list_blocks[term + 1] - b0;
    if (nb == 0 || m_directory.empty()) return;
    const auto e_begin = a.list_entries[term];
    const auto e_end = a.list_entries[term + 1];
    prefetch_range(a.summary_min.data() + b0, nb * sizeof(float));
    prefetch_range(a.summary_quant.data() + b0, nb * sizeof(float));
    prefetch_range(a.block_ends.data() + b0, nb * sizeof(std::uint32_t));
    // The samples alone (a few cache lines) place every query component in one stride of entries; each stride is
    // requested once, including the entry it may end on.
    DirectoryCursor cursor(m_directory.data(), e_begin, e_end);
    std::uint64_t last = ~std::uint64_t{0};
    for (std::size_t qi = 0; qi < query.size(); ++qi) {
        cursor.skip_below(query.indices[qi]);
        const auto from = std::max(e_begin, cursor.window_begin());
        const auto to = std::min(e_end, cursor.window_end() + 1);
        if (from == last || from >= to) continue;
        last = from;
        const auto len = to - from;
        prefetch_range(a.entry_step.data() + from, len);
        prefetch_range(a.entry_word.data() + from, len * sizeof(std::uint16_t));
    }
}

void SeismicIndex::score_blocks(std::uint32_t term, const SparseView& query, float* out) const noexcept {
    // First all the memory the scoring will read is requested, so that its misses overlap instead of following one
    // another; then the entries are scored in order.
    request_summaries(term, query);
    const auto& a = m_arrays;
    const auto b0 = a.list_blocks[term];
    const auto nb = a.list_blocks[term + 1] - b0;
    std::fill(out, out + nb, 0.0F);
    const auto e_begin = a.list_entries[term];
    const auto e_end = a.list_entries[term + 1];
    const float* mins = a.summary_min.data() + b0;
    const float* quants = a.summary_quant.data() + b0;
    const auto* steps = a.entry_step.data();
    const auto* words = a.entry_word.data();
    const auto code_bits = a.code_bits;
    const auto code_mask = (1U << code_bits) - 1U;
    const auto filler = a.filler_block();
    // Both the query and the list's entries are ascending by component: each search starts where the last one
    // ended, and a match is the run of entries with that component. `component` is that of entry e - 1 (0 before
    // the list's first entry).
    std::uint64_t e = e_begin;
    std::uint32_t component = 0;
    DirectoryCursor cursor(m_directory.data(), e_begin, e_end);
    for (std::size_t qi = 0; qi < query.size() && e != e_end; ++qi) {
        const auto c = query.indices[qi];
        auto limit = e_end;
        if (!m_directory.empty()) {
            cursor.skip_below(c);
            // A window past e starts after sample k - 1, which lies inside the list (e >= e_begin): its component
            // is the sample's.
            if (cursor.window_begin() > e) {
                e = cursor.window_begin();
                component = cursor.window_base();
            }
            limit = cursor.window_end();
        }
        while (e < limit && component + steps[e] < c) component += steps[e++];
        for (; e != e_end && component + steps[e] == c; ++e) {
            component = c;
            const auto block = std::uint32_t{words[e]} >> code_bits;
            if (block == filler) [[unlikely]] continue;
            const auto code = std::uint32_t{words[e]} & code_mask;
            out[block] += (static_cast<float>(code) * quants[block] + mins[block]) * query.values[qi];
        }
    }
}

/// Requests screening prefixes a fixed number of documents ahead of the one being screened, across a list's open
/// blocks: one request per document screened, so that the requests stay spread out. Requesting a whole block at once
/// stalls on the prefetch instructions as soon as the CPU's queue of outstanding misses is full.
class SeismicIndex::PrefixStream {
public:
    PrefixStream(const SeismicIndex& index, std::span<const std::uint32_t> open, std::uint64_t list_begin,
                 std::uint64_t first_block, std::uint32_t screen, std::uint32_t lead, const SearchParams& params,
                 SearchScratch& s)  // std::bad_alloc while the scratch grows
        : m_index(index), m_open(open), m_list_begin(list_begin), m_first_block(first_block), m_screen(screen),
          m_target(lead), m_params(params), m_s(s) {
        m_s.stream_requested.assign(open.size(), 0);
    }
    /// The walk opens block open[k]: from here on, `lead` documents stay requested ahead of the one screened.
    void enter(std::size_t k) noexcept {
        if (m_k == kNone || m_k < k) {
            m_k = k;
            set_block();
            m_lead = 0;
        }
        fill();
    }
    /// The walk skips block open[k]: what was requested of it will not be screened.
    void skip(std::size_t k) noexcept {
        if (m_k == kNone || k > m_k) return;
        m_lead -= std::min(m_lead, m_s.stream_requested[k]);
        if (k == m_k) m_pos = m_end;
        fill();
    }
    /// One more document is being screened.
    void step() noexcept {
        if (m_lead > 0) --m_lead;
        fill();
    }

private:
    static constexpr std::size_t kNone = ~std::size_t{0};
    void set_block() noexcept { std::tie(m_pos, m_end) = m_index.block_range(m_list_begin, m_first_block, m_open[m_k]); }
    void fill() noexcept {
        while (m_lead < m_target) {
            while (m_pos == m_end) {
                if (m_k + 1 >= m_open.size()) return;
                ++m_k;
                // A block that does not open against the heap now never will: the heap only grows stricter.
                if (!block_opens(m_params, m_s, m_open[m_k])) continue;
                set_block();
            }
            m_index.m_forward.prefetch_prefix(m_index.m_arrays.postings[m_pos++], m_screen);
            ++m_s.stream_requested[m_k];
            ++m_lead;
        }
    }
    const SeismicIndex& m_index;
    std::span<const std::uint32_t> m_open;
    std::uint64_t m_list_begin;
    std::uint64_t m_first_block;
    std::uint32_t m_screen;
    std::uint32_t m_target;
    const SearchParams& m_params;
    SearchScratch& m_s;
    std::size_t m_k = kNone;
    std::uint64_t m_pos = 0;
    std::uint64_t m_end = 0;
    std::uint32_t m_lead = 0;
};

void SeismicIndex::prefetch_documents(std::span<const PackedPosting> postings, std::uint32_t screen) const noexcept {
    if (screen != 0) {
        m_forward.prefetch_prefixes(postings, screen);
        return;
    }
    for (const auto p : postings) m_forward.prefetch(p);
}

void SeismicIndex::evaluate_documents(std::span<const PackedPosting> postings, const float* q, const SearchParams& params,
                                      SearchScratch& s, SearchStats& stats, PrefixStream* stream) const {
    const auto n = postings.size();
    stats.postings += n;
    stats.docs_scored += n;
    // Screening: only the prefixes are fetched up front. A document that passes is scored on from the end of its exact
    // prefix (the running sums carry over) or, after an estimate, again from its start: either way every kept score has
    // the bits of an unscreened search.
    const auto screen = screen_entries(params);
    if (screen != 0 && s.heap.full()) {
        screen_documents(postings, q, screen, params, s, stats, stream);
        return;
    }
    // The heap is still filling (or screening is off): every document in full, screened only once the heap fills.
    for (const auto p : postings) {
        if (stream != nullptr) stream->step();
        if (screen != 0 && s.heap.full() && posting_length(p) > screen) {
            const auto sums = m_forward.prefix_sums(q, p, screen);
            if (sums.total() < screen_bar(params, s)) {
                ++stats.docs_screened_out;
                continue;
            }
            offer(m_forward.resume(q, p, screen, sums), posting_offset(p), s);
            continue;
        }
        offer(m_forward.dot(q, p), posting_offset(p), s);
    }
}

void SeismicIndex::screen_documents(std::span<const PackedPosting> postings, const float* q, std::uint32_t screen,
                                    const SearchParams& params, SearchScratch& s, SearchStats& stats,
                                    PrefixStream* stream) const {
    const auto n = postings.size();
    if (s.screened.size() < n) s.screened.resize(n);
    // Every prefix is scored first: estimated through the screening table where it was built (~2x faster per
    // prefix), else exactly. (A document no longer than the prefix is scored whole.) Those that pass against
    // the heap as it stands now are listed without a branch on the outcome: ~1 in 15 passes, so a branch would
    // often miss. The heap only grows stricter, so a document left off would fail at its turn too.
    const float bar = screen_bar(params, s);
    const bool estimated = s.screen_table.usable();
    if (estimated) {
        if (s.prefix_estimates.size() < n) s.prefix_estimates.resize(n);
        if (stream != nullptr) {
            for (std::size_t i = 0; i < n; ++i) stream->step();
        }
        s.screen_table.score_prefixes(m_forward.packed().data(), postings, screen, s.prefix_estimates.data());
    } else {
        if (s.prefix_sums.size() < n) s.prefix_sums.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (stream != nullptr) stream->step();
            s.prefix_sums[i] = m_forward.prefix_sums(q, postings[i], screen);
        }
    }
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto p = postings[i];
        const float prefix = estimated ? s.prefix_estimates[i] : s.prefix_sums[i].total();
        s.screened[m] = {p, prefix, estimated ? DotSums{} : s.prefix_sums[i]};
        m += static_cast<std::size_t>(posting_length(p) <= screen || prefix >= bar);
    }
    stats.docs_screened_out += n - m;
    // The rest of every listed document is requested at once, so that those reads overlap; they are scored after the
    // next block's prefixes, when their memory has arrived. Those of the block before are scored now.
    for (std::size_t c = 0; c < m; ++c) m_forward.prefetch_tail(s.screened[c].posting, screen);
    score_pending(q, screen, params, s, stats);
    std::swap(s.screened, s.pending);
    s.n_pending = m;
}

void SeismicIndex::score_pending(const float* q, std::uint32_t screen, const SearchParams& params, SearchScratch& s,
                                 SearchStats& stats) const {
    const bool estimated = s.screen_table.usable();
    for (std::size_t c = 0; c < s.n_pending; ++c) {
        const auto& d = s.pending[c];
        if (posting_length(d.posting) > screen && d.prefix < screen_bar(params, s)) {
            ++stats.docs_screened_out;
            continue;
        }
        // An estimate leaves no running sums to carry on from: the document is scored exactly from its start (its
        // prefix is still in cache).
        const float score = estimated ? full_score(q, d.posting, s) : m_forward.resume(q, d.posting, screen, d.sums);
        offer(score, posting_offset(d.posting), s);
    }
    s.n_pending = 0;
}

void SeismicIndex::offer(float score, std::uint64_t offset, SearchScratch& s) {
    // Only a document that would enter needs the visited set: one met again (in another list, or as a neighbour)
    // has the same score against a heap that has only grown stricter, so if it stayed out then, it stays out now.
    // The set is asked for the few that enter, not for every document met (~1,800 per query at 1M).
    if (s.heap.would_enter(score, offset) && s.visited.insert(offset)) s.heap.push(score, offset);
}

std::size_t SeismicIndex::select_lists(const SparseView& query, std::uint32_t query_cut,
                                      std::vector<std::pair<float, std::uint32_t>>& components) const {
    components.clear();
    for (std::size_t i = 0; i < query.size(); ++i) {
        if (query.indices[i] < m_forward.dim()) components.emplace_back(query.values[i], query.indices[i]);
    }
    // query_cut: the largest query components choose the lists; scores always use the whole query.
    const auto cut = std::min<std::size_t>(query_cut, components.size());
    std::partial_sort(components.begin(), components.begin() + static_cast<std::ptrdiff_t>(cut), components.end(),
                      [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    return cut;
}

std::vector<DocIndex> SeismicIndex::reachable(const SparseView& query, std::uint32_t query_cut,
                                              std::span<const DocIndex> docs) const {
    std::vector<std::pair<float, std::uint32_t>> components;
    const auto cut = select_lists(query, query_cut, components);
    // (forward offset, position asked) of the non-empty documents: postings name documents by offset.
    std::vector<std::pair<std::uint64_t, std::size_t>> wanted;
    for (std::size_t i = 0; i < docs.size(); ++i) {
        if (docs[i] < n_docs() && m_forward.length(docs[i]) > 0) wanted.emplace_back(m_forward.offsets()[docs[i]], i);
    }
    std::sort(wanted.begin(), wanted.end());  // a duplicate keeps its first position
    wanted.erase(std::unique(wanted.begin(), wanted.end(), [](auto& x, auto& y) { return x.first == y.first; }),
                 wanted.end());
    std::vector<std::uint8_t> found(wanted.size(), 0);
    const auto& a = m_arrays;
    for (std::size_t i = 0; i < cut; ++i) {
        const auto term = components[i].second;
        for (auto j = a.list_offsets[term]; j < a.list_offsets[term + 1]; ++j) {
            const auto offset = posting_offset(a.postings[j]);
            const auto it = std::lower_bound(wanted.begin(), wanted.end(), std::pair{offset, std::size_t{0}});
            if (it != wanted.end() && it->first == offset) found[static_cast<std::size_t>(it - wanted.begin())] = 1;
        }
    }
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        if (found[i] != 0) positions.push_back(wanted[i].second);
    }
    std::sort(positions.begin(), positions.end());
    std::vector<DocIndex> out;
    out.reserve(positions.size());
    for (const auto i : positions) out.push_back(docs[i]);
    return out;
}

std::vector<Hit> SeismicIndex::search(const SparseView& query, const SearchParams& params, SearchScratch& s,
                                      SearchStats* stats_out) const {
    SearchStats stats;
    const auto dim = m_forward.dim();
    const QueryScope scope(query, dim, s);
    s.heap.reset(params.k);
    const auto cut = select_lists(query, params.query_cut, s.components);
    const float* q = s.dense_query.data();
    const auto& a = m_arrays;
    // Where each list starts is a random read per array: ask for all of them before the first is needed.
    for (std::size_t i = 0; i < cut; ++i) {
        const auto term = s.components[i].second;
        prefetch_line(a.list_blocks.data() + term);
        prefetch_line(a.list_entries.data() + term);
        prefetch_line(a.list_offsets.data() + term);
    }
    // The screening table, where it pays: screening on, halves it converts exactly, lists long enough that its cost
    // (~0.5 us to build) is won back, and a query it holds. (The build overlaps the lines asked for above.)
    std::uint64_t postings_walked = 0;
    for (std::size_t i = 0; i < cut; ++i) {
        const auto term = s.components[i].second;
        postings_walked += a.list_offsets[term + 1] - a.list_offsets[term];
    }
    const bool table = screen_entries(params) != 0 && m_forward.finite_values() &&
                       (m_screen_table == ScreenTableUse::always ||
                        (m_screen_table == ScreenTableUse::long_lists && postings_walked >= kScreenTablePostings));
    if (!(table && s.screen_table.build(query, dim))) s.screen_table.clear();
    stats.screen_table = s.screen_table.usable() ? 1U : 0U;
    for (std::size_t i = 0; i < cut; ++i) {
        const auto term = s.components[i].second;
        const auto b0 = a.list_blocks[term];
        const auto nb = a.list_blocks[term + 1] - b0;
        if (nb == 0) continue;
        if (i + 1 < cut) prefetch_list_head(s.components[i + 1].second);
        ++stats.lists;
        if (s.block_scores.size() < nb) s.block_scores.resize(nb);
        score_blocks(term, query, s.block_scores.data());
        const bool sorted = params.first_sorted && i == 0;
        if (sorted) {
            s.block_order.resize(nb);
            for (std::uint32_t j = 0; j < nb; ++j) s.block_order[j] = j;
            std::sort(s.block_order.begin(), s.block_order.end(), [&](auto x, auto y) {
                return s.block_scores[x] > s.block_scores[y] || (s.block_scores[x] == s.block_scores[y] && x < y);
            });
        }
        const auto list_begin = a.list_offsets[term];
        const auto block_postings = [&](std::uint32_t j) {
            const auto [begin, end] = block_range(list_begin, b0, j);
            return std::span<const PackedPosting>(a.postings.data() + begin, end - begin);
        };
        const auto opens = [&](std::uint32_t j) { return block_opens(params, s, j); };
        // The blocks that open against the heap as it is now, in visiting order, listed without a branch on the
        // outcome: the heap only grows stricter, so no other block of this list can open later. The walk below then
        // steps through this list instead of every block. (Walking every block, twice with the look-ahead, was 3% of
        // a query at the 0.99 point.) The postings of every listed block are requested at once.
        if (s.open_blocks.size() < nb) s.open_blocks.resize(nb);
        std::size_t n_open = 0;
        {
            const bool full = s.heap.full();
            const float bar = heap_bar(params, s);
            for (std::uint32_t o = 0; o < nb; ++o) {
                const auto j = sorted ? s.block_order[o] : o;
                s.open_blocks[n_open] = j;
                n_open += static_cast<std::size_t>(!full || s.block_scores[j] >= bar);
            }
        }
        for (std::size_t k = 0; k < n_open; ++k) prefetch_line(block_postings(s.open_blocks[k]).data());
        stats.blocks_skipped += nb - n_open;
        // Each listed block is tested again at its turn. The documents of the next block that still opens are
        // requested while this one is scored; or, with screening and a prefix lead, the prefixes of the documents that
        // follow, a few documents ahead of the one screened (PrefixStream). Either way the guess is against the heap
        // as it is now, erring towards fetching too much.
        const auto screen = screen_entries(params);
        std::optional<PrefixStream> stream;
        if (screen != 0 && params.prefix_lead != 0) {
            stream.emplace(*this, std::span<const std::uint32_t>(s.open_blocks.data(), n_open), list_begin, b0, screen,
                           params.prefix_lead, params, s);
        }
        std::size_t ahead = 0;  // position in open_blocks of the block whose documents were requested ahead
        for (std::size_t k = 0; k < n_open; ++k) {
            const auto j = s.open_blocks[k];
            if (!opens(j)) {
                ++stats.blocks_skipped;
                if (stream) stream->skip(k);
                continue;
            }
            if (stream) {
                stream->enter(k);
            } else {
                const bool requested_ahead = k > 0 && ahead == k;  // ahead is 0 before any request
                if (ahead <= k) {
                    for (ahead = k + 1; ahead < n_open && !opens(s.open_blocks[ahead]);) ++ahead;
                    if (ahead < n_open) prefetch_documents(block_postings(s.open_blocks[ahead]), screen);
                }
                // This block's documents were usually requested a block ahead already. With screening only their
                // prefixes were, and those are still there: asking again measured 1-2% slower. Whole documents
                // requested that early can be gone by now: asking again measured 11% faster without screening.
                if (!requested_ahead || screen == 0) prefetch_documents(block_postings(j), screen);
            }
            ++stats.blocks_evaluated;
            evaluate_documents(block_postings(j), q, params, s, stats, stream ? &*stream : nullptr);
        }
        score_pending(q, screen, params, s, stats);
    }
    // kNN refinement (CIKM'24): neighbours of the current top-k are scored too. Their candidates are all
    // gathered before any is scored (the top-k they come from stays fixed), and each step's memory is
    // fetched for all of them at once: one by one, every neighbour list and document would wait on its own miss.
    const auto kk = std::min(params.knn, a.knn);
    if (kk > 0) {
        s.knn_docs.clear();
        for (const auto& e : s.heap.entries()) {
            s.knn_docs.push_back(m_forward.doc_at(e.doc));
            prefetch_line(a.neighbours.data() + std::uint64_t{s.knn_docs.back()} * a.knn);
        }
        const auto n_sources = s.knn_docs.size();
        for (std::size_t i = 0; i < n_sources; ++i) {
            const auto* row = a.neighbours.data() + std::uint64_t{s.knn_docs[i]} * a.knn;
            for (std::uint32_t j = 0; j < kk && row[j] != kNoNeighbour; ++j) {
                s.knn_docs.push_back(row[j]);
                m_forward.prefetch_posting(row[j]);
            }
        }
        s.knn_postings.clear();
        // A neighbour that has been in the heap is not scored again (nor one listed twice, once it has entered): its
        // score is the same, and the heap has only grown stricter since it entered, or still holds it. Any other
        // neighbour already met in a block is scored again, in full: if its prefix screened it out there, it may
        // enter now (measured at 1M: +0.002 recall).
        for (std::size_t i = n_sources; i < s.knn_docs.size(); ++i) {
            const auto p = m_forward.posting(s.knn_docs[i]);
            if (s.visited.contains(posting_offset(p))) continue;
            s.knn_postings.push_back(p);
            m_forward.prefetch(p);
        }
        for (const auto p : s.knn_postings) {
            if (posting_length(p) == 0 || s.visited.contains(posting_offset(p))) continue;
            ++stats.docs_scored;
            offer(full_score(q, p, s), posting_offset(p), s);
        }
    }
    const auto top = s.heap.take_sorted();
    std::vector<Hit> hits;
    hits.reserve(top.size());
    for (const auto& e : top) hits.push_back({m_forward.doc_at(e.doc), e.score});
    if (stats_out != nullptr) *stats_out = stats;
    return hits;
}

std::vector<Hit> SeismicIndex::search_exact(const SparseView& query, std::size_t k, SearchScratch& s,
                                            SearchStats* stats_out) const {
    const QueryScope scope(query, m_forward.dim(), s);
    s.heap.reset(k);
    const float* q = s.dense_query.data();
    const auto n = m_forward.n_docs();
    for (std::size_t d = 0; d < n; ++d) {
        const auto p = m_forward.posting(d);
        if (d + 8 < n) m_forward.prefetch(m_forward.posting(d + 8));
        const auto score = m_forward.dot(q, p);
        if (score > 0.0F) s.heap.push(score, posting_offset(p));
    }
    const auto top = s.heap.take_sorted();
    std::vector<Hit> hits;
    hits.reserve(top.size());
    for (const auto& e : top) hits.push_back({m_forward.doc_at(e.doc), e.score});
    if (stats_out != nullptr) {
        *stats_out = {};
        stats_out->docs_scored = n;
        stats_out->postings = m_forward.nnz();
    }
    return hits;
}

std::vector<std::vector<Hit>> SeismicIndex::search_batch(const CsrMatrix& queries, const SearchParams& params,
                                                         unsigned threads, std::vector<double>* latencies_us,
                                                         SearchStats* total) const {
    validate(params);
    std::vector<std::vector<Hit>> out(queries.n_rows());
    if (latencies_us != nullptr) latencies_us->assign(queries.n_rows(), 0.0);
    const unsigned n_threads = resolve_threads(threads);
    std::vector<SearchScratch> scratch(n_threads);
    std::vector<SearchStats> sums(n_threads);
    parallel_for(queries.n_rows(), n_threads, 4, [&](unsigned t, std::size_t begin, std::size_t end) {
        for (auto q = begin; q < end; ++q) {
            SearchStats st;
            const auto start = std::chrono::steady_clock::now();
            out[q] = search(queries.row(q), params, scratch[t], &st);
            if (latencies_us != nullptr) {
                (*latencies_us)[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
            }
            sums[t] += st;
        }
    });
    if (total != nullptr) {
        *total = {};
        for (const auto& s : sums) *total += s;
    }
    return out;
}

void SeismicIndex::build_knn_graph(std::uint32_t kappa, unsigned threads) {
    auto& a = m_arrays;
    a.knn = 0;  // the graph is not used while it is being built
    a.neighbours.assign(std::uint64_t{kappa} * n_docs(), kNoNeighbour);
    SearchParams p;
    p.k = kappa + 1;
    p.query_cut = 10;
    p.heap_factor = 0.7F;
    p.screen_entries = 0;  // the paper's graph: whole documents
    const unsigned n_threads = resolve_threads(threads);
    std::vector<SearchScratch> scratch(n_threads);
    Progress progress("knn graph", n_docs(), "docs", 5.0);
    parallel_for(n_docs(), n_threads, 64, [&](unsigned t, std::size_t begin, std::size_t end) {
        std::vector<std::pair<std::uint32_t, float>> terms;
        std::vector<std::uint32_t> comps;
        std::vector<float> vals;
        for (auto d = begin; d < end; ++d) {
            m_forward.row_by_term(d, terms);  // a query's components must ascend
            comps.clear();
            vals.clear();
            for (const auto& [c, v] : terms) {
                comps.push_back(c);
                vals.push_back(v);
            }
            const auto hits = search({comps, vals}, p, scratch[t]);
            std::uint32_t kept = 0;
            for (const auto& h : hits) {
                if (h.doc == d || kept == kappa) continue;
                a.neighbours[std::uint64_t{d} * kappa + kept++] = h.doc;
            }
        }
        progress.add(end - begin);
    });
    progress.finish();
    a.knn = kappa;
    m_params.knn = kappa;
}

SeismicIndex::Bytes SeismicIndex::bytes() const noexcept {
    const auto& a = m_arrays;
    Bytes b;
    b.forward = m_forward.bytes();
    // Postings name documents by forward-index offset; the table that maps an offset back to its document counts here.
    b.postings = a.postings.size() * sizeof(PackedPosting) + a.list_offsets.size() * sizeof(std::uint64_t) +
                 m_forward.doc_table_bytes();
    b.blocks = a.block_ends.size() * sizeof(std::uint32_t) + a.list_blocks.size() * sizeof(std::uint64_t);
    b.summaries = (a.summary_min.size() + a.summary_quant.size()) * sizeof(float) +
                  a.list_entries.size() * sizeof(std::uint64_t) + a.entry_step.size() +
                  a.entry_word.size() * sizeof(std::uint16_t) + m_directory.size() * sizeof(std::uint32_t);
    b.knn = a.neighbours.size() * sizeof(std::uint32_t);
    return b;
}

}  // namespace aftershock::seismic
