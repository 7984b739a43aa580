// Vetting HDF5 files in a child process (common/src/hdf5_vet.cpp, common/tools/h5vet_main.cpp) and the checksummed
// file format of shards (h5::File::Mode::read_checksummed).
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/hdf5_vet.hpp"
#include "aftershock/common/shard_file.hpp"

#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace aftershock {
namespace {

using ::testing::HasSubstr;

/// Inputs found by fuzz_corpus that crash or hang HDF5 1.10.8 itself (committed as fuzz regression seeds).
std::string hdf5_crasher(const std::string& name) {
    return (std::filesystem::path(AFTERSHOCK_SOURCE_DIR) / "tests/fuzz/corpus/fuzz_corpus" / name).string();
}

/// Sets an environment variable for one test and restores its absence after.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : m_name(name) { ::setenv(name, value.c_str(), 1); }
    ~ScopedEnv() { ::unsetenv(m_name); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* m_name;
};

Corpus tiny_corpus() {
    Corpus c;
    CsrMatrix docs;
    docs.dim = 8;
    docs.append_row(std::vector<std::uint32_t>{1, 5}, std::vector<float>{0.5F, 2.0F});
    docs.append_row(std::vector<std::uint32_t>{7}, std::vector<float>{1.25F});
    c.doc_sparse = docs;
    c.doc_ids = {"x", "y"};
    return c;
}

/// A stand-in for aftershock-h5vet: a shell script with the given body.
std::string fake_vet(const test::ScratchDir& dir, const std::string& body) {
    const auto path = dir.file("fake-vet.sh");
    test::write_text(path, "#!/bin/sh\n" + body + "\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
}

TEST(Hdf5Vet, GoodFilesAreReadAndEveryOpenOfAFreshFileIsVetted) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_corpus(path, tiny_corpus());
    const auto before = h5::vet_processes_started();
    const auto c = read_corpus(path);
    EXPECT_EQ(c.doc_sparse->n_rows(), 2U);
    EXPECT_EQ(c.doc_sparse->data, (std::vector<float>{0.5F, 2.0F, 1.25F}));
    (void)read_corpus(path);
    EXPECT_EQ(h5::vet_processes_started() - before, 1U) << "the same bytes are vetted once";
    auto changed = tiny_corpus();
    changed.doc_ids = {"fresh", "bytes"};
    write_corpus(path, changed);
    EXPECT_EQ(read_corpus(path).doc_ids, changed.doc_ids);
    EXPECT_EQ(h5::vet_processes_started() - before, 2U);
}

TEST(Hdf5Vet, ALargeSettledFileIsVettedOnceAndAgainAfterAChange) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    // Above the 16 MiB remembered by content: 3 x 700,000 documents of 1 nonzero.
    auto big = tiny_corpus();
    CsrMatrix docs;
    docs.dim = 8;
    for (int i = 0; i < 2'100'000; ++i) docs.append_row(std::vector<std::uint32_t>{static_cast<std::uint32_t>(i % 8)}, std::vector<float>{1.0F});
    big.doc_sparse = docs;
    big.doc_ids.clear();
    write_corpus(path, big);
    ASSERT_GT(std::filesystem::file_size(path), std::uintmax_t{16} << 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    const auto before = h5::vet_processes_started();
    (void)read_corpus(path);
    (void)read_corpus(path);
    (void)h5::File(path, h5::File::Mode::read).shape("/docs/sparse/data");
    EXPECT_EQ(h5::vet_processes_started() - before, 1U);
    big.doc_sparse->data[0] = 2.0F;
    write_corpus(path, big);  // same size, new contents: must be vetted again
    EXPECT_EQ(read_corpus(path).doc_sparse->data[0], 2.0F);
    EXPECT_EQ(h5::vet_processes_started() - before, 2U);
}

TEST(Hdf5Vet, AFileThatCrashesHdf5IsRefusedAndThisProcessLives) {
    test::ScratchDir dir;
    // HDF5 divides by zero in H5D__chunk_set_info while opening a dataset with a forged chunk shape.
    const auto path = dir.file("div0.h5");
    std::filesystem::copy_file(hdf5_crasher("regress_hdf5_div_by_zero.h5"), path);
    const auto error = test::input_error_of([&] { (void)read_corpus(path); });
    EXPECT_THAT(error, HasSubstr("div0.h5: refused: corrupt HDF5 metadata"));
    EXPECT_THAT(error, HasSubstr("separate checking process"));
    // Refused again on the next open, from memory: a refusal is never remembered as a pass.
    const auto before = h5::vet_processes_started();
    EXPECT_THAT(test::input_error_of([&] { (void)h5::File(path, h5::File::Mode::read); }), HasSubstr("div0.h5: refused: corrupt"));
    EXPECT_EQ(h5::vet_processes_started(), before);
}

TEST(Hdf5Vet, AFileThatMakesHdf5LoopIsRefusedAtTheTimeLimit) {
    test::ScratchDir dir;
    // A global heap collection whose free-space object has size 0: HDF5 walks it forever reading a vlen attribute.
    const auto path = dir.file("loop.h5");
    std::filesystem::copy_file(hdf5_crasher("regress_hdf5_heap_loop.h5"), path);
    const ScopedEnv limit("AFTERSHOCK_H5VET_TIMEOUT_S", "1.5");
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(test::input_error_of([&] { (void)read_corpus(path); }),
                HasSubstr("loop.h5: refused: HDF5 did not finish reading the file's metadata within 1.5 s"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Hdf5Vet, ForgedSizesThatMakeHdf5AllocateGigabytesAreRefused) {
    test::ScratchDir dir;
    const auto path = dir.file("huge.h5");
    std::filesystem::copy_file(hdf5_crasher("regress_hdf5_huge_alloc.h5"), path);
    EXPECT_THAT(test::input_error_of([&] { (void)read_corpus(path); }), HasSubstr("ask for more memory than the checking process allows"));
}

TEST(Hdf5Vet, HowTheCheckingProcessEndsDecides) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    // Outcomes are remembered by content: each case gets bytes no other test writes.
    int case_number = 0;
    const auto fresh = [&] {
        auto c = tiny_corpus();
        c.doc_ids = {"how-the-checking-process-ends", std::to_string(++case_number)};
        write_corpus(path, c);
        return c.doc_ids;
    };
    fresh();
    {
        const ScopedEnv vet("AFTERSHOCK_H5VET", fake_vet(dir, "kill -SEGV $$"));
        EXPECT_THAT(test::input_error_of([&] { (void)read_corpus(path); }), HasSubstr("killed by signal 11"));
    }
    fresh();
    {
        const ScopedEnv vet("AFTERSHOCK_H5VET", fake_vet(dir, "exit 1"));  // a sanitizer's report
        EXPECT_THAT(test::input_error_of([&] { (void)read_corpus(path); }), HasSubstr("exit status 1"));
    }
    {
        // HDF5 reported an error but the walk ended: the reader's own checks decide (here: a good file, read).
        const auto ids = fresh();
        const ScopedEnv vet("AFTERSHOCK_H5VET", fake_vet(dir, "exit 2"));
        EXPECT_EQ(read_corpus(path).doc_ids, ids);
    }
    fresh();
    {
        const ScopedEnv vet("AFTERSHOCK_H5VET", fake_vet(dir, "sleep 30"));
        const ScopedEnv limit("AFTERSHOCK_H5VET_TIMEOUT_S", "0.2");
        EXPECT_THAT(test::input_error_of([&] { (void)read_corpus(path); }), HasSubstr("within 0.2 s"));
    }
    EXPECT_EQ(read_corpus(path).doc_ids.size(), 2U) << "a time-out (a loaded machine?) is not remembered";
    fresh();
    {
        const ScopedEnv vet("AFTERSHOCK_H5VET", dir.file("no-such-vet"));
        try {
            (void)read_corpus(path);
            ADD_FAILURE() << "opened without a vetting binary";
        } catch (const InputError& e) {
            ADD_FAILURE() << "a missing vetting binary is not bad input: " << e.what();
        } catch (const Error& e) {
            EXPECT_THAT(std::string(e.what()), HasSubstr("no-such-vet is not an executable"));
        }
    }
    fresh();
    {
        const ScopedEnv limit("AFTERSHOCK_H5VET_TIMEOUT_S", "soon");
        EXPECT_THROW((void)read_corpus(path), UsageError);
    }
}

TEST(Hdf5Vet, AFileReplacedWhileItIsVettedIsRefusedNotReadUnvetted) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    const auto swap_in = dir.file("other.h5");
    auto vetted = tiny_corpus();
    vetted.doc_ids = {"the-file-vetted", "is-replaced"};
    write_corpus(path, vetted);
    auto other = tiny_corpus();
    other.doc_ids = {"renamed-over-it", "while-it-was-vetted"};
    write_corpus(swap_in, other);
    const auto real_vet = (std::filesystem::path(AFTERSHOCK_CLI).parent_path() / "aftershock-h5vet").string();
    {
        // The stand-in walks what it was given for real, then renames another file over the path before it exits.
        // Before one descriptor was pinned for the vet and the open, HDF5 then read the replacement, which no vet saw.
        const ScopedEnv vet("AFTERSHOCK_H5VET", fake_vet(dir, "'" + real_vet + "' \"$1\" && mv -f '" + swap_in + "' '" + path + "'"));
        EXPECT_THAT(test::input_error_of([&] { (void)read_corpus(path); }), HasSubstr("replaced or removed while being opened"));
        ASSERT_FALSE(std::filesystem::exists(swap_in)) << "the stand-in did not run";
    }
    const auto before = h5::vet_processes_started();
    EXPECT_EQ(read_corpus(path).doc_ids, other.doc_ids) << "opened again: the replacement";
    EXPECT_EQ(h5::vet_processes_started() - before, 1U) << "the replacement is vetted before it is read";
}

TEST(Hdf5Vet, TheWalkItselfEndsCleanlyOnGoodFilesAndDiesOnACrasher) {
    test::ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_corpus(path, tiny_corpus());
    const auto vet = (std::filesystem::path(AFTERSHOCK_CLI).parent_path() / "aftershock-h5vet").string();
    EXPECT_EQ(std::system((vet + " " + path).c_str()), 0);
    EXPECT_NE(std::system((vet + " " + hdf5_crasher("regress_hdf5_div_by_zero.h5") + " 2>/dev/null").c_str()), 0);
    EXPECT_NE(std::system((vet + " 2>/dev/null").c_str()), 0) << "usage error without a file";
}

TEST(ChecksummedFiles, ShardsUseTheChecksummedFormatAndOlderSuperblocksAreRefused) {
    test::ScratchDir dir;
    Shard s;
    s.meta.doc_end = 1;
    s.ids = {"only"};
    const auto shard = dir.file("shard.h5");
    (void)write_shard(shard, s);
    EXPECT_EQ(static_cast<unsigned char>(test::file_bytes(shard).at(8)), 3) << "superblock version";
    EXPECT_EQ(read_shard(shard).ids, s.ids);
    // A file in the pre-1.10 format (superblock 0, as shards of format version 3 and earlier were written).
    const auto old = dir.file("old.h5");
    {
        h5::File f(old, h5::File::Mode::truncate);
        f.write_attr("/", "format", std::string("aftershock-shard"));
    }
    EXPECT_THAT(test::shard_load_error(old), HasSubstr("old.h5: HDF5 superblock version 0 has no checksums"));
    const auto text = dir.file("text.h5");
    test::write_text(text, "not an HDF5 file at all");
    EXPECT_THAT(test::shard_load_error(text), HasSubstr("no HDF5 signature"));
    // A flipped byte in the superblock or an object header fails HDF5's checksum: a clean refusal.
    const auto flipped = dir.file("flipped.h5");
    std::filesystem::copy_file(shard, flipped);
    test::flip_byte(flipped, 30);  // inside the superblock's root object header address
    EXPECT_THAT(test::shard_load_error(flipped), HasSubstr("flipped.h5"));
}

}  // namespace
}  // namespace aftershock
