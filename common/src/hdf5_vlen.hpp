#pragma once
// Variable-length strings read from the file's bytes, checked, without HDF5 following them (h5::File::read_strings).
//
// HDF5 1.10 trusts the global heap: a vlen string is stored as (length, heap collection address, object index)
// and H5Dread follows that reference into a "GCOL" collection whose object table it walks without bounds
// checks. A corrupt collection makes it loop forever (a free-space object of size 0) or copy from a null or
// out-of-range pointer (an index that is not in the collection, an object larger than the string it backs):
// both were found by the fuzz targets (docs/BENCHMARKS.md, "Fuzzing"), and so were crashes in the raw-data path
// before the conversion (a corrupt end-of-allocation, a chunk layout whose element size disagrees with the
// datatype). So the strings are read here: the raw references and the collections they point to with plain
// pread, each collection walked as HDF5 would, every non-empty string required to name an object of exactly its
// length, and the string taken from those checked bytes. HDF5 parses the metadata (dataset, layout, chunk index);
// it never converts the strings.
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aftershock::h5::detail {

/// Throws InputError (naming `where`) unless [addr, addr + bytes) lies below the end of allocation (EOA) of the file
/// that holds `obj`. HDF5 1.10 reads raw data through its sieve buffer only up to the EOA and then copies the whole
/// request out of that buffer: with a corrupt superblock (an end-of-file or base address that moves the EOA below
/// the data) the rest of the rows come from whatever the buffer held before (fuzz_corpus: a heap object index read
/// as 0, then a 4 KiB copy past a heap collection).
void check_below_eoa(hid_t obj, std::uint64_t addr, std::uint64_t bytes, const std::string& where);

/// Rows [begin, end) of the 1-D vlen string dataset `ds` of the file `file` (opened from `path`); throws InputError
/// (naming `where`) for anything corrupt. Contiguous and unfiltered chunked layouts are read; compact, filtered
/// (compressed) or virtual vlen datasets are refused, since their raw references cannot be reached without HDF5
/// following them. Rows never written read as empty strings. nullopt for a file held in memory (the core driver:
/// only this process's own writes), which HDF5 reads itself.
std::optional<std::vector<std::string>> read_vlen_strings(hid_t file, const std::string& path, hid_t ds, std::uint64_t begin,
                                                          std::uint64_t end, const std::string& where);

}  // namespace aftershock::h5::detail
