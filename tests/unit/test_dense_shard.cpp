// The dense part of shard files and index directories: round trips through the file search the same,
// corrupt dense bytes are refused, shards may lack a dense part, and S shards' flat results merged with
// merge_topk equal single-index exact top-k.
#include "aftershock/common/checksum.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/index_dir.hpp"
#include "dense_test_data.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace aftershock {
namespace {

using dense::IndexType;
using ::testing::HasSubstr;

DenseMatrix rows(const DenseMatrix& m, std::size_t begin, std::size_t end) {
    return {end - begin, m.d,
            {m.data.begin() + static_cast<std::ptrdiff_t>(begin * m.d), m.data.begin() + static_cast<std::ptrdiff_t>(end * m.d)},
            m.metric};
}

Shard dense_shard(const DenseMatrix& all, std::uint32_t shard, std::uint32_t n_shards, std::size_t begin, std::size_t end,
                  IndexType type) {
    Shard s;
    s.meta = {shard, n_shards, begin, end, "{}"};
    for (auto i = begin; i < end; ++i) s.ids.push_back("d" + std::to_string(i));
    DenseShard d;
    d.vectors = rows(all, begin, end);
    dense::BuildParams p;
    p.type = type;
    p.nlist = 8;
    p.pq_m = 4;
    d.params = dense::resolve(p, d.vectors.n, d.vectors.d);
    if (type != IndexType::none) d.index = dense::DenseIndex::build(d.vectors, d.params);
    s.dense = std::move(d);
    return s;
}

TEST(DenseShard, RoundTripSearchesIdenticallyForEveryType) {
    test::ScratchDir dir;
    const auto docs = test::clustered_dense(900, 16, Metric::cosine, 21);
    const auto queries = test::clustered_dense(25, 16, Metric::cosine, 22);
    for (auto type : {IndexType::none, IndexType::flat, IndexType::hnsw, IndexType::ivf_flat, IndexType::ivf_pq}) {
        const auto name = std::string(dense::to_string(type));
        const auto shard = dense_shard(docs, 0, 1, 0, docs.n, type);
        const auto a = dir.file(name + "-a.h5");
        const auto checksum = write_shard(a, shard);
        const auto loaded = read_shard(a);
        EXPECT_EQ(loaded.checksum, checksum) << name;
        EXPECT_FALSE(loaded.sparse.has_value());
        ASSERT_TRUE(loaded.dense.has_value()) << name;
        EXPECT_EQ(loaded.dense->vectors.data, docs.data) << name;
        EXPECT_EQ(loaded.dense->vectors.metric, Metric::cosine);
        EXPECT_EQ(loaded.dense->params.type, type);
        EXPECT_EQ(loaded.dense->index.has_value(), type != IndexType::none) << name;
        if (type != IndexType::none) {
            dense::SearchParams sp;
            EXPECT_EQ(loaded.dense->index->search(queries, sp, 1), shard.dense->index->search(queries, sp, 1)) << name;
        }
        const auto b = dir.file(name + "-b.h5");
        write_shard(b, loaded);
        EXPECT_EQ(test::file_bytes(a), test::file_bytes(b)) << name << ": no timestamps, deterministic FAISS bytes";
    }
}

TEST(DenseShard, CorruptDenseBytesAndVectorsAreRefused) {
    test::ScratchDir dir;
    const auto docs = test::clustered_dense(500, 16, Metric::ip, 23);
    const auto good = dir.file("good.h5");
    write_shard(good, dense_shard(docs, 0, 1, 0, docs.n, IndexType::hnsw));
    const auto faiss = h5::File(good, h5::File::Mode::read).read<std::uint8_t>("/dense/faiss");
    const auto tamper = [&](const std::string& name, auto&& edit) {
        const auto path = dir.file(name);
        std::filesystem::copy_file(good, path, std::filesystem::copy_options::overwrite_existing);
        h5::File f(path, h5::File::Mode::read_write);
        edit(f);
        return path;
    };
    auto flipped = faiss;
    flipped[flipped.size() / 2] ^= 0x5A;
    EXPECT_THAT(test::shard_load_error(tamper("faiss.h5", [&](h5::File& f) { f.write<std::uint8_t>("/dense/faiss", flipped); })),
                HasSubstr("checksum mismatch"));
    EXPECT_THAT(test::shard_load_error(tamper("cut.h5", [&](h5::File& f) {
                    f.write<std::uint8_t>("/dense/faiss", std::span(faiss).first(faiss.size() - 1));
                })),
                HasSubstr("checksum mismatch"));
    EXPECT_THAT(test::shard_load_error(tamper("nofaiss.h5", [&](h5::File& f) { f.remove("/dense/faiss"); })),
                HasSubstr("/dense/faiss is missing for index type hnsw"));
    EXPECT_THAT(test::shard_load_error(tamper("metric.h5", [&](h5::File& f) { f.write_attr("/dense", "metric", std::string("hamming")); })),
                HasSubstr("unknown metric 'hamming'"));
    EXPECT_THAT(test::shard_load_error(tamper("dim.h5", [&](h5::File& f) { f.write_attr("/dense", "dim", std::uint64_t{8}); })),
                HasSubstr("/dense/vectors has shape 500x16 for 500 documents of dimension 8"));
    auto vectors = docs.data;
    vectors[77] += 1.0F;
    EXPECT_THAT(test::shard_load_error(tamper("vectors.h5", [&](h5::File& f) {
                    f.write<float>("/dense/vectors", vectors, {docs.n, docs.d});
                })),
                HasSubstr("checksum mismatch"));
    {
        const auto path = tamper("v1.h5", [](h5::File& f) { f.write_attr("/", "format_version", std::uint64_t{1}); });
        EXPECT_THAT(test::shard_load_error(path), HasSubstr("format version 1 is not supported (this build reads version " + std::to_string(kShardFormatVersion)));
    }
}

/// Writes shards over `bounds` and a manifest, and opens the directory.
LocalIndex make_index_dir(const test::ScratchDir& dir, const DenseMatrix& docs, const std::vector<std::size_t>& bounds,
                          IndexType type) {
    Manifest m;
    m.corpus = "test";
    m.corpus_checksum = "0";
    m.n_docs = docs.n;
    m.n_shards = static_cast<std::uint32_t>(bounds.size() - 1);
    m.build_params = "{}";
    for (std::uint32_t s = 0; s + 1 < bounds.size(); ++s) {
        const auto path = dir.file(shard_file_name(s));
        ShardRecord r;
        r.shard = s;
        r.file = shard_file_name(s);
        r.doc_begin = bounds[s];
        r.doc_end = bounds[s + 1];
        r.checksum = write_shard(path, dense_shard(docs, s, m.n_shards, bounds[s], bounds[s + 1], type));
        r.sha256 = sha256_file(path);
        m.shards.push_back(r);
    }
    write_manifest(dir.path().string(), m);
    return LocalIndex::open(dir.path().string());
}

TEST(DenseShard, MergedFlatShardsEqualSingleIndexExactTopK) {
    for (auto metric : {Metric::ip, Metric::cosine, Metric::l2}) {
        const auto docs = test::clustered_dense(2000, 20, metric, 31);
        const auto queries = test::clustered_dense(40, 20, metric, 32);
        const auto want = DenseExactIndex(docs).search_batch(queries, 10, 1);
        for (const std::vector<std::size_t>& bounds :
             {std::vector<std::size_t>{0, 2000}, {0, 700, 1300, 2000}, {0, 3, 1000, 1001, 2000}}) {
            test::ScratchDir dir;
            const auto index = make_index_dir(dir, docs, bounds, IndexType::flat);
            dense::SearchParams sp;
            std::vector<double> latencies;
            const auto batched = index.search_dense(queries, sp, 2);
            const auto one_by_one = index.search_dense(queries, sp, 2, &latencies);
            const auto exact = index.search_dense_exact(queries, 10, 1);
            EXPECT_EQ(latencies.size(), queries.n);
            for (std::size_t q = 0; q < queries.n; ++q) {
                for (const auto* got : {&batched[q], &one_by_one[q], &exact[q]}) {
                    ASSERT_EQ(got->size(), want[q].size());
                    for (std::size_t j = 0; j < want[q].size(); ++j) {
                        EXPECT_EQ((*got)[j].doc, want[q][j].doc) << to_string(metric) << " shards " << bounds.size() - 1;
                        EXPECT_NEAR((*got)[j].score, want[q][j].score, test::score_tolerance(want[q][j].score));
                    }
                }
            }
        }
    }
}

TEST(DenseShard, StoreOnlyShardsSearchExactlyAndSparseOnlyShardsRefuseDenseSearch) {
    const auto docs = test::clustered_dense(600, 12, Metric::l2, 41);
    const auto queries = test::clustered_dense(10, 12, Metric::l2, 42);
    {
        test::ScratchDir dir;
        const auto index = make_index_dir(dir, docs, {0, 250, 600}, IndexType::none);
        EXPECT_EQ(index.search_dense(queries, {}, 1), index.search_dense_exact(queries, 10, 1));
    }
    test::ScratchDir dir;
    Shard s;
    s.meta = {0, 1, 0, 3, "{}"};
    s.ids = {"a", "b", "c"};
    CsrMatrix m;
    m.dim = 10;
    for (std::uint32_t i = 0; i < 3; ++i) m.append_row(std::vector<std::uint32_t>{i}, std::vector<float>{1.0F});
    seismic::BuildParams bp;
    bp.lambda = 4;
    s.sparse = seismic::SeismicIndex::build(m, bp);
    const auto path = dir.file(shard_file_name(0));
    const auto checksum = write_shard(path, s);
    EXPECT_FALSE(h5::File(path, h5::File::Mode::read).exists("/dense"));
    const auto loaded = read_shard(path);
    EXPECT_FALSE(loaded.dense.has_value());
    Manifest man;
    man.corpus = "t";
    man.corpus_checksum = "0";
    man.n_docs = 3;
    man.n_shards = 1;
    man.build_params = "{}";
    ShardRecord r;
    r.file = shard_file_name(0);
    r.doc_end = 3;
    r.checksum = checksum;
    r.sha256 = sha256_file(path);
    man.shards.push_back(r);
    write_manifest(dir.path().string(), man);
    const auto index = LocalIndex::open(dir.path().string());
    const auto q = test::clustered_dense(1, 12, Metric::l2, 43);
    try {
        (void)index.search_dense(q, {}, 1);
        ADD_FAILURE() << "dense search of a sparse-only index must fail";
    } catch (const InputError& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("shard 0 has no dense part"));
    }
}

}  // namespace
}  // namespace aftershock
