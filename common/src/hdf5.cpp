#include "aftershock/common/hdf5.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5_vet.hpp"
#include "hdf5_vlen.hpp"

#include <fmt/ranges.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>

namespace aftershock::h5 {
namespace {

void silence_hdf5() {
    static std::once_flag once;
    // HDF5 prints its error stack to stderr by default; we report one line through exceptions instead.
    std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t walk_cb(unsigned n, const H5E_error2_t* err, void* out) {
    auto* msg = static_cast<std::string*>(out);
    if (n == 0 && err->desc != nullptr) *msg = err->desc;
    return 0;
}

/// The longest string attribute written or read (JSON build parameters are a few hundred bytes).
constexpr std::size_t kMaxAttrString = std::size_t{1} << 20;

Handle make_plist(hid_t cls) { return Handle(H5Pcreate(cls), H5Pclose); }

Handle space_for(const std::vector<hsize_t>& dims, const std::vector<hsize_t>* maxdims = nullptr) {
    return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims ? maxdims->data() : nullptr),
                  H5Sclose);
}

/// How every object (file root group, group, dataset) is created:
/// - without modification times: the same content gives byte-identical files, which the distributed build relies
///   on (shards built by 1, 2 or 4 ranks must not differ);
/// - with attribute creation order tracked, which makes HDF5 write version 2 object headers: they carry a
///   checksum, so a flipped byte in a header (its attributes included) is refused by HDF5 instead of being decoded
///   (version 1 headers have none). Files written to disk (corpora) keep superblock version 0, which every HDF5
///   reader opens; in-memory files (shards) use the whole 1.10 format (File::File, File::image).
Handle object_plist(hid_t cls) {
    auto plist = make_plist(cls);
    H5Pset_obj_track_times(plist.get(), 0);
    H5Pset_attr_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED);
    return plist;
}

Handle dataset_plist() { return object_plist(H5P_DATASET_CREATE); }

/// Creates every missing group on the way to `object` (see object_plist).
void create_parents(hid_t file, const std::string& object, const std::string& where) {
    auto gcpl = object_plist(H5P_GROUP_CREATE);
    std::size_t pos = 0;
    while ((pos = object.find('/', pos + 1)) != std::string::npos) {
        const auto prefix = object.substr(0, pos);
        if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) > 0) continue;
        Handle g(H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
        ensure(g.valid(), "{}: cannot create group {}: {}", where, prefix, last_error());
    }
}

Handle string_type() {
    Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    return t;
}

std::vector<hsize_t> dims_of(hid_t ds) {
    Handle space(H5Dget_space(ds), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(rank > 0 ? rank : 0);
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return dims;
}

/// HDF5 1.10 trusts a dataset's layout message: a corrupt one (say compact with 0 bytes for a 2x2 dataspace) makes
/// H5Dread copy from a null buffer (SIGSEGV inside HDF5, found by fuzz_import_ann_benchmarks), and a forged
/// dataspace makes the caller allocate whatever it claims. A dataset without filters stores at least the bytes of
/// its elements, so that is checked before any buffer is sized or read, for the rows [begin, end) to be read:
/// contiguous data must lie below the end of allocation, and every chunk those rows touch must store exactly one
/// chunk's bytes (fuzz_corpus: a chunk shape of 509 floats over a 96-byte chunk made H5Dread copy 96 bytes out of
/// a 24-byte buffer) of a sane size (a forged shape made HDF5 allocate 4 GiB per chunk). (Filtered datasets are
/// compressed: their stored size bounds nothing and they are not checked. Variable-length strings store heap
/// references: common/src/hdf5_vlen.cpp.)
void check_storage(hid_t ds, hid_t ftype, const std::vector<hsize_t>& dims, std::uint64_t begin, std::uint64_t end,
                   const std::string& where) {
    Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    ensure<InputError>(dcpl.valid(), "{}: unreadable dataset properties: {}", where, last_error());
    // No dataset stores more bytes than the file holds, filtered or not (fuzz_corpus: a chunk index claiming 4 GiB
    // in a 20 KiB file made H5Dread allocate 4 GiB).
    const std::uint64_t stored = H5Dget_storage_size(ds);
    detail::check_below_eoa(ds, 0, stored, where + " (the bytes its chunks or data claim)");
    const int filters = H5Pget_nfilters(dcpl.get());
    ensure<InputError>(filters >= 0, "{}: unreadable filter pipeline: {}", where, last_error());
    if (filters > 0) return;
    const std::uint64_t elem = H5Tget_size(ftype);
    ensure<InputError>(elem > 0, "{}: unreadable datatype: {}", where, last_error());
    std::uint64_t need = elem;
    for (const auto d : dims) {
        ensure<InputError>(d == 0 || need <= UINT64_MAX / d, "{}: dataspace of {} elements overflows", where,
                           fmt::join(dims, "x"));
        need *= d;
    }
    ensure<InputError>(need <= stored, "{}: a {} dataset of {}-byte elements needs {} bytes but the file stores {} "
                       "(truncated or corrupt file?)", where, fmt::join(dims, "x"), elem, need, stored);
    const auto layout = H5Pget_layout(dcpl.get());
    if (layout == H5D_CONTIGUOUS) {
        const haddr_t addr = H5Dget_offset(ds);
        if (addr != HADDR_UNDEF) detail::check_below_eoa(ds, addr, need, where);
        return;
    }
    if (layout != H5D_CHUNKED || begin >= end || dims.empty()) return;
    std::vector<hsize_t> chunk(dims.size(), 0);
    ensure<InputError>(H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) == static_cast<int>(dims.size()),
                       "{}: chunk shape does not match the dataspace (corrupt file)", where);
    constexpr std::uint64_t kMaxChunkBytes = std::uint64_t{1} << 30;  // our writers use MiB-sized chunks; h5py's are smaller
    std::uint64_t chunk_bytes = elem;
    for (const auto c : chunk) {
        ensure<InputError>(c > 0 && chunk_bytes <= kMaxChunkBytes / c, "{}: chunks of {} elements of {} bytes exceed 1 GiB (corrupt file?)",
                           where, fmt::join(chunk, "x"), elem);
        chunk_bytes *= c;
    }
    // The chunks holding rows [begin, end): one B-tree lookup each, so a row range costs what it reads.
    std::vector<hsize_t> at(dims.size(), 0);
    const auto check_chunk = [&]() {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        ensure<InputError>(H5Dget_chunk_info_by_coord(ds, at.data(), &mask, &addr, &size) >= 0, "{}: chunk at {} unreadable: {}", where,
                           fmt::join(at, ","), last_error());
        if (addr == HADDR_UNDEF) return;  // not written: HDF5 reads fill values
        ensure<InputError>(size == chunk_bytes, "{}: chunk at {} stores {} bytes where a {} chunk of {}-byte elements takes {} (corrupt file)",
                           where, fmt::join(at, ","), size, fmt::join(chunk, "x"), elem, chunk_bytes);
        detail::check_below_eoa(ds, addr, size, where);
    };
    for (hsize_t row = begin / chunk[0] * chunk[0]; row < end; row += chunk[0]) {
        at[0] = row;
        if (dims.size() == 1) {
            check_chunk();
            continue;
        }
        for (hsize_t col = 0; col < dims[1]; col += chunk[1]) {
            at[1] = col;
            check_chunk();
        }
    }
}

constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/// Superblocks of version 2 and 3 end in a checksum (and so do the object headers, B-trees, heaps and chunk indexes
/// of the file format they come with); versions 0 and 1 have none. Checked on the raw bytes, before HDF5 decodes any.
void require_checksummed_superblock(const std::string& source, const std::string& path) {
    std::ifstream in(source, std::ios::binary);
    unsigned char head[9] = {};
    if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return;  // H5Fopen reports missing or short files
    ensure<InputError>(std::memcmp(head, kSignature, sizeof kSignature) == 0, "{}: not an HDF5 file written by Aftershock "
                       "(no HDF5 signature at byte 0)", path);
    ensure<InputError>(head[8] >= 2, "{}: HDF5 superblock version {} has no checksums; files of this kind are written with "
                       "version 3 (an older aftershock-build wrote this one: rebuild it)", path, head[8]);
}

/// HDF5 1.10.8's H5Fget_file_image writes the image's end-of-file address into a version 2/3 superblock without
/// updating the superblock's checksum, and then refuses to open that image. The checksum is HDF5's own metadata
/// checksum (Jenkins lookup3) over the superblock's bytes before it; the library exports it but no header declares it.
extern "C" std::uint32_t H5_checksum_metadata(const void* data, std::size_t len, std::uint32_t initval);

void fix_superblock_checksum(std::vector<unsigned char>& image, const std::string& where) {
    ensure(image.size() >= 12 && std::memcmp(image.data(), kSignature, sizeof kSignature) == 0, "{}: file image without a superblock", where);
    if (image[8] < 2) return;
    // signature, version, sizes of offsets and lengths, flags; then base, extension, end-of-file and root addresses.
    const std::size_t body = 12 + 4 * std::size_t{image[9]};
    ensure(image.size() >= body + 4, "{}: file image shorter than its superblock", where);
    const std::uint32_t sum = H5_checksum_metadata(image.data(), body, 0);
    for (std::size_t i = 0; i < 4; ++i) image[body + i] = static_cast<unsigned char>(sum >> (8 * i));  // little-endian
}

}  // namespace

std::string last_error() {
    std::string msg;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &msg);
    return msg;
}

Handle& Handle::operator=(Handle&& o) noexcept {
    if (this != &o) {
        reset();
        m_id = o.m_id;
        m_closer = o.m_closer;
        o.m_id = H5I_INVALID_HID;
    }
    return *this;
}

void Handle::reset() noexcept {
    if (m_id >= 0 && m_closer != nullptr) m_closer(m_id);
    m_id = H5I_INVALID_HID;
}

template <> hid_t native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<std::uint16_t>() { return H5T_NATIVE_UINT16; }
template <> hid_t native_type<std::uint32_t>() { return H5T_NATIVE_UINT32; }
template <> hid_t native_type<std::uint64_t>() { return H5T_NATIVE_UINT64; }
template <> hid_t native_type<std::int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

File::File(const std::string& path, Mode mode) : m_path(path) {
    silence_hdf5();
    hid_t id = H5I_INVALID_HID;
    if (mode == Mode::truncate) {
        id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, object_plist(H5P_FILE_CREATE).get(), H5P_DEFAULT);
        ensure(id >= 0, "cannot create HDF5 file {}: {}", path, last_error());
    } else if (mode == Mode::in_memory) {
        auto fapl = make_plist(H5P_FILE_ACCESS);
        H5Pset_fapl_core(fapl.get(), std::size_t{64} << 20, 0);  // grow by 64 MiB, never touch the disk
        // The 1.10 file format: superblock version 3 and every metadata structure checksummed, which
        // Mode::read_checksummed requires (see image() for the superblock's checksum).
        H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
        id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, object_plist(H5P_FILE_CREATE).get(), fapl.get());
        ensure(id >= 0, "cannot create in-memory HDF5 file {}: {}", path, last_error());
    } else {
        // One descriptor for the checks and for HDF5: the file vetted is the file read, even if `path` is replaced
        // (renamed over) in between.
        const PinnedFile pinned(path);
        // Checksums refuse corrupt bytes; the vet also refuses a crafted file that mixes in unchecksummed structures
        // (h5repack, for one, writes version 1 object headers into a 1.10-format file).
        if (mode == Mode::read_checksummed) require_checksummed_superblock(pinned.name(), path);
        vet_file(pinned);
        // Strong close: HDF5 1.10 can leave an internal object open when an open fails on corrupt metadata; with the
        // default (weak) close the file then stays open, and a later open of the same path (same inode, rewritten)
        // shares its stale metadata cache.
        auto fapl = make_plist(H5P_FILE_ACCESS);
        H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
        id = H5Fopen(pinned.name().c_str(), mode == Mode::read_write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get());
        // HDF5 resolves the descriptor's name back to the path it was opened by (realpath), which fails once another
        // file took that path: then the open is refused, and the replacement, not vetted, is never read.
        ensure<InputError>(id >= 0 || !pinned.replaced(),
                           "cannot open HDF5 file {}: it was replaced or removed while being opened (nothing of a "
                           "replacement was read); open it again", path);
        ensure<InputError>(id >= 0, "cannot open HDF5 file {} (missing, truncated or not HDF5): {}", path,
                           last_error());
    }
    m_file = Handle(id, H5Fclose);
}

bool File::exists(const std::string& object) const {
    // H5Lexists needs every parent to exist, so walk the path one component at a time.
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = object.find('/', pos + 1);
        const auto prefix = object.substr(0, pos);
        if (prefix.empty() || prefix == "/") continue;
        if (H5Lexists(m_file.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return true;
}

void File::remove(const std::string& object) {
    if (exists(object)) {
        ensure(H5Ldelete(m_file.get(), object.c_str(), H5P_DEFAULT) >= 0, "{}: cannot delete: {}", where(object),
               last_error());
    }
}

Handle File::open_object(const std::string& object) const {
    ensure<InputError>(exists(object), "{}: missing", where(object));
    Handle h(H5Oopen(m_file.get(), object.c_str(), H5P_DEFAULT), H5Oclose);
    ensure<InputError>(h.valid(), "{}: cannot open: {}", where(object), last_error());
    return h;
}

Handle File::open_dataset(const std::string& dataset) const {
    ensure<InputError>(exists(dataset), "{}: dataset missing", where(dataset));
    Handle h(H5Dopen2(m_file.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
    ensure<InputError>(h.valid(), "{}: not a readable dataset: {}", where(dataset), last_error());
    return h;
}

std::vector<std::uint64_t> File::shape(const std::string& dataset) const {
    auto ds = open_dataset(dataset);
    auto dims = dims_of(ds.get());
    return {dims.begin(), dims.end()};
}

bool File::is_signed_integer(const std::string& dataset) const {
    auto ds = open_dataset(dataset);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    ensure<InputError>(H5Tget_class(type.get()) == H5T_INTEGER, "{}: expected an integer dataset", where(dataset));
    return H5Tget_sign(type.get()) == H5T_SGN_2;
}

bool File::is_string(const std::string& dataset) const {
    auto ds = open_dataset(dataset);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    return H5Tget_class(type.get()) == H5T_STRING;
}

template <typename T>
std::vector<T> File::read(const std::string& dataset, std::uint64_t begin, std::uint64_t end) const {
    auto ds = open_dataset(dataset);
    auto dims = dims_of(ds.get());
    ensure<InputError>(dims.size() == 1 || dims.size() == 2, "{}: expected a 1-D or 2-D dataset, got {} dimensions",
                       where(dataset), dims.size());
    ensure<InputError>(begin <= end && end <= dims[0], "{}: rows [{}, {}) out of range (dataset has {} rows)",
                       where(dataset), begin, end, dims[0]);
    {
        Handle type(H5Dget_type(ds.get()), H5Tclose);
        const auto cls = H5Tget_class(type.get());
        ensure<InputError>(cls == H5T_INTEGER || cls == H5T_FLOAT, "{}: expected a numeric dataset", where(dataset));
        check_storage(ds.get(), type.get(), dims, begin, end, where(dataset));
    }
    const hsize_t cols = dims.size() == 2 ? dims[1] : 1;
    std::vector<T> out((end - begin) * cols);
    if (out.empty()) return out;
    Handle file_space(H5Dget_space(ds.get()), H5Sclose);
    std::vector<hsize_t> start(dims.size(), 0);
    std::vector<hsize_t> count = dims;
    start[0] = begin;
    count[0] = end - begin;
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    auto mem_space = space_for(count);
    ensure<InputError>(H5Dread(ds.get(), native_type<T>(), mem_space.get(), file_space.get(), H5P_DEFAULT,
                               out.data()) >= 0,
                       "{}: read of rows [{}, {}) failed (truncated or corrupt file?): {}", where(dataset), begin, end,
                       last_error());
    return out;
}

template <typename T> std::vector<T> File::read(const std::string& dataset) const {
    const auto dims = shape(dataset);
    return read<T>(dataset, 0, dims.empty() ? 0 : dims[0]);
}

std::vector<std::string> File::read_strings(const std::string& dataset, std::uint64_t begin, std::uint64_t end) const {
    auto ds = open_dataset(dataset);
    auto dims = dims_of(ds.get());
    ensure<InputError>(dims.size() == 1, "{}: expected a 1-D string dataset", where(dataset));
    ensure<InputError>(begin <= end && end <= dims[0], "{}: rows [{}, {}) out of range (dataset has {} rows)",
                       where(dataset), begin, end, dims[0]);
    Handle ftype(H5Dget_type(ds.get()), H5Tclose);
    ensure<InputError>(H5Tget_class(ftype.get()) == H5T_STRING, "{}: expected strings", where(dataset));
    std::vector<std::string> out;
    const hsize_t n = end - begin;
    if (n == 0) return out;
    Handle file_space(H5Dget_space(ds.get()), H5Sclose);
    hsize_t start = begin;
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr);
    auto mem_space = space_for({n});
    if (H5Tis_variable_str(ftype.get()) > 0) {
        if (auto strings = detail::read_vlen_strings(m_file.get(), m_path, ds.get(), begin, end, where(dataset))) return std::move(*strings);
        out.reserve(n);  // a file in memory: written by this process, read by HDF5
        auto mtype = string_type();
        H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));  // ASCII (h5py's bytes) or UTF-8: no conversion between them
        std::vector<char*> raw(n, nullptr);
        ensure<InputError>(H5Dread(ds.get(), mtype.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, raw.data()) >= 0,
                           "{}: read failed: {}", where(dataset), last_error());
        for (auto* s : raw) out.emplace_back(s != nullptr ? s : "");
        H5Dvlen_reclaim(mtype.get(), mem_space.get(), H5P_DEFAULT, raw.data());
    } else {
        check_storage(ds.get(), ftype.get(), dims, begin, end, where(dataset));
        out.reserve(n);
        const auto width = H5Tget_size(ftype.get());
        Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mtype.get(), width);
        // Null-padded, not null-terminated: a string that fills its width keeps its last byte (h5py writes these).
        H5Tset_strpad(mtype.get(), H5T_STR_NULLPAD);
        H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));  // HDF5 converts no string between ASCII and UTF-8
        std::vector<char> buf(n * width);
        ensure<InputError>(H5Dread(ds.get(), mtype.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, buf.data()) >= 0,
                           "{}: read failed: {}", where(dataset), last_error());
        for (hsize_t i = 0; i < n; ++i) {
            const char* s = buf.data() + i * width;
            out.emplace_back(s, strnlen(s, width));
        }
    }
    return out;
}

std::vector<std::string> File::read_strings(const std::string& dataset) const {
    const auto dims = shape(dataset);
    return read_strings(dataset, 0, dims.empty() ? 0 : dims[0]);
}

template <typename T>
void File::write(const std::string& dataset, std::span<const T> values, std::vector<std::uint64_t> dims) {
    remove(dataset);
    if (dims.empty()) dims = {values.size()};
    std::vector<hsize_t> hd(dims.begin(), dims.end());
    auto space = space_for(hd);
    create_parents(m_file.get(), dataset, where(dataset));
    auto dcpl = dataset_plist();
    Handle ds(H5Dcreate2(m_file.get(), dataset.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(),
                         H5P_DEFAULT),
              H5Dclose);
    ensure(ds.valid(), "{}: cannot create dataset: {}", where(dataset), last_error());
    if (!values.empty()) {
        ensure(H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0,
               "{}: write failed: {}", where(dataset), last_error());
    }
}

void File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
    auto app = string_appender(dataset);
    app.append(values);
}

template <typename T> Appender<T> File::appender(const std::string& dataset, std::size_t cols) {
    remove(dataset);
    std::vector<hsize_t> dims{0};
    std::vector<hsize_t> maxdims{H5S_UNLIMITED};
    // About 1 MiB per chunk: large enough for fast sequential I/O, small enough for row-range reads.
    std::vector<hsize_t> chunk{std::max<hsize_t>(1, (1U << 20) / sizeof(T) / std::max<std::size_t>(cols, 1))};
    if (cols > 0) {
        dims.push_back(cols);
        maxdims.push_back(cols);
        chunk.push_back(cols);
    }
    auto space = space_for(dims, &maxdims);
    auto dcpl = dataset_plist();
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    create_parents(m_file.get(), dataset, where(dataset));
    Handle ds(H5Dcreate2(m_file.get(), dataset.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(),
                         H5P_DEFAULT),
              H5Dclose);
    ensure(ds.valid(), "{}: cannot create dataset: {}", where(dataset), last_error());
    return Appender<T>(std::move(ds), where(dataset), std::max<std::size_t>(cols, 1));
}

namespace {
template <typename Fn>
void extend_and_write(hid_t ds, const std::string& where, std::uint64_t old_rows, std::uint64_t new_rows,
                      std::size_t cols, bool two_d, hid_t mtype, Fn&& data_ptr) {
    std::vector<hsize_t> size{old_rows + new_rows};
    if (two_d) size.push_back(cols);
    ensure(H5Dset_extent(ds, size.data()) >= 0, "{}: cannot extend: {}", where, last_error());
    Handle fspace(H5Dget_space(ds), H5Sclose);
    std::vector<hsize_t> start{old_rows};
    std::vector<hsize_t> count{new_rows};
    if (two_d) {
        start.push_back(0);
        count.push_back(cols);
    }
    H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    auto mspace = space_for(count);
    ensure(H5Dwrite(ds, mtype, mspace.get(), fspace.get(), H5P_DEFAULT, data_ptr()) >= 0,
           "{}: write failed (disk full?): {}", where, last_error());
}
}  // namespace

template <typename T> void Appender<T>::append(std::span<const T> values) {
    ensure(m_ds.valid(), "{}: appender is closed", m_where);
    if (values.empty()) return;
    ensure(values.size() % m_cols == 0, "{}: {} values is not a whole number of rows of {}", m_where, values.size(), m_cols);
    const std::uint64_t rows = values.size() / m_cols;
    const bool two_d = dims_of(m_ds.get()).size() == 2;
    extend_and_write(m_ds.get(), m_where, m_rows, rows, m_cols, two_d, native_type<T>(), [&] { return values.data(); });
    m_rows += rows;
}

File::StringAppender File::string_appender(const std::string& dataset) {
    remove(dataset);
    hsize_t dims = 0;
    hsize_t maxdims = H5S_UNLIMITED;
    hsize_t chunk = 4096;
    Handle space(H5Screate_simple(1, &dims, &maxdims), H5Sclose);
    auto dcpl = dataset_plist();
    H5Pset_chunk(dcpl.get(), 1, &chunk);
    create_parents(m_file.get(), dataset, where(dataset));
    auto type = string_type();
    Handle ds(H5Dcreate2(m_file.get(), dataset.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
              H5Dclose);
    ensure(ds.valid(), "{}: cannot create dataset: {}", where(dataset), last_error());
    return {std::move(ds), where(dataset)};
}

void File::StringAppender::append(const std::vector<std::string>& values) {
    ensure(m_ds.valid(), "{}: appender is closed", m_where);
    if (values.empty()) return;
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& v : values) ptrs.push_back(v.c_str());
    auto type = string_type();
    extend_and_write(m_ds.get(), m_where, m_rows, values.size(), 1, false, type.get(), [&] { return ptrs.data(); });
    m_rows += values.size();
}

bool File::has_attr(const std::string& object, const std::string& name) const {
    if (!exists(object) && object != "/") return false;
    return H5Aexists_by_name(m_file.get(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

Handle File::open_attr(const std::string& object, const std::string& name) const {
    ensure<InputError>(has_attr(object, name), "{}: attribute '{}' missing", where(object), name);
    Handle attr(H5Aopen_by_name(m_file.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    ensure<InputError>(attr.valid(), "{}: attribute '{}' unreadable: {}", where(object), name, last_error());
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    ensure<InputError>(space.valid() && H5Sget_simple_extent_npoints(space.get()) == 1,
                       "{}: attribute '{}' is not a single value (corrupt file?)", where(object), name);
    return attr;
}

std::uint64_t File::read_attr_u64(const std::string& object, const std::string& name) const {
    const auto attr = open_attr(object, name);
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    ensure<InputError>(H5Tget_class(type.get()) == H5T_INTEGER, "{}: attribute '{}' is not an integer", where(object),
                       name);
    std::int64_t signed_value = 0;
    if (H5Tget_sign(type.get()) == H5T_SGN_2) {
        ensure<InputError>(H5Aread(attr.get(), H5T_NATIVE_INT64, &signed_value) >= 0, "{}: attribute '{}' unreadable",
                           where(object), name);
        ensure<InputError>(signed_value >= 0, "{}: attribute '{}' is negative ({})", where(object), name, signed_value);
        return static_cast<std::uint64_t>(signed_value);
    }
    std::uint64_t value = 0;
    ensure<InputError>(H5Aread(attr.get(), H5T_NATIVE_UINT64, &value) >= 0, "{}: attribute '{}' unreadable",
                       where(object), name);
    return value;
}

std::string File::read_attr_string(const std::string& object, const std::string& name, Strings allow) const {
    const auto attr = open_attr(object, name);
    Handle ftype(H5Aget_type(attr.get()), H5Tclose);
    ensure<InputError>(H5Tget_class(ftype.get()) == H5T_STRING, "{}: attribute '{}' is not a string", where(object),
                       name);
    if (H5Tis_variable_str(ftype.get()) > 0) {
        ensure<InputError>(allow == Strings::any, "{}: attribute '{}' is a variable-length string where a fixed-length one is "
                           "expected (older format or corrupt file)", where(object), name);
        auto mtype = string_type();
        H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
        char* s = nullptr;
        ensure<InputError>(H5Aread(attr.get(), mtype.get(), &s) >= 0, "{}: attribute '{}' unreadable", where(object),
                           name);
        std::string out = s != nullptr ? s : "";
        H5free_memory(s);
        return out;
    }
    const auto width = H5Tget_size(ftype.get());
    ensure<InputError>(width > 0 && width <= kMaxAttrString, "{}: attribute '{}': a string of {} bytes (corrupt file?)", where(object),
                       name, width);
    std::string buf(width, '\0');
    Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), width);
    H5Tset_strpad(mtype.get(), H5T_STR_NULLPAD);  // as in read_strings: a string that fills its width keeps its last byte
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));  // HDF5 converts no string between ASCII and UTF-8
    ensure<InputError>(H5Aread(attr.get(), mtype.get(), buf.data()) >= 0, "{}: attribute '{}' unreadable",
                       where(object), name);
    buf.resize(strnlen(buf.c_str(), width));
    return buf;
}

void File::write_attr(const std::string& object, const std::string& name, std::uint64_t value) {
    if (has_attr(object, name)) H5Adelete_by_name(m_file.get(), object.c_str(), name.c_str(), H5P_DEFAULT);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate_by_name(m_file.get(), object.c_str(), name.c_str(), H5T_NATIVE_UINT64, space.get(),
                                  H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
    ensure(attr.valid() && H5Awrite(attr.get(), H5T_NATIVE_UINT64, &value) >= 0, "{}: cannot write attribute '{}': {}",
           where(object), name, last_error());
}

void File::write_attr(const std::string& object, const std::string& name, const std::string& value) {
    ensure(value.size() <= kMaxAttrString, "{}: attribute '{}' of {} bytes is too long", where(object), name, value.size());
    if (has_attr(object, name)) H5Adelete_by_name(m_file.get(), object.c_str(), name.c_str(), H5P_DEFAULT);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    // Fixed length, null-padded: stored inside the attribute message, no global heap (see read_attr_string).
    const std::string bytes = value.empty() ? std::string(1, '\0') : value;
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), bytes.size());
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle attr(H5Acreate_by_name(m_file.get(), object.c_str(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
    ensure(attr.valid() && H5Awrite(attr.get(), type.get(), bytes.data()) >= 0, "{}: cannot write attribute '{}': {}",
           where(object), name, last_error());
}

double File::read_attr_f64(const std::string& object, const std::string& name) const {
    const auto attr = open_attr(object, name);
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    const auto cls = H5Tget_class(type.get());
    ensure<InputError>(cls == H5T_FLOAT || cls == H5T_INTEGER, "{}: attribute '{}' is not a number", where(object), name);
    double value = 0;
    ensure<InputError>(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) >= 0, "{}: attribute '{}' unreadable",
                       where(object), name);
    return value;
}

void File::write_attr_f64(const std::string& object, const std::string& name, double value) {
    if (has_attr(object, name)) H5Adelete_by_name(m_file.get(), object.c_str(), name.c_str(), H5P_DEFAULT);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate_by_name(m_file.get(), object.c_str(), name.c_str(), H5T_NATIVE_DOUBLE, space.get(),
                                  H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
    ensure(attr.valid() && H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value) >= 0, "{}: cannot write attribute '{}': {}",
           where(object), name, last_error());
}

File::ChunkMap File::chunk_map(const std::string& dataset) const {
    auto ds = open_dataset(dataset);
    const auto dims = dims_of(ds.get());
    ensure<InputError>(dims.size() == 2, "{}: expected a 2-D dataset", where(dataset));
    Handle dcpl(H5Dget_create_plist(ds.get()), H5Pclose);
    ensure<InputError>(H5Pget_layout(dcpl.get()) == H5D_CHUNKED, "{}: not chunked", where(dataset));
    ensure<InputError>(H5Pget_nfilters(dcpl.get()) == 0, "{}: filtered (compressed) chunks cannot be read by row", where(dataset));
    hsize_t chunk[2] = {0, 0};
    ensure<InputError>(H5Pget_chunk(dcpl.get(), 2, chunk) == 2 && chunk[0] > 0 && chunk[1] == dims[1],
                       "{}: chunks must span whole rows", where(dataset));
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    hsize_t n = 0;
    ensure<InputError>(H5Dget_num_chunks(ds.get(), space.get(), &n) >= 0, "{}: cannot count chunks: {}", where(dataset), last_error());
    ChunkMap map;
    map.rows_per_chunk = chunk[0];
    const auto expected = (dims[0] + chunk[0] - 1) / chunk[0];
    ensure<InputError>(n == expected, "{}: {} chunks allocated for {} rows of {} per chunk", where(dataset), n, dims[0], chunk[0]);
    map.addresses.assign(n, 0);
    for (hsize_t i = 0; i < n; ++i) {
        hsize_t offset[2] = {0, 0};
        unsigned mask = 0;
        haddr_t addr = 0;
        hsize_t size = 0;
        ensure<InputError>(H5Dget_chunk_info(ds.get(), space.get(), i, offset, &mask, &addr, &size) >= 0 && addr != HADDR_UNDEF &&
                               offset[0] % chunk[0] == 0 && offset[0] / chunk[0] < n,
                           "{}: bad chunk {}: {}", where(dataset), i, last_error());
        map.addresses[offset[0] / chunk[0]] = addr;
    }
    return map;
}

void File::flush() { H5Fflush(m_file.get(), H5F_SCOPE_GLOBAL); }

std::vector<unsigned char> File::image() {
    flush();
    const auto size = H5Fget_file_image(m_file.get(), nullptr, 0);
    ensure(size >= 0, "{}: cannot size the file image: {}", m_path, last_error());
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    ensure(H5Fget_file_image(m_file.get(), bytes.data(), bytes.size()) == size, "{}: cannot copy the file image: {}",
           m_path, last_error());
    fix_superblock_checksum(bytes, m_path);
    return bytes;
}

#define AFTERSHOCK_H5_INSTANTIATE(T)                                                                          \
    template std::vector<T> File::read<T>(const std::string&, std::uint64_t, std::uint64_t) const;           \
    template std::vector<T> File::read<T>(const std::string&) const;                                         \
    template void File::write<T>(const std::string&, std::span<const T>, std::vector<std::uint64_t>);        \
    template Appender<T> File::appender<T>(const std::string&, std::size_t);                                 \
    template class Appender<T>;
AFTERSHOCK_H5_INSTANTIATE(std::uint8_t)
AFTERSHOCK_H5_INSTANTIATE(std::uint16_t)
AFTERSHOCK_H5_INSTANTIATE(std::uint32_t)
AFTERSHOCK_H5_INSTANTIATE(std::uint64_t)
AFTERSHOCK_H5_INSTANTIATE(std::int32_t)
AFTERSHOCK_H5_INSTANTIATE(std::int64_t)
AFTERSHOCK_H5_INSTANTIATE(float)
AFTERSHOCK_H5_INSTANTIATE(double)
#undef AFTERSHOCK_H5_INSTANTIATE

}  // namespace aftershock::h5
