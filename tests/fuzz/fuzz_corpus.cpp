// libFuzzer target: the corpus reader (common/src/corpus.cpp over common/src/hdf5.cpp) on arbitrary HDF5 bytes.
// The input is written to a file in the scratch directory and read back as a corpus: structure, every part,
// the ground truth of both modes and the text vocabulary/statistics. Bad files must throw aftershock::Error.
// Every open first vets the file in a child process (common/src/hdf5_vet.cpp): inputs that crash, hang or exhaust
// HDF5 1.10.8 itself must come back as a refusal, and nothing HDF5 does afterwards in this process may crash.
#include "aftershock/common/error.hpp"
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/text/text_stats.hpp"

#include "fuzz_support.hpp"

using namespace aftershock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = fuzz::write_input("corpus.h5", data, size);
    try {
        (void)read_corpus(path);
    } catch (const Error& e) {
        fuzz::note(e);
    }
    try {
        const h5::File f(path, h5::File::Mode::read);
        (void)read_groundtruth(f, "sparse");
        (void)read_groundtruth(f, "dense");
        (void)text::read_text_vocab(f);
    } catch (const Error& e) {
        fuzz::note(e);
    }
    return 0;
}
