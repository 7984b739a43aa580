#include "hdf5_vlen.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace aftershock::h5::detail {
namespace {

// Sizes from the HDF5 file format specification (global heap, version 1).
constexpr std::uint64_t kMinCollection = 4096;  // H5HG_MINSIZE: HDF5 reads this much before the real size
constexpr std::uint64_t align8(std::uint64_t x) { return (x + 7) / 8 * 8; }

std::uint64_t decode_le(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
}

/// The file through plain POSIX reads: nothing here goes through HDF5's caches or trusts its metadata.
class RawFile {
public:
    RawFile(const std::string& path, std::string where) : m_where(std::move(where)) {
        m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ensure<InputError>(m_fd >= 0, "{}: cannot open to check its strings: {}", m_where, std::strerror(errno));
        struct stat st {};
        if (::fstat(m_fd, &st) != 0) {
            ::close(m_fd);
            throw InputError(fmt::format("{}: cannot stat: {}", m_where, std::strerror(errno)));
        }
        m_size = static_cast<std::uint64_t>(st.st_size);
    }
    ~RawFile() { ::close(m_fd); }
    RawFile(const RawFile&) = delete;
    RawFile& operator=(const RawFile&) = delete;
    [[nodiscard]] std::uint64_t size() const noexcept { return m_size; }
    /// True when [offset, offset + n) lies inside the file.
    [[nodiscard]] bool holds(std::uint64_t offset, std::uint64_t n) const noexcept { return offset <= m_size && n <= m_size - offset; }
    /// Bytes [offset, offset + n), which must lie inside the file (`what` names them in the error).
    [[nodiscard]] std::vector<unsigned char> read(std::uint64_t offset, std::uint64_t n, const char* what) const {
        ensure<InputError>(holds(offset, n), "{}: {} at byte {} (+{}) lies past the end of the file ({} bytes): corrupt or truncated",
                           m_where, what, offset, n, m_size);
        std::vector<unsigned char> out(n);
        std::uint64_t done = 0;
        while (done < n) {
            const auto got = ::pread(m_fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
            if (got < 0 && errno == EINTR) continue;
            ensure<InputError>(got > 0, "{}: read of {} failed: {}", m_where, what, got < 0 ? std::strerror(errno) : "end of file");
            done += static_cast<std::uint64_t>(got);
        }
        return out;
    }

private:
    std::string m_where;
    int m_fd = -1;
    std::uint64_t m_size = 0;
};

/// Global heap collections, parsed as HDF5's H5HG__cache_heap_deserialize walks them, and cached by address.
class HeapChecker {
public:
    HeapChecker(const RawFile& raw, std::uint64_t base, std::size_t sizeof_addr, std::size_t sizeof_size, const std::string& where)
        : m_raw(raw), m_base(base), m_sa(sizeof_addr), m_ss(sizeof_size), m_where(where) {}

    [[nodiscard]] std::size_t element_size() const noexcept { return 4 + m_sa + 4; }

    /// One stored element: a 4-byte length, the collection's address and a 4-byte object index. Returns the string
    /// it names, read from the checked collection bytes (up to its first NUL, as a C string reads).
    [[nodiscard]] std::string string_of(const unsigned char* element, std::uint64_t row) {
        const auto len = decode_le(element, 4);
        const auto addr = decode_le(element + 4, m_sa);
        const auto idx = decode_le(element + 4 + m_sa, 4);
        if (len == 0) return {};  // an empty string, or a row never written: HDF5 reads no heap object
        ensure<InputError>(addr != 0, "{}: row {}: a {}-byte string without a heap address (corrupt file)", m_where, row, len);
        const auto& heap = collection(addr, row);
        const auto it = heap.objects.find(idx);
        ensure<InputError>(it != heap.objects.end(), "{}: row {}: heap object {} is not in the collection at {} (corrupt file)", m_where,
                           row, idx, addr);
        ensure<InputError>(it->second.size == len, "{}: row {}: a {}-byte string stored in a heap object of {} bytes (corrupt file)",
                           m_where, row, len, it->second.size);
        const auto* text = reinterpret_cast<const char*>(heap.bytes.data() + it->second.data);
        return {text, strnlen(text, len)};
    }

private:
    struct Object {
        std::uint64_t data;  ///< offset of its bytes in the collection
        std::uint64_t size;
    };
    struct Collection {
        std::vector<unsigned char> bytes;
        std::unordered_map<std::uint64_t, Object> objects;  ///< by object index
    };

    const Collection& collection(std::uint64_t addr, std::uint64_t row) {
        if (const auto it = m_collections.find(addr); it != m_collections.end()) return it->second;
        const auto at = m_base + addr;
        ensure<InputError>(at >= addr && m_raw.holds(at, kMinCollection),
                           "{}: row {}: heap collection address {} lies past the end of the file (corrupt file)", m_where, row, addr);
        const auto header_size = align8(4 + 1 + 3 + m_ss);
        const auto header = m_raw.read(at, header_size, "a global heap header");
        ensure<InputError>(std::memcmp(header.data(), "GCOL", 4) == 0 && header[4] == 1,
                           "{}: row {}: no global heap collection at {} (corrupt file)", m_where, row, addr);
        const auto size = decode_le(header.data() + 8, m_ss);
        ensure<InputError>(size >= kMinCollection && m_raw.holds(at, size),
                           "{}: heap collection at {}: size {} is below {} or past the end of the file (corrupt file)", m_where, addr,
                           size, kMinCollection);
        Collection c{m_raw.read(at, size, "a global heap collection"), {}};
        const auto& heap = c.bytes;
        const auto object_header = align8(2 + 2 + 4 + m_ss);
        std::uint64_t p = header_size;
        while (p < size) {
            if (p + object_header > size) break;  // a tail too small for an object: free space, as HDF5 reads it
            const auto idx = decode_le(heap.data() + p, 2);
            const auto bytes = decode_le(heap.data() + p + 8, m_ss);
            // HDF5 steps to the next object by this amount without checking it: 0 loops forever, too much reads
            // past the collection when the object is copied out.
            ensure<InputError>(bytes <= size, "{}: heap collection at {}: object {} claims {} bytes (corrupt file)", m_where, addr, idx,
                               bytes);
            const auto need = idx > 0 ? object_header + align8(bytes) : bytes;
            ensure<InputError>(need >= object_header && need <= size - p,
                               "{}: heap collection at {}: object {} of {} bytes does not fit at offset {} of {} (corrupt file)",
                               m_where, addr, idx, bytes, p, size);
            if (idx > 0) {
                ensure<InputError>(c.objects.emplace(idx, Object{p + object_header, bytes}).second,
                                   "{}: heap collection at {}: object {} appears twice (corrupt file)",
                                   m_where, addr, idx);
            }
            p += need;
        }
        return m_collections.emplace(addr, std::move(c)).first->second;
    }

    const RawFile& m_raw;
    std::uint64_t m_base;
    std::size_t m_sa;
    std::size_t m_ss;
    const std::string& m_where;
    std::unordered_map<std::uint64_t, Collection> m_collections;
};

}  // namespace

void check_below_eoa(hid_t obj, std::uint64_t addr, std::uint64_t bytes, const std::string& where) {
    Handle file(H5Iget_file_id(obj), H5Fclose);
    haddr_t eoa = HADDR_UNDEF;
    ensure<InputError>(file.valid() && H5Fget_eoa(file.get(), &eoa) >= 0 && eoa != HADDR_UNDEF, "{}: unreadable end of file address: {}",
                       where, last_error());
    ensure<InputError>(addr <= eoa && bytes <= eoa - addr, "{}: data at byte {} (+{}) lies past the file's end of allocation {} "
                       "(corrupt superblock or truncated file)", where, addr, bytes, eoa);
}

std::optional<std::vector<std::string>> read_vlen_strings(hid_t file, const std::string& path, hid_t ds, std::uint64_t begin,
                                                          std::uint64_t end, const std::string& where) {
    if (begin >= end) return std::vector<std::string>{};
    {
        Handle fapl(H5Fget_access_plist(file), H5Pclose);
        // A file built in memory (h5::File::Mode::in_memory) has no bytes on disk to check, and holds only what this
        // process wrote itself.
        if (fapl.valid() && H5Pget_driver(fapl.get()) == H5FD_CORE) return std::nullopt;
        unsigned intent = 0;
        // Written through this handle and read back: the raw reads below must see what HDF5 still buffers.
        if (H5Fget_intent(file, &intent) >= 0 && (intent & H5F_ACC_RDWR) != 0) H5Fflush(file, H5F_SCOPE_LOCAL);
    }
    Handle fcpl(H5Fget_create_plist(file), H5Pclose);
    std::size_t sizeof_addr = 0;
    std::size_t sizeof_size = 0;
    hsize_t userblock = 0;
    ensure<InputError>(fcpl.valid() && H5Pget_sizes(fcpl.get(), &sizeof_addr, &sizeof_size) >= 0 &&
                           H5Pget_userblock(fcpl.get(), &userblock) >= 0,
                       "{}: unreadable file properties: {}", where, last_error());
    ensure<InputError>(sizeof_addr >= 2 && sizeof_addr <= 8 && sizeof_size >= 2 && sizeof_size <= 8,
                       "{}: unsupported address/length sizes {}/{}", where, sizeof_addr, sizeof_size);
    const RawFile raw(path, where);
    HeapChecker heap(raw, userblock, sizeof_addr, sizeof_size, where);
    const std::uint64_t elem = heap.element_size();

    Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    ensure<InputError>(dcpl.valid(), "{}: unreadable dataset properties: {}", where, last_error());
    const auto layout = H5Pget_layout(dcpl.get());
    const auto refuse = [&](const char* why) {
        throw InputError(fmt::format("{}: variable-length strings in a {} dataset cannot be checked before HDF5 reads them (HDF5 1.10 "
                                     "can crash on a corrupt global heap); store them uncompressed or as fixed-length strings "
                                     "(e.g. h5repack -l CONTI -f NONE)", where, why));
    };
    if (H5Pget_nfilters(dcpl.get()) != 0) refuse("filtered (compressed)");
    // Every stored row takes `elem` bytes of the file: this bounds the row numbers before any offset is computed.
    const auto max_rows = raw.size() / elem;
    // Also for rows never written (no storage, read as empty strings): the row count sizes the result.
    ensure<InputError>(end <= max_rows, "{}: {} strings cannot fit in a file of {} bytes (corrupt or truncated)", where, end, raw.size());
    std::vector<std::string> out(end - begin);
    const auto read_rows = [&](const std::vector<unsigned char>& bytes, std::uint64_t first_row) {
        for (std::uint64_t r = std::max(first_row, begin); r < end && (r - first_row + 1) * elem <= bytes.size(); ++r) {
            out[r - begin] = heap.string_of(bytes.data() + (r - first_row) * elem, r);
        }
    };
    if (layout == H5D_CONTIGUOUS) {
        const haddr_t addr = H5Dget_offset(ds);
        if (addr == HADDR_UNDEF) return out;  // never written: every row reads as the (empty) fill value
        ensure<InputError>(addr <= raw.size(), "{}: {} string references at byte {} do not fit in the file "
                           "(corrupt or truncated)", where, end, addr);
        check_below_eoa(ds, addr + begin * elem, (end - begin) * elem, where);
        read_rows(raw.read(userblock + addr + begin * elem, (end - begin) * elem, "the string references"), begin);
    } else if (layout == H5D_CHUNKED) {
        hsize_t chunk = 0;
        ensure<InputError>(H5Pget_chunk(dcpl.get(), 1, &chunk) == 1 && chunk > 0 && chunk <= max_rows, "{}: bad chunk shape", where);
        for (std::uint64_t first = begin / chunk * chunk; first < end; first += chunk) {
            const hsize_t offset = first;
            unsigned mask = 0;
            haddr_t addr = HADDR_UNDEF;
            hsize_t size = 0;
            ensure<InputError>(H5Dget_chunk_info_by_coord(ds, &offset, &mask, &addr, &size) >= 0, "{}: chunk at row {} unreadable: {}",
                               where, first, last_error());
            if (addr == HADDR_UNDEF) continue;  // not allocated: fill values
            ensure<InputError>(addr <= raw.size(), "{}: chunk at row {} lies past the end of the file (corrupt)", where, first);
            ensure<InputError>(size >= chunk * elem, "{}: chunk at row {} stores {} bytes, needs {} (corrupt file)", where, first, size,
                               chunk * elem);
            check_below_eoa(ds, addr, chunk * elem, where);
            read_rows(raw.read(userblock + addr, chunk * elem, "a chunk of string references"), first);
        }
    } else {
        refuse(layout == H5D_COMPACT ? "compact" : "virtual or unknown-layout");
    }
    return out;
}

}  // namespace aftershock::h5::detail
