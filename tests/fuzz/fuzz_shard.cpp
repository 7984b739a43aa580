// libFuzzer target: the shard reader (common/src/shard_file.cpp) on arbitrary HDF5 bytes. read_shard checks the
// format, every array and the content checksum before the FAISS bytes are parsed; bad files must throw
// aftershock::Error. Shards use the checksummed HDF5 1.10 format (h5::File::Mode::read_checksummed): a mutated byte
// of metadata must be refused by HDF5's checksums, one of data by our checks.
#include "aftershock/common/error.hpp"
#include "aftershock/common/shard_file.hpp"

#include "fuzz_support.hpp"

using namespace aftershock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = fuzz::write_input("shard-00000.h5", data, size);
    try {
        (void)read_shard(path);
    } catch (const Error& e) {
        fuzz::note(e);
    }
    return 0;
}
