// aftershock-h5vet FILE: walks every piece of HDF5 metadata in FILE (objects, links, attributes with their values,
// dataset types, dataspaces, layouts and whole chunk indexes) and exits with an h5::VetExit: clean; hdf5_errors when
// HDF5 reported an error on some object but the walk reached everything; out_of_memory when an allocation HDF5 asked
// for failed (see limit_memory); incomplete when HDF5 gave up listing a group's links or an object's attributes, so
// that part of the file was never walked.
//
// Why a separate process: HDF5 1.10.8 (Debian 12's) decodes corrupt metadata without bounds checks and can crash,
// hang or allocate gigabytes inside the library (docs/BENCHMARKS.md, "Fuzzing": object-header message iteration, a
// division by zero while opening a dataset, metadata-cache mallocs, a global-heap loop under an attribute read).
// h5::File runs this walk on a file before it opens one itself (common/src/hdf5_vet.cpp): if the walk dies, the file
// is refused with a clear error and the caller lives. The walk touches every metadata structure the readers can
// touch, and HDF5 decodes the same bytes the same way in the caller. Raw data is not read here: the readers check
// where it lies before HDF5 reads it (common/src/hdf5.cpp), and the walk stays cheap for large files.
// Only the HDF5 C API (and the exit codes' enum): this binary does not link aftershock_common, so that library can
// depend on it.
#include "aftershock/common/hdf5_vet.hpp"

#include <hdf5.h>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

namespace {

/// Attribute values larger than this are not read (ours are a few hundred bytes; h5py's are small too).
constexpr std::size_t kMaxAttrBytes = std::size_t{64} << 20;

herr_t on_error(unsigned, const H5E_error2_t* err, void* data) {
    if (err->maj_num == H5E_RESOURCE || err->min_num == H5E_CANTALLOC || err->min_num == H5E_NOSPACE) *static_cast<bool*>(data) = true;
    return 0;
}

struct Walk {
    bool hdf5_error = false;
    bool out_of_memory = false;  ///< an allocation HDF5 asked for failed: the metadata claims absurd sizes
    bool stopped_early = false;  ///< HDF5 abandoned a link or attribute iteration: some metadata was never walked
    std::set<haddr_t> seen;      ///< object header addresses already walked

    [[nodiscard]] int exit_code() const {
        using aftershock::h5::VetExit;
        const auto code = out_of_memory ? VetExit::out_of_memory : stopped_early ? VetExit::incomplete
                          : hdf5_error  ? VetExit::hdf5_errors : VetExit::clean;
        return static_cast<int>(code);
    }

    void incomplete() {
        failed();
        stopped_early = true;
    }

    /// Called after an HDF5 call failed: notes whether the failure was an allocation.
    void failed() {
        hdf5_error = true;
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, on_error, &out_of_memory);
    }
};

/// Reads an attribute's value the way a reader would, variable-length data included (its bytes live in the global heap).
void read_attribute(hid_t attr, Walk& walk) {
    const hid_t ftype = H5Aget_type(attr);
    const hid_t space = H5Aget_space(attr);
    const hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    const hid_t mtype = ftype >= 0 ? H5Tget_native_type(ftype, H5T_DIR_ASCEND) : -1;
    const std::size_t elem = mtype >= 0 ? H5Tget_size(mtype) : 0;
    if (n < 0 || mtype < 0 || elem == 0) {
        walk.failed();
    } else if (n > 0 && static_cast<std::size_t>(n) <= kMaxAttrBytes / elem) {
        std::vector<unsigned char> buf(static_cast<std::size_t>(n) * elem);
        if (H5Aread(attr, mtype, buf.data()) < 0) {
            walk.failed();
        } else if (H5Tdetect_class(mtype, H5T_VLEN) > 0 || H5Tis_variable_str(mtype) > 0) {
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf.data());
        }
    }
    if (mtype >= 0) H5Tclose(mtype);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
}

void walk_object(hid_t obj, Walk& walk);

herr_t on_attribute(hid_t loc, const char* name, const H5A_info_t*, void* data) {
    auto& walk = *static_cast<Walk*>(data);
    const hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0) {
        walk.failed();
        return 0;
    }
    read_attribute(attr, walk);
    H5Aclose(attr);
    return 0;
}

/// Type, dataspace, creation properties (filters, layout, chunk shape), storage size and, for a chunked dataset,
/// its whole chunk index.
void walk_dataset(hid_t ds, Walk& walk) {
    const hid_t type = H5Dget_type(ds);
    const hid_t space = H5Dget_space(ds);
    const hid_t dcpl = H5Dget_create_plist(ds);
    if (type < 0 || space < 0 || dcpl < 0) walk.failed();
    (void)H5Dget_storage_size(ds);
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunks = 0;
        // Counting iterates the whole index: every B-tree / array node the readers' per-chunk lookups can reach.
        if (space < 0 || H5Dget_num_chunks(ds, space, &chunks) < 0) walk.failed();
    } else if (dcpl >= 0) {
        (void)H5Dget_offset(ds);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
}

void walk_group(hid_t group, Walk& walk);

/// Opens the object a hard link names (once per object: links may share one, or loop) and walks its attributes, and
/// its links or dataset metadata. Returns 0 whatever happens, so one bad object never stops the walk early: the
/// objects after it are walked too (a reader may open any of them).
herr_t on_link(hid_t group, const char* name, const H5L_info_t* link, void* data) {
    auto& walk = *static_cast<Walk*>(data);
    if (link->type != H5L_TYPE_HARD || !walk.seen.insert(link->u.address).second) return 0;  // soft/external: not followed
    const hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) {
        walk.failed();
        return 0;
    }
    walk_object(obj, walk);
    H5Oclose(obj);
    return 0;
}

void walk_object(hid_t obj, Walk& walk) {
    H5O_info_t info{};
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS) < 0) {
        walk.failed();
        return;
    }
    // An iteration that HDF5 itself abandons leaves attributes or links unvisited: the walk is incomplete.
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, nullptr, on_attribute, &walk) < 0) walk.incomplete();
    if (info.type == H5O_TYPE_GROUP) walk_group(obj, walk);
    if (info.type == H5O_TYPE_DATASET) walk_dataset(obj, walk);
}

/// Every link of the group (symbol tables, local heaps, B-trees, fractal heaps), then each object it names.
void walk_group(hid_t group, Walk& walk) {
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, on_link, &walk) < 0) walk.incomplete();
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AFTERSHOCK_H5VET_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AFTERSHOCK_H5VET_SANITIZED 1
#endif

/// A forged size in the metadata can make HDF5 allocate gigabytes (and then fill them). Here such an allocation
/// fails, HDF5 reports it, and the walk exits out_of_memory: the file is refused instead of the reader allocating the same.
/// Without a sanitizer: 4 GiB of address space (a sanitizer's shadow memory needs terabytes, see below).
void limit_memory() {
#ifndef AFTERSHOCK_H5VET_SANITIZED
    const rlimit limit{rlim_t{4} << 30, rlim_t{4} << 30};
    setrlimit(RLIMIT_AS, &limit);
#endif
}

}  // namespace

#ifdef AFTERSHOCK_H5VET_SANITIZED
// Sanitizer builds (CI's ASan+UBSan and fuzz stages): no single allocation above 1 GiB, and a refused one returns
// null to HDF5 (exit out_of_memory) rather than ending in a report. Below libFuzzer's 2 GiB malloc limit, so a file that passes
// here cannot make the fuzz target's own HDF5 calls hit it. No leak check: HDF5 leaks on its error paths and this
// process ends right after the walk.
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=1024:allocator_may_return_null=1:detect_leaks=0"; }
#endif

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: aftershock-h5vet FILE\n(walks the HDF5 metadata of FILE; run by the Aftershock readers)\n");
        return static_cast<int>(aftershock::h5::VetExit::usage);
    }
    limit_memory();
    if (std::getenv("AFTERSHOCK_H5VET_VERBOSE") == nullptr) H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // else HDF5 prints its stack
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    const hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    Walk walk;
    if (file < 0) {
        walk.failed();
        return walk.exit_code();  // unless out of memory, HDF5 refused it cleanly: the reader's own open reports why
    }
    const hid_t root = H5Oopen(file, "/", H5P_DEFAULT);
    if (root < 0) {
        walk.incomplete();
    } else {
        walk_object(root, walk);
        H5Oclose(root);
    }
    H5Fclose(file);
    return walk.exit_code();
}
