#pragma once
// Validation of variable-length strings before HDF5 reads them (used by h5::File::read_strings).
//
// HDF5 1.10 trusts the global heap: a vlen string is stored as (length, heap collection address, object index)
// and H5Dread follows that reference into a "GCOL" collection whose object table it walks without bounds
// checks. A corrupt collection makes it loop forever (a free-space object of size 0) or copy from a null or
// out-of-range pointer (an index that is not in the collection, an object larger than the string it backs):
// both were found by the fuzz targets (docs/BENCHMARKS.md, "Fuzzing"). This check reads the raw references and
// the collections they point to with plain pread, walks each collection exactly as HDF5 will, and throws
// InputError unless every non-empty string in the rows asked for names an object of exactly its length.
#include <hdf5.h>

#include <cstdint>
#include <string>

namespace aftershock::h5::detail {

/// Throws InputError (naming `where`) unless rows [begin, end) of the 1-D vlen string dataset `ds` of the file
/// `file` (opened from `path`) can be read by HDF5 safely. Contiguous and unfiltered chunked layouts are
/// checked; compact, filtered (compressed) or virtual vlen datasets are refused, since their raw references
/// cannot be reached without HDF5 following them.
/// Throws InputError (naming `where`) unless [addr, addr + bytes) lies below the end of allocation (EOA) of the file
/// that holds `obj`. HDF5 1.10 reads raw data through its sieve buffer only up to the EOA and then copies the whole
/// request out of that buffer: with a corrupt superblock (an end-of-file or base address that moves the EOA below
/// the data) the rest of the rows come from whatever the buffer held before (fuzz_corpus: a heap object index read
/// as 0, then a 4 KiB copy past a heap collection).
void check_below_eoa(hid_t obj, std::uint64_t addr, std::uint64_t bytes, const std::string& where);

void check_vlen_strings(hid_t file, const std::string& path, hid_t ds, std::uint64_t begin, std::uint64_t end,
                        const std::string& where);

}  // namespace aftershock::h5::detail
