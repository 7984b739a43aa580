#pragma once
// Seismic (Bruch, Nardini, Rulli, Venturini; SIGIR'24, CIKM'24): statically pruned posting lists split into
// blocks by shallow random clustering, each block with a quantized alpha-mass summary; a query walks the
// lists of its largest components, skips blocks whose summary score cannot beat the heap, and scores the
// rest exactly through the forward index. See SEISMIC.md for the reference this port follows.
#include "aftershock/common/seismic/forward_index.hpp"
#include "aftershock/common/seismic/params.hpp"
#include "aftershock/common/seismic/screening_table.hpp"
#include "aftershock/common/seismic/visited_set.hpp"
#include "aftershock/common/topk.hpp"

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace aftershock::seismic {

/// A heap entry keyed by forward-index offset: offsets grow with doc index, so the tie rule is unchanged.
struct OffsetHit {
    std::uint64_t doc = 0;
    float score = 0.0F;
};
[[nodiscard]] constexpr bool ranks_before(const OffsetHit& a, const OffsetHit& b) noexcept {
    return a.score > b.score || (a.score == b.score && a.doc < b.doc);
}

/// Work done by one query (exported as worker metrics later).
struct SearchStats {
    std::uint64_t lists = 0;
    std::uint64_t blocks_evaluated = 0;
    std::uint64_t blocks_skipped = 0;
    std::uint64_t docs_scored = 0;        ///< documents scored, in full or (screening) on their prefix; again when met again
    std::uint64_t docs_screened_out = 0;  ///< of those, dropped on their prefix score
    std::uint64_t postings = 0;
    std::uint64_t screen_table = 0;       ///< 1 for a query screened through the ScreeningTable (estimated prefixes)
    SearchStats& operator+=(const SearchStats& o) noexcept {
        lists += o.lists;
        blocks_evaluated += o.blocks_evaluated;
        blocks_skipped += o.blocks_skipped;
        docs_scored += o.docs_scored;
        docs_screened_out += o.docs_screened_out;
        postings += o.postings;
        screen_table += o.screen_table;
        return *this;
    }
};

/// A document that passed screening on its prefix, waiting to be scored in full: one opened block later, so that the
/// rest of it has arrived from memory by then.
struct ScreenedDocument {
    PackedPosting posting = 0;
    float prefix = 0.0F;  ///< its prefix score (estimated through the ScreeningTable, or sums.total())
    DotSums sums;         ///< the exact prefix's running sums, to carry on from (not with estimates)
};

/// Per-thread query scratch; sized on first use, then reused without allocation.
struct SearchScratch {
    std::vector<float> dense_query;
    std::vector<float> block_scores;
    std::vector<std::uint32_t> block_order;      ///< first_sorted: the first list's blocks by summary score
    std::vector<std::uint32_t> open_blocks;      ///< a list's blocks that open against the heap at the list's start
    std::vector<std::pair<float, std::uint32_t>> components;
    VisitedSet visited;                        ///< the documents that entered the heap
    BasicTopK<OffsetHit> heap{0};
    std::vector<DocIndex> knn_docs;            ///< kNN refinement: the top-k's documents, then their neighbours
    std::vector<PackedPosting> knn_postings;   ///< the neighbours' postings
    std::vector<DotSums> prefix_sums;          ///< screening: one block's prefix scores, as running sums
    ScreeningTable screen_table;               ///< screening: the query's weights for estimated prefix scores
    std::vector<float> prefix_estimates;       ///< screening: one block's prefix scores, estimated through the table
    std::vector<ScreenedDocument> screened;    ///< screening: the block's documents that passed their prefix
    std::vector<ScreenedDocument> pending;     ///< screening: those of the block before, to be scored in full
    std::size_t n_pending = 0;
    std::vector<std::uint32_t> stream_requested;  ///< screening: per open block of a list, prefixes requested ahead
};

/// All arrays of a built index. Lists and blocks are concatenated in term order; per-list ranges come from
/// the *_offsets arrays (dim + 1 entries each).
struct SeismicArrays {
    std::vector<std::uint64_t> list_offsets;        ///< dim+1: postings of term t
    std::vector<PackedPosting> postings;
    std::vector<std::uint64_t> list_blocks;         ///< dim+1: global block ids of term t
    std::vector<std::uint32_t> block_ends;          ///< per block: end of its postings, relative to its list
    std::vector<float> summary_min;                 ///< per block
    std::vector<float> summary_quant;               ///< per block
    // Summaries, transposed: a list's entries are sorted by component, each naming its block and code, in 3 bytes.
    // An entry's component is the running sum of its list's entry_step values up to and including its own (from
    // 0 at the list's start); a step over 255 is carried by filler entries (step 255, block field all ones) that
    // score nothing (~1% of entries). entry_word holds the block number above a code_bits-bit code: 8 bits (the
    // paper's u8 quantization) while no list has more than 255 blocks, fewer when the longest list needs more
    // block bits (9-12; at most kMaxBlocksPerList blocks per list). A query finds its components through a sampled
    // directory of absolute components built at load (SeismicIndex::m_directory), not stored.
    std::vector<std::uint64_t> list_entries;        ///< dim+1: summary entries of term t
    std::vector<std::uint8_t> entry_step;           ///< per entry: component minus the previous entry's
    std::vector<std::uint16_t> entry_word;          ///< per entry: block << code_bits | code
    std::uint32_t code_bits = 8;                    ///< bits of an entry's code, 4..8
    [[nodiscard]] std::uint64_t n_entries() const noexcept { return entry_word.size(); }
    /// The block field of a filler entry: all ones (never a real block).
    [[nodiscard]] std::uint32_t filler_block() const noexcept { return 0xFFFFU >> code_bits; }
    std::uint32_t knn = 0;                          ///< neighbours per document in `neighbours`
    std::vector<std::uint32_t> neighbours;          ///< n_docs * knn doc indices (UINT32_MAX = none)
};

class SeismicIndex {
public:
    SeismicIndex() = default;
    /// Builds the whole index in memory (multi-threaded, deterministic for a given seed).
    static SeismicIndex build(const CsrMatrix& docs, const BuildParams& params);
    /// Adopts arrays read from a shard file (or just built: build() ends here too); validates their consistency
    /// (throws InputError) and samples the summary directory from them. The arrays stay on
    /// small pages until prepare_for_queries(): reading a shard to inspect or compare it need not pay the move.
    SeismicIndex(ForwardIndex forward, SeismicArrays arrays, BuildParams params);
    /// Moves the arrays a query reads at random onto huge pages (see huge_pages.hpp; ~2.6 s per GB at 1M
    /// documents) and logs what it got. Call once before serving queries from a loaded index; build() does it.
    void prepare_for_queries() const noexcept;

    /// Approximate top-k of one query, single-threaded; hits are doc indices, exact f16-forward scores.
    [[nodiscard]] std::vector<Hit> search(const SparseView& query, const SearchParams& params, SearchScratch& scratch,
                                          SearchStats* stats = nullptr) const;
    /// Exact top-k over the forward index (every document scored; f16 values, so the same scores the
    /// approximate search gives): the shard-side oracle for online recall. Documents sharing no term are left out.
    [[nodiscard]] std::vector<Hit> search_exact(const SparseView& query, std::size_t k, SearchScratch& scratch,
                                                SearchStats* stats = nullptr) const;
    /// The documents of `docs` that lie in the posting lists search() walks for `query` at `query_cut`, in the
    /// order asked, each once: those any heap_factor can find without kNN refinement (a diagnostic, not on the
    /// query path). Empty documents and indices past the shard are never reachable.
    [[nodiscard]] std::vector<DocIndex> reachable(const SparseView& query, std::uint32_t query_cut,
                                                  std::span<const DocIndex> docs) const;
    /// Every row of `queries` on `threads` threads (0 = all); per-query latencies if asked.
    [[nodiscard]] std::vector<std::vector<Hit>> search_batch(const CsrMatrix& queries, const SearchParams& params,
                                                             unsigned threads, std::vector<double>* latencies_us = nullptr,
                                                             SearchStats* total = nullptr) const;

    /// Builds the kappa-NN graph (CIKM'24): each document searched as a query with query_cut 10, heap_factor 0.7.
    void build_knn_graph(std::uint32_t kappa, unsigned threads);

    [[nodiscard]] const ForwardIndex& forward() const noexcept { return m_forward; }
    /// When screening estimates prefix scores through a ScreeningTable (where the CPU, the index and the query allow)
    /// instead of scoring them exactly: by default for queries whose walked lists are long (the table's cost is won
    /// back); never or always for tests and A/B benchmarks.
    enum class ScreenTableUse { never, long_lists, always };
    void set_screen_table(ScreenTableUse use) noexcept {
        m_screen_table = ScreeningTable::supported() ? use : ScreenTableUse::never;
    }
    /// Scoring kernels of the forward index (tests, A/B benchmarks; every choice gives the same bits).
    void set_kernels(const DotKernels& k) noexcept { m_forward.set_kernels(k); }
    [[nodiscard]] const SeismicArrays& arrays() const noexcept { return m_arrays; }
    [[nodiscard]] const BuildParams& params() const noexcept { return m_params; }
    [[nodiscard]] std::size_t n_docs() const noexcept { return m_forward.n_docs(); }
    [[nodiscard]] std::uint64_t dim() const noexcept { return m_forward.dim(); }
    [[nodiscard]] std::uint64_t n_blocks() const noexcept { return m_arrays.block_ends.size(); }
    [[nodiscard]] std::uint64_t n_postings() const noexcept { return m_arrays.postings.size(); }

    struct Bytes {
        std::uint64_t forward = 0;
        std::uint64_t postings = 0;
        std::uint64_t blocks = 0;
        std::uint64_t summaries = 0;
        std::uint64_t knn = 0;
        [[nodiscard]] std::uint64_t total() const noexcept { return forward + postings + blocks + summaries + knn; }
        Bytes& operator+=(const Bytes& o) noexcept {
            forward += o.forward;
            postings += o.postings;
            blocks += o.blocks;
            summaries += o.summaries;
            knn += o.knn;
            return *this;
        }
    };
    [[nodiscard]] Bytes bytes() const noexcept;

private:
    class PrefixStream;
    /// The query's components below dim, its query_cut heaviest first (ties by component): the lists walked.
    /// Returns how many lists that is.
    std::size_t select_lists(const SparseView& query, std::uint32_t query_cut,
                             std::vector<std::pair<float, std::uint32_t>>& components) const;
    /// Hints the first cache line of each of a list's arrays, one list ahead of its use.
    void prefetch_list_head(std::uint32_t term) const noexcept;
    void score_blocks(std::uint32_t term, const SparseView& query, float* out) const noexcept;
    /// Requests the memory score_blocks() will read for `term` with the directory (the strides of summary
    /// entries holding the query's components; the per-block arrays), without waiting for it.
    void request_summaries(std::uint32_t term, const SparseView& query) const noexcept;
    /// Scores the documents of `postings` (an opened block, in order) into the heap, screening them on their prefix
    /// once the heap is full. Their memory is requested by the caller (search()), or by `stream` as they are screened.
    void evaluate_documents(std::span<const PackedPosting> postings, const float* q, const SearchParams& params,
                            SearchScratch& s, SearchStats& stats, PrefixStream* stream) const;
    /// evaluate_documents() once the heap is full, with a screening prefix of `screen` entries: every prefix first; the
    /// rest of those that pass is requested, and they are scored in full after the next block's prefixes
    /// (score_pending()), while the documents that passed in the block before are scored now.
    void screen_documents(std::span<const PackedPosting> postings, const float* q, std::uint32_t screen,
                          const SearchParams& params, SearchScratch& s, SearchStats& stats, PrefixStream* stream) const;
    /// Scores in full the documents that passed screening and wait in s.pending, each tested against the heap as it
    /// stands at its turn; then none waits.
    void score_pending(const float* q, std::uint32_t screen, const SearchParams& params, SearchScratch& s,
                       SearchStats& stats) const;
    /// The score a document's prefix must reach against the heap as it stands (the one screening rule).
    [[nodiscard]] static float screen_bar(const SearchParams& params, const SearchScratch& s) noexcept {
        return params.screen_factor * s.heap.threshold();
    }
    /// The summary score a block must reach to open while the heap is full (the one skipping rule).
    [[nodiscard]] static float heap_bar(const SearchParams& params, const SearchScratch& s) noexcept {
        return params.heap_factor * s.heap.threshold();
    }
    /// Whether block j of the list being walked (its summary score in s.block_scores) opens against the heap now.
    [[nodiscard]] static bool block_opens(const SearchParams& params, const SearchScratch& s, std::uint32_t j) noexcept {
        return !s.heap.full() || s.block_scores[j] >= heap_bar(params, s);
    }
    /// Where block j of a list starts and ends in the postings array, for the list whose postings begin at list_begin
    /// and whose first block is first_block.
    [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> block_range(std::uint64_t list_begin, std::uint64_t first_block,
                                                                      std::uint32_t j) const noexcept {
        const auto& ends = m_arrays.block_ends;
        return {list_begin + (j == 0 ? 0 : ends[first_block + j - 1]), list_begin + ends[first_block + j]};
    }
    /// A document's exact score: through the query's screening table where one was built (faster, the same bits), else
    /// through the forward index's kernels.
    [[nodiscard]] float full_score(const float* q, PackedPosting p, const SearchScratch& s) const noexcept {
        return s.screen_table.usable() ? s.screen_table.dot(m_forward.packed().data(), p) : m_forward.dot(q, p);
    }
    /// Pushes a scored document into the heap if it would enter and is not there already (the visited set).
    static void offer(float score, std::uint64_t offset, SearchScratch& s);
    /// Hints the documents of `postings`: their first `screen` entries, or whole when screen is 0.
    void prefetch_documents(std::span<const PackedPosting> postings, std::uint32_t screen) const noexcept;
    /// The screening prefix in force: none on a shard whose documents are not stored heaviest first.
    [[nodiscard]] std::uint32_t screen_entries(const SearchParams& params) const noexcept {
        return m_forward.heaviest_first() ? params.screen_entries : 0U;
    }

    ForwardIndex m_forward;
    ScreenTableUse m_screen_table = ScreeningTable::supported() ? ScreenTableUse::long_lists : ScreenTableUse::never;
    SeismicArrays m_arrays;
    BuildParams m_params;
    // The component of every kDirectoryStride-th summary entry (entry index k * stride, over all lists): a
    // query finds its components in a list by a forward scan of these samples, then of at most one stride of
    // entries, instead of decoding the list from its start. Empty when switched off
    // (AFTERSHOCK_SUMMARY_DIRECTORY=0, for A/B runs and as the tests' oracle): search then decodes from the start.
    std::vector<std::uint32_t> m_directory;
};

}  // namespace aftershock::seismic
