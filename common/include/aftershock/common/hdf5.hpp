#pragma once
// A thin RAII layer over the HDF5 C API: files, 1-D/2-D numeric datasets (whole or by row range),
// extendable datasets for streaming writers, string datasets and scalar attributes. Every object it creates has a
// checksummed (version 2) object header and no timestamps.
// Every failure throws InputError (reading) or Error (writing) naming the file and the dataset.
#include <hdf5.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace aftershock::h5 {

/// Owns one hid_t and closes it with the matching H5?close function.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : m_id(id), m_closer(closer) {}
    Handle(Handle&& o) noexcept : m_id(o.m_id), m_closer(o.m_closer) { o.m_id = H5I_INVALID_HID; }
    Handle& operator=(Handle&& o) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }
    void reset() noexcept;
    [[nodiscard]] hid_t get() const noexcept { return m_id; }
    [[nodiscard]] bool valid() const noexcept { return m_id >= 0; }

private:
    hid_t m_id = H5I_INVALID_HID;
    Closer m_closer = nullptr;
};

template <typename T> hid_t native_type();

/// Streams rows into a chunked dataset whose first dimension grows (1-D, or 2-D with fixed columns).
template <typename T>
class Appender {
public:
    Appender() = default;
    Appender(Handle dataset, std::string where, std::size_t cols) : m_ds(std::move(dataset)), m_where(std::move(where)), m_cols(cols) {}
    /// Appends values.size() / cols rows.
    void append(std::span<const T> values);
    [[nodiscard]] std::uint64_t rows() const noexcept { return m_rows; }
    [[nodiscard]] bool valid() const noexcept { return m_ds.valid(); }
    void close() { m_ds.reset(); }

private:
    Handle m_ds;
    std::string m_where;
    std::size_t m_cols = 1;
    std::uint64_t m_rows = 0;
};

class File {
public:
    /// read, read_write: any HDF5 file; it is first vetted in a separate process (hdf5_vet.hpp), since HDF5 1.10
    /// can crash on corrupt metadata.
    /// read_checksummed: a file written with in_memory (shards): superblock version 3, every metadata structure
    /// checksummed and verified by HDF5; an older superblock is refused before HDF5 parses anything; vetted too.
    /// in_memory: a file that lives only in RAM (HDF5 core driver, no backing store, file format 1.10); image()
    /// returns its bytes, which the caller writes out itself (full control of fsync and of write errors).
    enum class Mode { read, read_checksummed, read_write, truncate, in_memory };
    File(const std::string& path, Mode mode);
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    [[nodiscard]] hid_t id() const noexcept { return m_file.get(); }

    [[nodiscard]] bool exists(const std::string& object) const;
    /// Unlinks an object if it exists (the space is not reclaimed, as usual in HDF5).
    void remove(const std::string& object);
    /// Shape of a dataset; throws InputError if it is missing.
    [[nodiscard]] std::vector<std::uint64_t> shape(const std::string& dataset) const;
    /// True if the dataset holds integers with a sign, false for unsigned; throws if not an integer.
    [[nodiscard]] bool is_signed_integer(const std::string& dataset) const;
    [[nodiscard]] bool is_string(const std::string& dataset) const;

    /// Reads rows [begin, end) of a 1-D or 2-D dataset, converting to T.
    template <typename T>
    [[nodiscard]] std::vector<T> read(const std::string& dataset, std::uint64_t begin, std::uint64_t end) const;
    /// Reads a whole dataset.
    template <typename T> [[nodiscard]] std::vector<T> read(const std::string& dataset) const;
    /// Reads a string dataset (variable or fixed length), rows [begin, end).
    [[nodiscard]] std::vector<std::string> read_strings(const std::string& dataset, std::uint64_t begin,
                                                        std::uint64_t end) const;
    [[nodiscard]] std::vector<std::string> read_strings(const std::string& dataset) const;

    /// Writes a whole dataset (replacing an existing one); dims empty means 1-D of values.size().
    template <typename T>
    void write(const std::string& dataset, std::span<const T> values, std::vector<std::uint64_t> dims = {});
    void write_strings(const std::string& dataset, const std::vector<std::string>& values);

    /// Creates an extendable, chunked, compressed-free dataset for streaming writes.
    template <typename T> [[nodiscard]] Appender<T> appender(const std::string& dataset, std::size_t cols = 0);
    /// Creates an extendable variable-length string dataset and returns a function-like appender.
    class StringAppender {
    public:
        StringAppender() = default;
        StringAppender(Handle ds, std::string where) : m_ds(std::move(ds)), m_where(std::move(where)) {}
        void append(const std::vector<std::string>& values);
        [[nodiscard]] std::uint64_t rows() const noexcept { return m_rows; }
        [[nodiscard]] bool valid() const noexcept { return m_ds.valid(); }

    private:
        Handle m_ds;
        std::string m_where;
        std::uint64_t m_rows = 0;
    };
    [[nodiscard]] StringAppender string_appender(const std::string& dataset);

    [[nodiscard]] bool has_attr(const std::string& object, const std::string& name) const;
    [[nodiscard]] std::uint64_t read_attr_u64(const std::string& object, const std::string& name) const;
    /// Which string attributes read_attr_string accepts. A variable-length string's bytes live in the global heap, which
    /// HDF5 1.10 follows unchecked (a corrupt one crashes or hangs it, see src/hdf5_vlen.hpp) and which cannot be checked
    /// for an attribute: files this project writes use fixed-length attributes and are read with fixed_only.
    enum class Strings { any, fixed_only };
    [[nodiscard]] std::string read_attr_string(const std::string& object, const std::string& name, Strings allow = Strings::any) const;
    [[nodiscard]] double read_attr_f64(const std::string& object, const std::string& name) const;
    void write_attr(const std::string& object, const std::string& name, std::uint64_t value);
    /// A fixed-length (null-padded, UTF-8) string attribute.
    void write_attr(const std::string& object, const std::string& name, const std::string& value);
    void write_attr_f64(const std::string& object, const std::string& name, double value);

    /// File offsets of the chunks of an unfiltered, chunked 2-D dataset, in row order, and the rows per chunk:
    /// lets a reader fetch single rows with pread instead of whole chunks through HDF5. Throws InputError when
    /// the dataset is not chunked, is filtered (compressed) or a chunk is not allocated.
    struct ChunkMap {
        std::uint64_t rows_per_chunk = 0;
        std::vector<std::uint64_t> addresses;  ///< byte offset in the file of chunk i (rows i*rows_per_chunk ...)
    };
    [[nodiscard]] ChunkMap chunk_map(const std::string& dataset) const;

    void flush();
    /// The bytes of the file as it would be on disk (flushes first).
    [[nodiscard]] std::vector<unsigned char> image();

private:
    [[nodiscard]] Handle open_dataset(const std::string& dataset) const;
    [[nodiscard]] Handle open_object(const std::string& object) const;
    /// Opens an attribute that must exist and hold exactly one value (a forged dataspace would overflow the reader).
    [[nodiscard]] Handle open_attr(const std::string& object, const std::string& name) const;
    [[nodiscard]] std::string where(const std::string& object) const { return m_path + ":" + object; }
    std::string m_path;
    Handle m_file;
};

/// The innermost message of the current HDF5 error stack (empty if none).
[[nodiscard]] std::string last_error();

}  // namespace aftershock::h5
