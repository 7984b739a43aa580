// Shard files: bit-identical save/load round trips, and refusal of corrupt, truncated or foreign files.
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/shard_file.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
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
    EXPECT_EQ(x.entry_step, y.entry_step);
    EXPECT_EQ(x.entry_word, y.entry_word);
    EXPECT_EQ(x.code_bits, y.code_bits);
    EXPECT_EQ(x.neighbours, y.neighbours);
    EXPECT_EQ(shard.sparse->forward().packed(), loaded.sparse->forward().packed());
    EXPECT_TRUE(loaded.sparse->forward().heaviest_first()) << "the entry order survives, so screening stays on";
    // Writing the loaded shard again gives the same bytes: no timestamps, deterministic layout.
    const auto b = dir.file("b.h5");
    write_shard(b, loaded);
    EXPECT_EQ(test::file_bytes(a), test::file_bytes(b));
    const auto queries = docs_for_test(30);
    seismic::SearchParams sp;
    sp.knn = 5;
    EXPECT_EQ(shard.sparse->search_batch(queries, sp, 1), loaded.sparse->search_batch(queries, sp, 1));
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
        const auto pos = size * static_cast<std::uintmax_t>(i) / 41;
        test::flip_byte(bad, pos);
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
    EXPECT_THAT(test::shard_load_error(cut), HasSubstr("cut.h5"));
    {
        const auto old = dir.file("old.h5");
        std::filesystem::copy_file(good, old);
        h5::File f(old, h5::File::Mode::read_write);
        f.write_attr("/", "format_version", std::uint64_t{99});
    }
    EXPECT_THAT(test::shard_load_error(dir.file("old.h5")), HasSubstr("format version 99 is not supported"));
    {
        // doc_end - doc_begin + 1 wraps to 0: an empty /ids/offsets must be refused, not dereferenced.
        const auto wrap = dir.file("wrap.h5");
        std::filesystem::copy_file(good, wrap);
        h5::File f(wrap, h5::File::Mode::read_write);
        f.write_attr("/", "doc_begin", std::uint64_t{0});
        f.write_attr("/", "doc_end", ~std::uint64_t{0});
        f.write<std::uint64_t>("/ids/offsets", std::vector<std::uint64_t>{});
    }
    EXPECT_THAT(test::shard_load_error(dir.file("wrap.h5")), HasSubstr("id offsets for"));
    EXPECT_THAT(test::shard_load_error(dir.file("missing.h5")), HasSubstr("cannot open HDF5 file"));
}

/// The stored bytes of a fixed-length string attribute are inside its object header; the type must not be
/// variable-length (that would put them in the global heap, which HDF5 1.10 reads unchecked).
bool is_variable_length(const std::string& path, const char* object, const char* name) {
    const h5::File f(path, h5::File::Mode::read);
    h5::Handle attr(H5Aopen_by_name(f.id(), object, name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    h5::Handle type(H5Aget_type(attr.get()), H5Tclose);
    return H5Tis_variable_str(type.get()) > 0;
}

TEST(ShardFile, StringAttributesAreFixedLengthAndFlipsInThemAreRefused) {
    test::ScratchDir dir;
    const auto good = dir.file("good.h5");
    write_shard(good, make_shard(0));
    const auto original = read_shard(good);
    for (const auto* name : {"format", "build_params", "checksum"}) EXPECT_FALSE(is_variable_length(good, "/", name)) << name;
    const auto bytes = test::file_bytes(good);
    // Each string attribute's value, and the 48 bytes before it (the rest of its attribute message: name, datatype
    // with the string length, dataspace): a flip there must be refused, or (outside the checked header) change nothing.
    int flips = 0;
    for (const auto& value : {std::string("aftershock-shard"), original.checksum, original.meta.build_params}) {
        const auto at = bytes.find(value);
        ASSERT_NE(at, std::string::npos) << value;
        for (auto pos = at - std::min<std::size_t>(at, 48); pos < at + value.size(); pos += (pos < at ? 1 : 3)) {
            const auto bad = dir.file("flip.h5");
            std::filesystem::copy_file(good, bad, std::filesystem::copy_options::overwrite_existing);
            test::flip_byte(bad, pos);
            ++flips;
            try {
                const auto loaded = read_shard(bad);
                ADD_FAILURE() << "a flip at byte " << pos << " (attribute value '" << value.substr(0, 20) << "' at " << at
                              << ") was not refused";
                EXPECT_EQ(loaded.checksum, original.checksum);
            } catch (const InputError& e) {
                EXPECT_THAT(std::string(e.what()), HasSubstr("flip.h5"));
            }
        }
    }
    EXPECT_GT(flips, 100);
    {
        // Version 2 wrote variable-length string attributes: refused with the reason, not parsed.
        const auto v2 = dir.file("v2.h5");
        std::filesystem::copy_file(good, v2);
        h5::File(v2, h5::File::Mode::read_write).write_attr("/", "format_version", std::uint64_t{2});
        EXPECT_THAT(test::shard_load_error(v2), HasSubstr("format version 2 is no longer read: its string attributes are variable-length"));
    }
    {
        // A variable-length attribute in a version 3 file (forged or corrupt) is refused before HDF5 follows it.
        const auto vlen = dir.file("vlen.h5");
        std::filesystem::copy_file(good, vlen);
        const h5::File f(vlen, h5::File::Mode::read_write);
        H5Adelete_by_name(f.id(), "/", "checksum", H5P_DEFAULT);
        h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), H5T_VARIABLE);
        h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
        h5::Handle attr(H5Acreate_by_name(f.id(), "/", "checksum", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose);
        const char* value = original.checksum.c_str();
        ASSERT_GE(H5Awrite(attr.get(), type.get(), &value), 0);
    }
    EXPECT_THAT(test::shard_load_error(dir.file("vlen.h5")), HasSubstr("attribute 'checksum' is a variable-length string where a fixed-length"));
}

}  // namespace
}  // namespace aftershock
