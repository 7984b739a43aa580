// Corpus file round trips and the reader's bad-input catalogue: every malformed file is refused with a
// one-line message naming the dataset and, where it applies, the row.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace aftershock {
namespace {

using ::testing::HasSubstr;

Corpus small_corpus() {
    Corpus c;
    CsrMatrix docs;
    docs.dim = 10;
    docs.append_row(std::vector<std::uint32_t>{1, 4, 9}, std::vector<float>{0.5F, 1.5F, 2.0F});
    docs.append_row(std::vector<std::uint32_t>{}, std::vector<float>{});  // empty document
    docs.append_row(std::vector<std::uint32_t>{0, 4}, std::vector<float>{3.0F, 0.25F});
    CsrMatrix queries;
    queries.dim = 10;
    queries.append_row(std::vector<std::uint32_t>{4, 9}, std::vector<float>{1.0F, 1.0F});
    c.doc_sparse = docs;
    c.query_sparse = queries;
    DenseMatrix dense;
    dense.n = 3;
    dense.d = 2;
    dense.data = {1, 0, 0, 1, 0.5F, 0.5F};
    dense.metric = Metric::cosine;
    c.doc_dense = dense;
    DenseMatrix qdense;
    qdense.n = 1;
    qdense.d = 2;
    qdense.data = {1, 1};
    qdense.metric = Metric::cosine;
    c.query_dense = qdense;
    c.doc_ids = {"a", "b", "c"};
    c.query_ids = {"q1"};
    for (int i = 0; i < 10; ++i) c.vocab.push_back("t" + std::to_string(i));
    return c;
}

TEST(CorpusIo, RoundTripKeepsEveryPart) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    const auto c = small_corpus();
    write_corpus(path, c);
    const auto r = read_corpus(path);
    ASSERT_TRUE(r.doc_sparse && r.query_sparse && r.doc_dense && r.query_dense);
    EXPECT_EQ(r.doc_sparse->indptr, c.doc_sparse->indptr);
    EXPECT_EQ(r.doc_sparse->indices, c.doc_sparse->indices);
    EXPECT_EQ(r.doc_sparse->data, c.doc_sparse->data);
    EXPECT_EQ(r.doc_sparse->dim, 10U);
    EXPECT_EQ(r.query_sparse->indices, c.query_sparse->indices);
    EXPECT_EQ(r.doc_dense->data, c.doc_dense->data);
    EXPECT_EQ(r.doc_dense->metric, Metric::cosine);
    EXPECT_EQ(r.doc_ids, c.doc_ids);
    EXPECT_EQ(r.query_ids, c.query_ids);
    EXPECT_EQ(r.vocab, c.vocab);
    const auto info = describe_corpus(path);
    EXPECT_EQ(info.n_docs, 3U);
    EXPECT_EQ(info.doc_nnz, 5U);
    EXPECT_EQ(info.dense_dim, 2U);
}

TEST(CorpusIo, StreamingWriterAndRowRanges) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    CsrMatrix all;
    all.dim = 1000;
    {
        h5::File f(path, h5::File::Mode::truncate);
        SparseRowWriter w(f, Side::docs);
        for (int block = 0; block < 5; ++block) {
            CsrMatrix b;
            for (int r = 0; r < 7; ++r) {
                std::vector<std::uint32_t> idx;
                std::vector<float> val;
                for (int j = 0; j <= (block + r) % 4; ++j) {
                    idx.push_back(static_cast<std::uint32_t>(block * 100 + r * 10 + j));
                    val.push_back(static_cast<float>(j + 1));
                }
                b.append_row(idx, val);
                all.append_row(idx, val);
            }
            w.append(b);
        }
        w.finish(1000);
    }
    const h5::File f(path, h5::File::Mode::read);
    const auto middle = read_sparse_rows(f, Side::docs, 9, 23);
    ASSERT_EQ(middle.n_rows(), 14U);
    for (std::size_t r = 0; r < 14; ++r) {
        const auto got = middle.row(r);
        const auto want = all.row(9 + r);
        EXPECT_TRUE(std::equal(got.indices.begin(), got.indices.end(), want.indices.begin(), want.indices.end()));
        EXPECT_TRUE(std::equal(got.values.begin(), got.values.end(), want.values.begin(), want.values.end()));
    }
    EXPECT_EQ(describe_corpus(f).n_docs, 35U);
}

TEST(CorpusIo, IntegerIdsAreReadAsStrings) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_corpus(path, small_corpus());
    {
        h5::File f(path, h5::File::Mode::read_write);
        const std::vector<std::uint64_t> ids{7, 8, 900};
        f.write<std::uint64_t>("/docs/ids", ids);
    }
    EXPECT_EQ(read_corpus(path).doc_ids, (std::vector<std::string>{"7", "8", "900"}));
}

TEST(CorpusIo, GroundTruthRoundTrip) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_corpus(path, small_corpus());
    GroundTruth gt{1, 2, {2, 0}, {3.5F, 2.0F}};
    {
        h5::File f(path, h5::File::Mode::read_write);
        write_groundtruth(f, "sparse", gt);
    }
    const h5::File f(path, h5::File::Mode::read);
    const auto r = read_groundtruth(f, "sparse");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->neighbors, gt.neighbors);
    EXPECT_EQ(r->distances, gt.distances);
    EXPECT_FALSE(read_groundtruth(f, "dense").has_value());
}

// ---- bad-input catalogue -------------------------------------------------------------------------

struct CorpusBadCase {
    const char* name;
    std::function<void(h5::File&)> corrupt;
    const char* expected;  ///< substring of the one-line error
};

std::string read_error(const std::string& path) {
    try {
        (void)read_corpus(path);
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line error: " << msg;
        return msg;
    }
    return "<no error>";
}

template <typename T> void overwrite(h5::File& f, const std::string& ds, std::vector<T> values) {
    f.write<T>(ds, values);
}

TEST(CorpusIo, BadInputCatalogue) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<CorpusBadCase> cases = {
        {"non-monotone indptr", [](h5::File& f) { overwrite<std::uint64_t>(f, "/docs/sparse/indptr", {0, 3, 2, 5}); },
         "/docs/sparse/indptr row 1: not monotone"},
        {"indptr not starting at 0", [](h5::File& f) { overwrite<std::uint64_t>(f, "/docs/sparse/indptr", {1, 3, 3, 5}); },
         "/docs/sparse/indptr row 0"},
        {"indptr end != nnz", [](h5::File& f) { overwrite<std::uint64_t>(f, "/docs/sparse/indptr", {0, 3, 3, 4}); },
         "does not match nnz 5"},
        {"index >= dim", [](h5::File& f) { overwrite<std::uint32_t>(f, "/docs/sparse/indices", {1, 4, 10, 0, 4}); },
         "/docs/sparse/indices row 0: index 10 >= dim 10"},
        {"unsorted indices", [](h5::File& f) { overwrite<std::uint32_t>(f, "/docs/sparse/indices", {1, 4, 9, 4, 0}); },
         "/docs/sparse/indices row 2: indices not strictly ascending"},
        {"duplicate indices", [](h5::File& f) { overwrite<std::uint32_t>(f, "/docs/sparse/indices", {1, 1, 9, 0, 4}); },
         "/docs/sparse/indices row 0: indices not strictly ascending"},
        {"negative signed index", [](h5::File& f) { overwrite<std::int64_t>(f, "/docs/sparse/indices", {1, 4, 9, -3, 4}); },
         "/docs/sparse/indices row 3: value -3 out of range"},
        {"NaN value", [nan](h5::File& f) { overwrite<float>(f, "/docs/sparse/data", {0.5F, 1.5F, 2.0F, nan, 0.25F}); },
         "/docs/sparse/data row 2: non-finite value"},
        {"Inf value", [inf](h5::File& f) { overwrite<float>(f, "/docs/sparse/data", {0.5F, inf, 2.0F, 3.0F, 0.25F}); },
         "/docs/sparse/data row 0: non-finite value"},
        {"zero value", [](h5::File& f) { overwrite<float>(f, "/docs/sparse/data", {0.5F, 1.5F, 2.0F, 3.0F, 0.0F}); },
         "/docs/sparse/data row 2: value 0 at index 4 is not > 0"},
        {"negative value", [](h5::File& f) { overwrite<float>(f, "/docs/sparse/data", {-0.5F, 1.5F, 2.0F, 3.0F, 1.0F}); },
         "/docs/sparse/data row 0: value -0.5"},
        {"indices/data shape mismatch", [](h5::File& f) { overwrite<float>(f, "/docs/sparse/data", {0.5F, 1.5F, 2.0F, 3.0F}); },
         "/docs/sparse: shape mismatch: indices has 5 entries, data has 4"},
        {"missing data dataset", [](h5::File& f) { f.remove("/docs/sparse/data"); }, "/docs/sparse/data: dataset missing"},
        {"missing dim attribute", [](h5::File& f) { H5Adelete_by_name(f.id(), "/docs/sparse", "dim", H5P_DEFAULT); },
         "/docs/sparse: attribute 'dim' missing"},
        {"ids count mismatch", [](h5::File& f) { f.write_strings("/docs/ids", {"a", "b"}); },
         "/docs/ids: shape mismatch: 2 ids for 3 rows"},
        {"dense rows != sparse rows", [](h5::File& f) { f.write<float>("/docs/dense", std::vector<float>{1, 0, 0, 1}, {2, 2}); },
         "/docs/dense: shape mismatch: 2 rows but /docs/sparse has 3"},
        {"dense NaN", [nan](h5::File& f) { f.write<float>("/docs/dense", std::vector<float>{1, 0, nan, 1, 0, 0}, {3, 2}); },
         "/docs/dense row 1: non-finite value"},
        {"query dense dimension", [](h5::File& f) { f.write<float>("/queries/dense", std::vector<float>{1, 0, 0}, {1, 3}); },
         "/queries/dense: shape mismatch: dimension 3"},
        {"query sparse dim > doc dim", [](h5::File& f) { f.write_attr("/queries/sparse", "dim", std::uint64_t{50}); },
         "/queries/sparse: dim 50 exceeds the documents' dim 10"},
        {"query index >= dim", [](h5::File& f) { overwrite<std::uint32_t>(f, "/queries/sparse/indices", {4, 12}); },
         "/queries/sparse/indices row 0: index 12 >= dim 10"},
        {"vocab length", [](h5::File& f) { f.write_strings("/vocab", {"x"}); }, "/vocab: shape mismatch: 1 tokens for dim 10"},
        {"unknown metric", [](h5::File& f) { f.write_attr("/docs/dense", "metric", std::string("hamming")); },
         "unknown metric 'hamming'"},
        {"no documents", [](h5::File& f) { f.remove("/docs/sparse"); f.remove("/docs/dense"); f.remove("/queries"); },
         "no documents"},
        {"2-D indptr", [](h5::File& f) { f.write<std::uint64_t>("/docs/sparse/indptr", std::vector<std::uint64_t>{0, 3, 3, 5}, {2, 2}); },
         "indptr, indices and data must be 1-D"},
    };
    for (const auto& bad : cases) {
        SCOPED_TRACE(bad.name);
        test::ScratchDir dir;
        const auto path = dir.file("bad.h5");
        write_corpus(path, small_corpus());
        {
            h5::File f(path, h5::File::Mode::read_write);
            bad.corrupt(f);
        }
        const auto msg = read_error(path);
        EXPECT_THAT(msg, HasSubstr(bad.expected));
        EXPECT_THAT(msg, HasSubstr(path));
    }
}

TEST(CorpusIo, TruncatedMissingAndForeignFilesAreRefused) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_corpus(path, small_corpus());
    const auto full = std::filesystem::file_size(path);
    for (auto keep : {full / 2, full - 100, std::uintmax_t{10}}) {
        SCOPED_TRACE(keep);
        const auto cut = dir.file("cut.h5");
        std::filesystem::copy_file(path, cut, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::resize_file(cut, keep);
        EXPECT_THAT(read_error(cut), HasSubstr(cut));
    }
    EXPECT_THAT(read_error(dir.file("missing.h5")), HasSubstr("cannot open HDF5 file"));
    const auto text = dir.file("text.h5");
    std::ofstream(text) << "not an hdf5 file\n";
    EXPECT_THAT(read_error(text), HasSubstr("cannot open HDF5 file"));
}

// ---- variable-length strings (ids, vocab): corrupt global heaps are refused before HDF5 follows them ----

std::uint64_t little_endian(const std::string& bytes, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
    return v;
}

std::string little_endian_bytes(std::uint64_t v, std::size_t n) {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return out;
}

/// A global heap collection found in a file's bytes (8-byte lengths): its offset and size, the offsets of its
/// objects' 16-byte headers (index u16, references u16, reserved, size u64) and of the free-space object.
struct HeapCollection {
    std::size_t at = 0;
    std::uint64_t size = 0;
    std::vector<std::size_t> objects;
    std::size_t free_space = std::string::npos;
};

std::vector<HeapCollection> heap_collections(const std::string& bytes) {
    std::vector<HeapCollection> out;
    for (auto at = bytes.find("GCOL"); at != std::string::npos; at = bytes.find("GCOL", at + 4)) {
        HeapCollection c;
        c.at = at;
        c.size = little_endian(bytes, at + 8, 8);
        for (std::size_t p = at + 16; p + 16 <= at + c.size && p + 16 <= bytes.size();) {
            if (little_endian(bytes, p, 2) == 0) {
                c.free_space = p;
                break;
            }
            c.objects.push_back(p);
            p += 16 + (little_endian(bytes, p + 8, 8) + 7) / 8 * 8;
        }
        out.push_back(c);
    }
    return out;
}

TEST(CorpusIo, CorruptStringHeapsAreRefusedBeforeHdf5FollowsThem) {
    test::ScratchDir dir;
    const auto good = dir.file("good.h5");
    const auto corpus = small_corpus();
    write_corpus(good, corpus);
    const auto bytes = test::file_bytes(good);
    const auto heaps = heap_collections(bytes);
    ASSERT_FALSE(heaps.empty());
    const auto& heap = heaps.front();
    ASSERT_GE(heap.objects.size(), 3U);
    ASSERT_NE(heap.free_space, std::string::npos);
    const auto corrupt = [&](const std::string& name, std::size_t at, const std::string& with) {
        const auto path = dir.file(name);
        std::filesystem::copy_file(good, path, std::filesystem::copy_options::overwrite_existing);
        test::poke_bytes(path, at, with);
        return path;
    };
    const struct {
        const char* name;
        std::size_t at;
        std::string with;
        const char* expected;
    } cases[] = {
        // HDF5 1.10 steps through a collection by each object's size: 0 never moves on (an endless loop in H5HG__protect).
        {"free-space-0.h5", heap.free_space + 8, little_endian_bytes(0, 8), "does not fit at offset"},
        // An index the collection does not hold: H5HG_read copies from a null pointer.
        {"index.h5", heap.objects[0], little_endian_bytes(0x7777, 2), "is not in the collection"},
        // An object larger than the string it backs: H5HG_read copies past the string's buffer.
        {"longer.h5", heap.objects[1] + 8, little_endian_bytes(little_endian(bytes, heap.objects[1] + 8, 8) + 8, 8), "corrupt file"},
        {"huge.h5", heap.at + 8, little_endian_bytes(std::uint64_t{1} << 40, 8), "past the end of the file"},
        {"signature.h5", heap.at, "GCOX", "no global heap collection"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto path = corrupt(c.name, c.at, c.with);
        const auto msg = read_error(path);
        EXPECT_THAT(msg, HasSubstr(c.expected));
        EXPECT_THAT(msg, HasSubstr(path));
    }
    // Every byte of the collection header and of each object header, flipped: refused, or the strings read the same.
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < 16; ++i) positions.push_back(heap.at + i);
    for (auto o : heap.objects) {
        for (std::size_t i = 0; i < 16; ++i) positions.push_back(o + i);
    }
    for (std::size_t i = 0; i < 16; ++i) positions.push_back(heap.free_space + i);
    int refused = 0;
    for (const auto pos : positions) {
        const auto path = dir.file("flip.h5");
        std::filesystem::copy_file(good, path, std::filesystem::copy_options::overwrite_existing);
        test::flip_byte(path, pos, 0xFF);
        try {
            const auto r = read_corpus(path);
            EXPECT_EQ(r.doc_ids, corpus.doc_ids) << "flip at " << pos;
            EXPECT_EQ(r.query_ids, corpus.query_ids) << "flip at " << pos;
            EXPECT_EQ(r.vocab, corpus.vocab) << "flip at " << pos;
        } catch (const InputError& e) {
            EXPECT_THAT(std::string(e.what()), HasSubstr("flip.h5"));
            ++refused;
        }
    }
    EXPECT_GE(refused, static_cast<int>(positions.size()) / 4) << "sizes, indices and the signature are most of a header";
}

/// A 1-D variable-length string dataset written with the HDF5 C API: contiguous (h5py's default) or chunked and
/// compressed.
void write_vlen_strings(const std::string& path, const std::vector<std::string>& values, bool compressed) {
    h5::File f(path, h5::File::Mode::truncate);
    h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    const hsize_t n = values.size();
    h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (compressed) {
        H5Pset_chunk(dcpl.get(), 1, &n);
        H5Pset_deflate(dcpl.get(), 6);
    }
    h5::Handle ds(H5Dcreate2(f.id(), "/strings", type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    ASSERT_GE(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), 0);
}

TEST(CorpusIo, VlenStringLayoutsAreCheckedOrRefused) {
    test::ScratchDir dir;
    const std::vector<std::string> values = {"alpha", "", "gamma", "a longer string with spaces", "\xce\xb1\xce\xb2"};
    const auto read = [](const std::string& path) { return h5::File(path, h5::File::Mode::read).read_strings("/strings"); };
    const auto contiguous = dir.file("contiguous.h5");
    write_vlen_strings(contiguous, values, false);
    EXPECT_EQ(read(contiguous), values);
    const auto heaps = heap_collections(test::file_bytes(contiguous));
    ASSERT_EQ(heaps.size(), 1U);
    test::poke_bytes(contiguous, heaps[0].free_space + 8, little_endian_bytes(0, 8));
    EXPECT_THAT(test::input_error_of([&] { (void)read(contiguous); }), HasSubstr("/strings: heap collection at"));
    const auto compressed = dir.file("compressed.h5");
    write_vlen_strings(compressed, values, true);
    EXPECT_THAT(test::input_error_of([&] { (void)read(compressed); }),
                HasSubstr("variable-length strings in a filtered (compressed) dataset cannot be checked"));
}

TEST(CorpusIo, FixedLengthStringsThatFillTheirWidthKeepEveryByte) {
    // h5py's fixed-length byte strings (dtype "S4") are null-padded, not null-terminated: "doc1" fills all 4 bytes.
    test::ScratchDir dir;
    const auto path = dir.file("fixed.h5");
    {
        h5::File f(path, h5::File::Mode::truncate);
        h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), 4);
        H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
        const hsize_t n = 3;
        h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
        h5::Handle ds(H5Dcreate2(f.id(), "/strings", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
        ASSERT_GE(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, "doc1ab\0\0xyzw"), 0);
    }
    EXPECT_EQ(h5::File(path, h5::File::Mode::read).read_strings("/strings"), (std::vector<std::string>{"doc1", "ab", "xyzw"}));
}

/// Raw data offset of `dataset` (contiguous layout) as HDF5 records it.
std::uint64_t dataset_offset(const std::string& path, const char* dataset) {
    const h5::File f(path, h5::File::Mode::read);
    h5::Handle ds(H5Dopen2(f.id(), dataset, H5P_DEFAULT), H5Dclose);
    return H5Dget_offset(ds.get());
}

// A superblock whose end-of-file address ends inside a dataset's rows (fuzz_corpus found it as a corrupt base
// address): HDF5 1.10 fills its sieve buffer only up to that address and copies the rest of the rows from whatever
// the buffer held, so a string's heap index read as 0 and H5HG_read copied 4 KiB past the heap collection. Refused
// before HDF5 reads: vlen strings and fixed-size data alike.
TEST(CorpusIo, AChunkIndexClaimingMoreBytesThanTheFileIsRefusedBeforeHdf5Reads) {
    // fuzz_corpus (session 3's saved input, found through session 5's re-check): /docs/sparse/data's chunk index claims
    // 4 GiB of stored chunks in a 19 KiB file; the per-chunk lookups see nothing wrong, and H5Dread allocated 4 GiB.
    test::ScratchDir dir;
    const auto path = dir.file("claims.h5");
    std::filesystem::copy_file(std::filesystem::path(AFTERSHOCK_SOURCE_DIR) / "tests/fuzz/corpus/fuzz_corpus/regress_storage_past_eoa.h5", path);
    const auto error = test::input_error_of([&] { (void)read_corpus(path); });
    EXPECT_THAT(error, HasSubstr("claims.h5:/docs/sparse/data (the bytes its chunks or data claim): data at byte 0 (+4294965344) lies "
                                 "past the file's end of allocation 19208"));
}

TEST(CorpusIo, DataPastTheEndOfAllocationIsRefused) {
    test::ScratchDir dir;
    const auto strings = dir.file("strings.h5");
    write_vlen_strings(strings, {"alpha", "beta", "gamma"}, false);
    const auto numbers = dir.file("numbers.h5");
    {
        h5::File f(numbers, h5::File::Mode::truncate);
        const std::vector<std::uint32_t> values{1, 2, 3, 4, 5, 6, 7, 8};
        f.write<std::uint32_t>("/numbers", values);
    }
    const struct {
        std::string path;
        const char* dataset;
    } cases[] = {{strings, "/strings"}, {numbers, "/numbers"}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.path);
        const auto bytes = test::file_bytes(c.path);
        ASSERT_EQ(bytes.compare(0, 8, "\x89HDF\r\n\x1a\n"), 0);
        ASSERT_EQ(bytes[8], 0) << "superblock version 0: the end-of-file address is at byte 40";
        const auto offset = dataset_offset(c.path, c.dataset);
        ASSERT_NE(offset, HADDR_UNDEF);
        const auto cut = dir.file("cut.h5");
        std::filesystem::copy_file(c.path, cut, std::filesystem::copy_options::overwrite_existing);
        test::poke_bytes(cut, 40, little_endian_bytes(offset + 4, 8));  // the first row ends past it
        const h5::File f(cut, h5::File::Mode::read);
        try {
            if (c.dataset == std::string("/strings")) {
                (void)f.read_strings(c.dataset);
            } else {
                (void)f.read<std::uint32_t>(c.dataset);
            }
            ADD_FAILURE() << "read past the end of allocation";
        } catch (const InputError& e) {
            EXPECT_THAT(std::string(e.what()), HasSubstr("end of allocation"));
            EXPECT_THAT(std::string(e.what()), HasSubstr("cut.h5"));
        }
    }
}

}  // namespace
}  // namespace aftershock
