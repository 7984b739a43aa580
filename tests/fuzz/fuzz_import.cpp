// libFuzzer target: one importer's parser (common/src/import), chosen at compile time by AFTERSHOCK_FUZZ_FORMAT
// (one binary per format: fuzz_import_jsonl, fuzz_import_tsv_tokens, ...). The input is written to a file and
// imported as the documents; the corpus goes to the scratch directory. Bad input must throw aftershock::Error
// (InputError naming the file and line/row) and leave no output behind.
#include "aftershock/common/error.hpp"
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/import/importers.hpp"

#include "fuzz_support.hpp"

#include <cstdlib>
#include <filesystem>

#ifndef AFTERSHOCK_FUZZ_FORMAT
#error "define AFTERSHOCK_FUZZ_FORMAT (an import format name)"
#endif

using namespace aftershock;

namespace {

// The text importer needs a WordPiece vocabulary; a small one keeps every run fast (the real one has 30k tokens).
const std::string& text_vocab() {
    static const std::string path = [] {
        const auto p = fuzz::scratch_file("vocab.txt");
        std::ofstream out(p);
        for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "of", "and", "in", "system",
                              "computer", "program", "##ing", "##ed", "flow", "wing", "boundary", "layer"}) {
            out << t << '\n';
        }
        for (char c = 'a'; c <= 'z'; ++c) out << c << '\n' << "##" << c << '\n';
        for (char c = '0'; c <= '9'; ++c) out << c << '\n' << "##" << c << '\n';
        return p;
    }();
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string format = AFTERSHOCK_FUZZ_FORMAT;
    ImportOptions opt;
    opt.format = format;
    opt.docs = fuzz::write_input(format == "ann-benchmarks" ? "docs.hdf5" : "docs.in", data, size);
    opt.out = fuzz::scratch_file("out.h5");
    opt.batch_rows = 4;  // several write batches even for small inputs
    if (format == "text") {
        opt.vocab = text_vocab();
        opt.skip_empty = true;
    }
    try {
        (void)import_corpus(opt);
        (void)read_corpus(opt.out);  // what an importer writes must read back as a valid corpus
    } catch (const Error& e) {
        fuzz::note(e);
        if (std::filesystem::exists(opt.out) || std::filesystem::exists(opt.out + ".tmp")) std::abort();
    }
    std::error_code ec;
    std::filesystem::remove(opt.out, ec);
    return 0;
}
