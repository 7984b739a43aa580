// Shard files: bit-identical save/load round trips, and refusal of corrupt, truncated or foreign files.
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/shard_file.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

namespace aftershock {
namespace {

using ::testing::HasSubstr;

CsrMatrix docs_for_test(std::size_t n) {
    std::mt19937 rng(17);
    CsrMatrix m;
    m.dim = 300;
    std::uniform_int_distribution<std::uint32_t> term(0, 299);
    std::uniform_real_distribution<float> val(0.05F, 2.0F);
    for (std::size_t d = 0; d < n; ++d) {
        std::set<std::uint32_t> t;
        const auto k = d % 17 == 0 ? 0U : 5 + d % 20;  // some empty documents
        while (t.size() < k) t.insert(term(rng));
        std::vector<std::uint32_t> idx(t.begin(), t.end());
        std::vector<float> v;
        for (std::size_t i = 0; i < idx.size(); ++i) v.push_back(val(rng));
        m.append_row(idx, v);
    }
    return m;
}

Shard make_shard(std::uint32_t knn) {
    const auto docs = docs_for_test(800);
    seismic::BuildParams p;
    p.lambda = 40;
    p.knn = knn;
    Shard s;
    s.meta = {1, 3, 1000, 1800, seismic::to_json(p)};
    for (int i = 0; i < 800; ++i) s.ids.push_back("doc-" + std::to_string(1000 + i));
    s.sparse = seismic::SeismicIndex::build(docs, p);
    return s;
}

std::string bytes_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

TEST(ShardFile, RoundTripIsBitIdenticalAndSearchesTheSame) {
    test::ScratchDir dir;
    const auto shard = make_shard(5);
    const auto a = dir.file("a.h5");
    const auto checksum = write_shard(a, shard);
    EXPECT_FALSE(std::filesystem::exists(a + ".tmp"));
    const auto loaded = read_shard(a);
    EXPECT_EQ(loaded.checksum, checksum);
    EXPECT_EQ(loaded.ids, shard.ids);
    EXPECT_EQ(loaded.meta.doc_begin, 1000U);
    ASSERT_TRUE(loaded.sparse.has_value());
    const auto& x = shard.sparse->arrays();
    const auto& y = loaded.sparse->arrays();
    EXPECT_EQ(x.postings, y.postings);
    EXPECT_EQ(x.entry_component16, y.entry_component16);
    EXPECT_EQ(x.entry_code, y.entry_code);
    EXPECT_EQ(x.neighbours, y.neighbours);
    EXPECT_EQ(shard.sparse->forward().packed(), loaded.sparse->forward().packed());
    // Writing the loaded shard again gives the same bytes: no timestamps, deterministic layout.
    const auto b = dir.file("b.h5");
    write_shard(b, loaded);
    EXPECT_EQ(bytes_of(a), bytes_of(b));
    const auto queries = docs_for_test(30);
    seismic::SearchParams sp;
    sp.knn = 5;
    EXPECT_EQ(shard.sparse->search_batch(queries, sp, 1), loaded.sparse->search_batch(queries, sp, 1));
}

std::string load_error(const std::string& path) {
    try {
        (void)read_shard(path);
    } catch (const InputError& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(ShardFile, CorruptTruncatedAndForeignFilesAreRefused) {
    test::ScratchDir dir;
    const auto good = dir.file("good.h5");
    write_shard(good, make_shard(0));
    const auto size = std::filesystem::file_size(good);
    // Flip bytes spread over the file. A flip is either refused, or it hit bytes that hold no content
    // (HDF5 free space or padding) and the shard loads identical: never a silently different index.
    // (Index directories also check each file's SHA-256 against the manifest, which catches every flip.)
    const auto original = read_shard(good);
    int refused = 0;
    for (int i = 1; i <= 40; ++i) {
        const auto bad = dir.file("flip.h5");
        std::filesystem::copy_file(good, bad, std::filesystem::copy_options::overwrite_existing);
        std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
        const auto pos = static_cast<std::streamoff>(size * static_cast<std::uintmax_t>(i) / 41);
        f.seekg(pos);
        char c = 0;
        f.read(&c, 1);
        c = static_cast<char>(c ^ 0x5A);
        f.seekp(pos);
        f.write(&c, 1);
        f.close();
        try {
            const auto loaded = read_shard(bad);
            EXPECT_EQ(loaded.checksum, original.checksum) << "flip at " << pos;
            EXPECT_EQ(loaded.ids, original.ids) << "flip at " << pos;
            EXPECT_EQ(loaded.sparse->arrays().postings, original.sparse->arrays().postings) << "flip at " << pos;
            EXPECT_EQ(loaded.sparse->forward().packed(), original.sparse->forward().packed()) << "flip at " << pos;
        } catch (const InputError& e) {
            EXPECT_THAT(std::string(e.what()), HasSubstr("flip.h5"));
            ++refused;
        }
    }
    EXPECT_GE(refused, 30) << "most of a shard file is content";
    const auto cut = dir.file("cut.h5");
    std::filesystem::copy_file(good, cut);
    std::filesystem::resize_file(cut, size / 2);
    EXPECT_THAT(load_error(cut), HasSubstr("cut.h5"));
    {
        const auto old = dir.file("old.h5");
        std::filesystem::copy_file(good, old);
        h5::File f(old, h5::File::Mode::read_write);
        f.write_attr("/", "format_version", std::uint64_t{99});
    }
    EXPECT_THAT(load_error(dir.file("old.h5")), HasSubstr("format version 99 is not supported"));
    {
        // doc_end - doc_begin + 1 wraps to 0: an empty /ids/offsets must be refused, not dereferenced.
        const auto wrap = dir.file("wrap.h5");
        std::filesystem::copy_file(good, wrap);
        h5::File f(wrap, h5::File::Mode::read_write);
        f.write_attr("/", "doc_begin", std::uint64_t{0});
        f.write_attr("/", "doc_end", ~std::uint64_t{0});
        f.write<std::uint64_t>("/ids/offsets", std::vector<std::uint64_t>{});
    }
    EXPECT_THAT(load_error(dir.file("wrap.h5")), HasSubstr("id offsets for"));
    EXPECT_THAT(load_error(dir.file("missing.h5")), HasSubstr("cannot open HDF5 file"));
}

}  // namespace
}  // namespace aftershock
