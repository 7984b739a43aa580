// --append: "sparse and dense for the same ids may be merged into one file". The import runs into a
// staging file; then a copy of the existing corpus receives the new parts, rows reordered to its ids,
// and replaces the original only when complete.
#include "import_common.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <unordered_map>

namespace aftershock::import_detail {
namespace {
namespace fs = std::filesystem;

struct SidePart {
    bool sparse = false;
    bool dense = false;
    std::uint64_t n = 0;
};

SidePart side_part(const h5::File& f, Side side) {
    SidePart p;
    if (f.exists(sparse_group(side))) {
        p.sparse = true;
        p.n = f.shape(sparse_group(side) + "/indptr").at(0) - 1;
    }
    if (f.exists(dense_dataset(side))) {
        p.dense = true;
        p.n = f.shape(dense_dataset(side)).at(0);
    }
    return p;
}

std::string input_name(const ImportOptions& opt, Side side) {
    if (side == Side::docs) return opt.docs;
    return opt.queries.empty() ? opt.docs + " (held-out queries)" : opt.queries;
}

std::vector<std::string> ids_or_implicit(const h5::File& f, Side side, std::uint64_t n) {
    auto ids = read_ids(f, side);
    if (ids.empty()) {
        ids.reserve(n);
        for (std::uint64_t i = 0; i < n; ++i) ids.push_back(std::to_string(i));
    }
    return ids;
}

/// perm[i] = the imported row that becomes row i of the corpus (matched by id); empty if that is i.
/// `corpus` names the corpus in messages (dst is its temporary copy).
std::vector<std::uint64_t> match_ids(const h5::File& src, const h5::File& dst, Side side, std::uint64_t n_src,
                                     std::uint64_t n_dst, const std::string& input, const std::string& corpus) {
    ensure<InputError>(n_src == n_dst, "{}: {} {} imported but {} has {}; --append needs the same ids", input, n_src,
                       to_string(side), corpus, n_dst);
    std::unordered_map<std::string, std::uint64_t> row_of;
    {
        const auto src_ids = ids_or_implicit(src, side, n_src);
        row_of.reserve(src_ids.size());
        for (std::uint64_t i = 0; i < src_ids.size(); ++i) {
            const auto [it, added] = row_of.emplace(src_ids[i], i);
            ensure<InputError>(added, "{}: record {}: duplicate id '{}' (also record {})", input, i, src_ids[i],
                               it->second);
        }
    }
    const auto dst_ids = ids_or_implicit(dst, side, n_dst);
    std::vector<std::uint64_t> perm(n_dst);
    std::vector<bool> used(n_dst, false);
    bool identity = true;
    for (std::uint64_t i = 0; i < n_dst; ++i) {
        const auto it = row_of.find(dst_ids[i]);
        ensure<InputError>(it != row_of.end(), "{}:{} row {}: id '{}' is not among the imported {} ({})", corpus,
                           ids_dataset(side), i, dst_ids[i], to_string(side), input);
        ensure<InputError>(!used[it->second], "{}:{} row {}: duplicate id '{}'", corpus, ids_dataset(side), i,
                           dst_ids[i]);
        used[it->second] = true;
        perm[i] = it->second;
        identity = identity && it->second == i;
    }
    if (identity) perm.clear();
    return perm;
}

/// Calls read(first, last) for each run of consecutive source rows of output rows [b, e).
template <typename Read>
void for_each_run(const std::vector<std::uint64_t>& perm, std::uint64_t b, std::uint64_t e, Read&& read) {
    if (perm.empty()) {
        read(b, e);
        return;
    }
    for (auto i = b; i < e;) {
        auto j = i + 1;
        while (j < e && perm[j] == perm[j - 1] + 1) ++j;
        read(perm[i], perm[j - 1] + 1);
        i = j;
    }
}

void copy_sparse(const h5::File& src, h5::File& dst, Side side, const std::vector<std::uint64_t>& perm,
                 std::uint64_t n, std::uint64_t dim, std::size_t batch) {
    SparseRowWriter w(dst, side);
    CsrMatrix block;
    for (std::uint64_t b = 0; b < n; b += batch) {
        const auto e = std::min<std::uint64_t>(n, b + batch);
        block.clear();
        for_each_run(perm, b, e, [&](std::uint64_t first, std::uint64_t last) {
            const auto part = read_sparse_rows(src, side, first, last);
            for (std::size_t r = 0; r < part.n_rows(); ++r) {
                const auto row = part.row(r);
                block.append_row(row.indices, row.values);
            }
        });
        w.append(block);
    }
    w.finish(dim);
}

void copy_dense(const h5::File& src, h5::File& dst, Side side, const std::vector<std::uint64_t>& perm,
                std::uint64_t n, std::size_t batch) {
    const auto ds = dense_dataset(side);
    const auto d = static_cast<std::size_t>(src.shape(ds).at(1));
    const auto metric = parse_metric(src.read_attr_string(ds, "metric"));
    DenseRowWriter w(dst, side, d, metric);
    std::vector<float> block;
    for (std::uint64_t b = 0; b < n; b += batch) {
        const auto e = std::min<std::uint64_t>(n, b + batch);
        block.clear();
        for_each_run(perm, b, e, [&](std::uint64_t first, std::uint64_t last) {
            const auto part = read_dense_rows(src, side, first, last);
            block.insert(block.end(), part.data.begin(), part.data.end());
        });
        w.append(block);
    }
}

void copy_ids(const h5::File& src, h5::File& dst, Side side, std::uint64_t n, std::size_t batch) {
    const auto ds = ids_dataset(side);
    if (!src.exists(ds)) return;
    auto app = dst.string_appender(ds);
    for (std::uint64_t b = 0; b < n; b += batch) app.append(src.read_strings(ds, b, std::min<std::uint64_t>(n, b + batch)));
}

void refuse_existing(const h5::File& dst, const std::string& object, const std::string& corpus) {
    ensure<UsageError>(!dst.exists(object), "--append: {} already has {}; refusing to overwrite it", corpus, object);
}

void merge(const ImportOptions& opt, const h5::File& src, h5::File& dst) {
    std::vector<std::uint64_t> perms[2];
    for (const Side side : {Side::docs, Side::queries}) {
        const auto ps = side_part(src, side);
        if (!ps.sparse && !ps.dense) continue;
        if (ps.sparse) refuse_existing(dst, sparse_group(side), opt.out);
        if (ps.dense) refuse_existing(dst, dense_dataset(side), opt.out);
        const auto input = input_name(opt, side);
        const auto pd = side_part(dst, side);
        auto& perm = perms[side == Side::docs ? 0 : 1];
        if (pd.sparse || pd.dense) {
            perm = match_ids(src, dst, side, ps.n, pd.n, input, opt.out);
        } else {
            copy_ids(src, dst, side, ps.n, opt.batch_rows);
        }
        if (ps.sparse) {
            auto dim = src.read_attr_u64(sparse_group(side), "dim");
            if (side == Side::queries) {
                ensure<InputError>(dst.exists("/docs/sparse"), "{}: has no /docs/sparse for the sparse queries of {}",
                                   opt.out, input);
                const auto doc_dim = dst.read_attr_u64("/docs/sparse", "dim");
                ensure<InputError>(dim <= doc_dim, "{}: queries use dimension {} but the documents in {} have {}",
                                   input, dim, opt.out, doc_dim);
                dim = doc_dim;  // queries live in the documents' space
            }
            copy_sparse(src, dst, side, perm, ps.n, dim, opt.batch_rows);
        }
        if (ps.dense) {
            if (side == Side::queries) {
                ensure<InputError>(dst.exists("/docs/dense"), "{}: has no /docs/dense for the dense queries of {}",
                                   opt.out, input);
                const auto qd = src.shape("/queries/dense").at(1);
                const auto dd = dst.shape("/docs/dense").at(1);
                ensure<InputError>(qd == dd, "{}: dense queries have dimension {} but the documents in {} have {}",
                                   input, qd, opt.out, dd);
            }
            copy_dense(src, dst, side, perm, ps.n, opt.batch_rows);
        }
    }
    if (src.exists("/vocab")) {
        refuse_existing(dst, "/vocab", opt.out);
        dst.write_strings("/vocab", src.read_strings("/vocab"));
    }
    const auto& doc_perm = perms[0];
    const auto& query_perm = perms[1];
    std::vector<std::uint64_t> doc_inverse(doc_perm.size());
    for (std::size_t i = 0; i < doc_perm.size(); ++i) doc_inverse[doc_perm[i]] = i;
    for (const auto* mode : {"sparse", "dense", "hybrid"}) {
        auto gt = read_groundtruth(src, mode);
        if (!gt) continue;
        refuse_existing(dst, fmt::format("/groundtruth/{}", mode), opt.out);
        if (!query_perm.empty()) {
            GroundTruth re = *gt;
            for (std::size_t q = 0; q < gt->n_queries; ++q) {
                for (std::size_t j = 0; j < gt->k; ++j) {
                    re.neighbors[q * gt->k + j] = gt->neighbors[query_perm[q] * gt->k + j];
                    re.distances[q * gt->k + j] = gt->distances[query_perm[q] * gt->k + j];
                }
            }
            gt = std::move(re);
        }
        if (!doc_inverse.empty()) {
            for (auto& v : gt->neighbors) v = static_cast<std::int64_t>(doc_inverse[static_cast<std::size_t>(v)]);
        }
        write_groundtruth(dst, mode, *gt);
    }
}

}  // namespace

ImportStats import_append(const ImportOptions& opt, std::optional<Vocabulary> vocab, double weight_scale, Metric metric) {
    ensure<InputError>(fs::exists(opt.out), "--append: {} does not exist (import without --append first)", opt.out);
    const auto& f = opt.format;
    {
        const h5::File existing(opt.out, h5::File::Mode::read);
        const auto info = describe_corpus(existing);
        ensure<UsageError>(!info.ann_benchmarks, "--append: {} is an ann-benchmarks file; import it first", opt.out);
        // Refuse early what is known to clash; jsonl's kind shows only while reading and is checked in merge().
        const bool sparse = f == "tsv-tokens" || f == "bigann-csr" || f == "seismic-bin";
        const bool dense = f == "ann-benchmarks" || f == "tsv-dense" || f == "fvecs";
        const bool queries = !opt.queries.empty() || opt.holdout > 0 || f == "ann-benchmarks";
        if (!opt.docs.empty() && sparse) refuse_existing(existing, "/docs/sparse", opt.out);
        if (!opt.docs.empty() && dense) refuse_existing(existing, "/docs/dense", opt.out);
        if (queries && sparse) refuse_existing(existing, "/queries/sparse", opt.out);
        if (queries && dense) refuse_existing(existing, "/queries/dense", opt.out);
        if (!vocab && existing.exists("/vocab") && (f == "jsonl" || f == "tsv-tokens")) {
            // New sparse queries must use the corpus' token ids.
            vocab = Vocabulary::from_tokens(existing.read_strings("/vocab"), opt.out + ":/vocab");
        }
        if (info.docs_dense) {
            ensure<UsageError>(!opt.metric || *opt.metric == info.metric, "--metric {} differs from the metric '{}' of {}:/docs/dense",
                               to_string(opt.metric.value_or(metric)), to_string(info.metric), opt.out);
            if (!opt.metric) metric = info.metric;
        }
    }
    ImportStats stats;
    TempPath staging(opt.out + ".staging.tmp");
    {
        h5::File out(staging.path(), h5::File::Mode::truncate);
        Context ctx{opt, out, stats, vocab ? std::move(*vocab) : Vocabulary{}, weight_scale, metric};
        run_format(ctx);
    }
    TempPath tmp(opt.out + ".tmp");
    std::error_code ec;
    fs::copy_file(opt.out, tmp.path(), fs::copy_options::overwrite_existing, ec);
    ensure(!ec, "--append: cannot copy {} to {}: {}", opt.out, tmp.path(), ec.message());
    {
        const h5::File src(staging.path(), h5::File::Mode::read);
        h5::File dst(tmp.path(), h5::File::Mode::read_write);
        merge(opt, src, dst);
    }
    (void)describe_corpus(tmp.path());
    tmp.commit(opt.out);
    spdlog::info("import: appended to {}", opt.out);
    return stats;
}

}  // namespace aftershock::import_detail
