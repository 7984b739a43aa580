#include "aftershock/common/shard_file.hpp"

#include "aftershock/common/checksum.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"

#include <fmt/ranges.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

namespace aftershock {

bool serves_dense_exactly(const DenseShard& d) noexcept {
    return !d.index.has_value() || d.params.type == dense::IndexType::flat;
}
namespace {

using seismic::ForwardIndex;
using seismic::SeismicArrays;

constexpr const char* kFormatName = "aftershock-shard";

/// Every array of a shard in one fixed order: the checksum and the writer/reader agree through this list.
template <typename Visitor> void visit_sparse(Visitor&& v, const ForwardIndex& f, const SeismicArrays& a) {
    v("/sparse/forward/offsets", f.offsets());
    v("/sparse/forward/packed", f.packed());
    v("/sparse/forward/components32", f.components32());
    v("/sparse/forward/values32", f.values32());
    v("/sparse/lists/offsets", a.list_offsets);
    v("/sparse/lists/postings", a.postings);
    v("/sparse/blocks/list_offsets", a.list_blocks);
    v("/sparse/blocks/ends", a.block_ends);
    v("/sparse/blocks/summary_min", a.summary_min);
    v("/sparse/blocks/summary_quant", a.summary_quant);
    v("/sparse/summaries/list_entries", a.list_entries);
    v("/sparse/summaries/entry_step", a.entry_step);
    v("/sparse/summaries/entry_word", a.entry_word);
    v("/sparse/knn/neighbours", a.neighbours);
}

/// Hashes vectors that are not in memory (disk store): must feed exactly the bytes of DenseMatrix::data.
using VectorStream = std::function<void(ContentHash&)>;

/// `faiss_bytes`: the serialised dense index (empty without one), hashed as stored.
std::string content_checksum(const Shard& s, const std::vector<std::uint8_t>& faiss_bytes, const VectorStream& stream = {}) {
    ContentHash h;
    const auto& m = s.meta;
    for (std::uint64_t x : {std::uint64_t{m.shard}, std::uint64_t{m.n_shards}, m.doc_begin, m.doc_end}) h.update(&x, sizeof x);
    h.update(m.build_params.data(), m.build_params.size());
    for (const auto& id : s.ids) {
        const std::uint64_t n = id.size();
        h.update(&n, sizeof n);
        h.update(id.data(), id.size());
    }
    if (s.sparse) {
        const std::uint64_t dims[] = {s.sparse->dim(), s.sparse->arrays().knn, s.sparse->arrays().code_bits};
        h.update(dims, sizeof dims);
        visit_sparse([&](const char*, const auto& vec) { h.update(vec); }, s.sparse->forward(), s.sparse->arrays());
    }
    if (s.dense) {
        const auto& v = s.dense->vectors;
        const auto params = dense::to_json(s.dense->params);
        const auto metric = to_string(v.metric);
        const std::uint64_t dims[] = {v.n, v.d, metric.size(), params.size()};
        h.update(dims, sizeof dims);
        h.update(metric.data(), metric.size());
        h.update(params.data(), params.size());
        if (stream) {
            stream(h);
        } else {
            h.update(v.data);
        }
        h.update(faiss_bytes);
    }
    return h.hex();
}

/// What a failed write means, for the one-line error.
std::string write_error(int err) {
    if (err == ENOSPC) return "disk full";
    if (err == EFBIG) return "file size limit reached (EFBIG: ulimit -f / RLIMIT_FSIZE)";
    return std::strerror(err);
}

/// Writes bytes to a new file with POSIX calls, so a full disk is an error we see and report (HDF5 1.10
/// crashes at exit after a failed flush of a file it wrote itself), then fsyncs it.
void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ensure(fd >= 0, "cannot create {}: {}", path, std::strerror(errno));
    std::size_t done = 0;
    while (done < bytes.size()) {
        const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = errno;
            ::close(fd);
            throw Error(fmt::format("write of {} failed after {} of {} bytes: {}", path, done, bytes.size(),
                                    write_error(err)));
        }
        done += static_cast<std::size_t>(n);
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    ensure(rc == 0, "fsync of {} failed: {}", path, write_error(err));
}

void fsync_path(const std::string& path, bool directory) {
    const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    ensure(fd >= 0, "cannot open {} to fsync it", path);
    const int rc = ::fsync(fd);
    ::close(fd);
    ensure(rc == 0, "fsync of {} failed (disk full or I/O error)", path);
}

}  // namespace

std::string shard_file_name(std::uint32_t shard) { return fmt::format("shard-{:05d}.h5", shard); }

std::string write_shard(const std::string& path, const Shard& s) {
    const auto tmp = path + ".tmp";
    const auto faiss_bytes = s.dense && s.dense->index ? s.dense->index->serialize() : std::vector<std::uint8_t>{};
    const auto checksum = content_checksum(s, faiss_bytes);
    try {
        // Built in memory, written by write_bytes: HDF5 never writes to the disk itself.
        h5::File f(tmp, h5::File::Mode::in_memory);
        f.write_attr("/", "format", std::string(kFormatName));
        f.write_attr("/", "format_version", kShardFormatVersion);
        f.write_attr("/", "shard", std::uint64_t{s.meta.shard});
        f.write_attr("/", "n_shards", std::uint64_t{s.meta.n_shards});
        f.write_attr("/", "doc_begin", s.meta.doc_begin);
        f.write_attr("/", "doc_end", s.meta.doc_end);
        f.write_attr("/", "build_params", s.meta.build_params);
        f.write_attr("/", "checksum", checksum);
        // Ids as one byte blob plus offsets, not HDF5 variable-length strings: HDF5 1.10 can crash on a
        // corrupt vlen heap, while these two arrays are validated before use.
        std::vector<std::uint64_t> id_offsets{0};
        std::vector<std::uint8_t> id_bytes;
        for (const auto& id : s.ids) {
            id_bytes.insert(id_bytes.end(), id.begin(), id.end());
            id_offsets.push_back(id_bytes.size());
        }
        f.write<std::uint64_t>("/ids/offsets", id_offsets);
        f.write<std::uint8_t>("/ids/bytes", id_bytes);
        if (s.sparse) {
            visit_sparse([&](const char* name, const auto& vec) {
                using T = typename std::decay_t<decltype(vec)>::value_type;
                f.write<T>(name, vec);
            }, s.sparse->forward(), s.sparse->arrays());
            f.write_attr("/sparse", "dim", s.sparse->dim());
            f.write_attr("/sparse", "knn", std::uint64_t{s.sparse->arrays().knn});
            f.write_attr("/sparse/summaries", "code_bits", std::uint64_t{s.sparse->arrays().code_bits});
        }
        if (s.dense) {
            const auto& v = s.dense->vectors;
            ensure(v.n == s.ids.size(), "shard {}: {} dense vectors for {} documents", s.meta.shard, v.n, s.ids.size());
            // Chunked (about 1 MiB per chunk): row ranges can be read without the whole matrix.
            auto rows = f.appender<float>("/dense/vectors", v.d);
            rows.append(v.data);
            rows.close();
            if (s.dense->index) f.write<std::uint8_t>("/dense/faiss", faiss_bytes);
            f.write_attr("/dense", "metric", std::string(to_string(v.metric)));
            f.write_attr("/dense", "dim", std::uint64_t{v.d});
            f.write_attr("/dense", "index_type", std::string(dense::to_string(s.dense->params.type)));
            f.write_attr("/dense", "index_params", dense::to_json(s.dense->params));
        }
        write_bytes(tmp, f.image());
    } catch (...) {
        std::filesystem::remove(tmp);
        throw;
    }
    std::filesystem::rename(tmp, path);
    const auto dir = std::filesystem::path(path).parent_path();
    fsync_path(dir.empty() ? "." : dir.string(), true);
    return checksum;
}

std::vector<float> dense_row(const DenseShard& d, std::size_t row) {
    const auto& v = d.vectors;
    ensure(row < v.n, "dense row {} out of range ({} rows)", row, v.n);
    std::vector<float> out(v.d);
    if (d.disk) {
        d.disk->read(row, out.data());
    } else {
        std::copy_n(v.data.begin() + static_cast<std::ptrdiff_t>(row * v.d), v.d, out.begin());
    }
    return out;
}

Shard read_shard(const std::string& path, DenseStoreMode dense_store) {
    const h5::File f(path, h5::File::Mode::read_checksummed);
    // Messages are built only on failure: these checks run once per document and posting.
    const auto where = [&](const std::string& what) { return fmt::format("shard {}: {}", path, what); };
    const auto require = [&](bool ok, auto&& describe) {
        if (!ok) throw InputError(where(describe()));
    };
    // Every string attribute is read fixed-length only (see h5::File::Strings): versions 3 and 4 write no other kind.
    constexpr auto fixed = h5::File::Strings::fixed_only;
    require(f.has_attr("/", "format") && f.has_attr("/", "format_version"), [] { return std::string("not an Aftershock shard file"); });
    const auto version = f.read_attr_u64("/", "format_version");
    require(version != 2, [] {
        return std::string("format version 2 is no longer read: its string attributes are variable-length, which HDF5 1.10 cannot "
                           "read safely from a corrupt file; rebuild the index with this aftershock-build");
    });
    require(version == kShardFormatVersion, [&] {
        return fmt::format("format version {} is not supported (this build reads version {} only; rebuild the index "
                           "with this aftershock-build)", version, kShardFormatVersion);
    });
    require(f.read_attr_string("/", "format", fixed) == kFormatName, [] { return std::string("not an Aftershock shard file"); });
    Shard s;
    s.meta.shard = static_cast<std::uint32_t>(f.read_attr_u64("/", "shard"));
    s.meta.n_shards = static_cast<std::uint32_t>(f.read_attr_u64("/", "n_shards"));
    s.meta.doc_begin = f.read_attr_u64("/", "doc_begin");
    s.meta.doc_end = f.read_attr_u64("/", "doc_end");
    s.meta.build_params = f.read_attr_string("/", "build_params", fixed);
    require(s.meta.doc_begin <= s.meta.doc_end && s.meta.shard < s.meta.n_shards, [] { return std::string("bad shard metadata"); });
    {
        const auto id_offsets = f.read<std::uint64_t>("/ids/offsets");
        const auto id_bytes = f.read<std::uint8_t>("/ids/bytes");
        // size() - 1, not doc_end - doc_begin + 1: the latter wraps to 0 for doc_end = 2^64 - 1, and front() of
        // an empty array is undefined.
        require(!id_offsets.empty() && id_offsets.size() - 1 == s.meta.doc_end - s.meta.doc_begin &&
                    id_offsets.front() == 0 && id_offsets.back() == id_bytes.size(),
                [&] { return fmt::format("{} id offsets for {} documents", id_offsets.size(), s.meta.doc_end - s.meta.doc_begin); });
        s.ids.reserve(id_offsets.size() - 1);
        for (std::size_t i = 0; i + 1 < id_offsets.size(); ++i) {
            // Bounded by the bytes too: only back() was compared with them, and a flipped middle offset (found by
            // the ASan run of the byte-flip test) read past /ids/bytes before a later pair was refused.
            require(id_offsets[i] <= id_offsets[i + 1] && id_offsets[i + 1] <= id_bytes.size(),
                    [&] { return fmt::format("id offsets not monotone at {}", i); });
            s.ids.emplace_back(reinterpret_cast<const char*>(id_bytes.data() + id_offsets[i]), id_offsets[i + 1] - id_offsets[i]);
        }
    }
    if (f.exists("/sparse")) {
        const auto dim = f.read_attr_u64("/sparse", "dim");
        SeismicArrays a;
        a.knn = static_cast<std::uint32_t>(f.read_attr_u64("/sparse", "knn"));
        // Saturated, not wrapped: the index's check of 4..8 then sees a bad value as bad.
        a.code_bits = static_cast<std::uint32_t>(std::min<std::uint64_t>(f.read_attr_u64("/sparse/summaries", "code_bits"), 255));
        auto offsets = f.read<std::uint64_t>("/sparse/forward/offsets");
        auto packed = f.read<std::uint32_t>("/sparse/forward/packed");
        auto c32 = f.read<std::uint32_t>("/sparse/forward/components32");
        auto values = f.read<std::uint16_t>("/sparse/forward/values32");
        const bool wide = dim > 65536;
        require(!offsets.empty() && offsets.front() == 0 && offsets.size() - 1 == s.ids.size() &&
                    (wide ? c32.size() == offsets.back() && values.size() == offsets.back() && packed.empty()
                          : packed.size() == offsets.back() && c32.empty() && values.empty()),
                [] { return std::string("forward index arrays disagree"); });
        for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
            require(offsets[i] <= offsets[i + 1] && offsets[i + 1] - offsets[i] <= 0xFFFFU,
                    [&] { return fmt::format("forward index row {} has bad offsets", i); });
        }
        require(std::all_of(packed.begin(), packed.end(), [&](std::uint32_t e) { return (e & 0xFFFFU) < dim; }) &&
                    std::all_of(c32.begin(), c32.end(), [&](std::uint32_t c) { return c < dim; }),
                [] { return std::string("forward component out of range"); });
        ForwardIndex fwd(dim, std::move(offsets), std::move(packed), std::move(c32), std::move(values));
        a.list_offsets = f.read<std::uint64_t>("/sparse/lists/offsets");
        a.postings = f.read<std::uint64_t>("/sparse/lists/postings");
        a.list_blocks = f.read<std::uint64_t>("/sparse/blocks/list_offsets");
        a.block_ends = f.read<std::uint32_t>("/sparse/blocks/ends");
        a.summary_min = f.read<float>("/sparse/blocks/summary_min");
        a.summary_quant = f.read<float>("/sparse/blocks/summary_quant");
        a.list_entries = f.read<std::uint64_t>("/sparse/summaries/list_entries");
        a.entry_step = f.read<std::uint8_t>("/sparse/summaries/entry_step");
        a.entry_word = f.read<std::uint16_t>("/sparse/summaries/entry_word");
        a.neighbours = f.read<std::uint32_t>("/sparse/knn/neighbours");
        seismic::BuildParams params;  // informative only; the JSON in meta is the record
        params.knn = a.knn;
        try {
            s.sparse.emplace(std::move(fwd), std::move(a), params);
        } catch (const InputError& e) {
            throw InputError(where(e.what()));
        }
    }
    std::vector<std::uint8_t> faiss_bytes;
    if (f.exists("/dense")) {
        DenseShard d;
        try {
            d.vectors.metric = parse_metric(f.read_attr_string("/dense", "metric", fixed));
            d.params = dense::from_json(f.read_attr_string("/dense", "index_params", fixed));
        } catch (const Error& e) {
            throw InputError(where(fmt::format("/dense: {}", e.what())));
        }
        d.vectors.d = f.read_attr_u64("/dense", "dim");
        const auto shape = f.shape("/dense/vectors");
        require(shape.size() == 2 && shape[0] == s.ids.size() && shape[1] == d.vectors.d && d.vectors.d > 0, [&] {
            return fmt::format("/dense/vectors has shape {} for {} documents of dimension {}", fmt::join(shape, "x"),
                               s.ids.size(), d.vectors.d);
        });
        require(dense::to_string(d.params.type) == f.read_attr_string("/dense", "index_type", fixed) &&
                    d.params.type != dense::IndexType::automatic,
                [] { return std::string("/dense index_type disagrees with index_params"); });
        d.vectors.n = shape[0];
        if (dense_store == DenseStoreMode::memory) d.vectors.data = f.read<float>("/dense/vectors");
        const bool has_index = d.params.type != dense::IndexType::none;
        require(f.exists("/dense/faiss") == has_index, [&] {
            return fmt::format("/dense/faiss is {} for index type {}", has_index ? "missing" : "present",
                               dense::to_string(d.params.type));
        });
        if (has_index) faiss_bytes = f.read<std::uint8_t>("/dense/faiss");
        s.dense = std::move(d);
    }
    const auto stored = f.read_attr_string("/", "checksum", fixed);
    VectorStream stream;
    if (s.dense && dense_store == DenseStoreMode::disk) {
        // Streamed in blocks of an even number of rows: every update but the last is a multiple of 8 bytes, so
        // the hash equals that of the whole array. Finiteness is checked on the way, as validate_dense would.
        stream = [&](ContentHash& h) {
            const auto& v = s.dense->vectors;
            const std::uint64_t count = v.n * v.d;
            h.update(&count, sizeof count);
            constexpr std::size_t kRows = 4096;
            for (std::size_t b = 0; b < v.n; b += kRows) {
                const auto e = std::min(v.n, b + kRows);
                DenseMatrix block;
                block.n = e - b;
                block.d = v.d;
                block.data = f.read<float>("/dense/vectors", b, e);
                validate_dense(block, path + ":/dense/vectors", b);
                h.update(block.data.data(), block.data.size() * sizeof(float));
            }
        };
    }
    const auto actual = content_checksum(s, faiss_bytes, stream);
    require(stored == actual, [&] { return fmt::format("checksum mismatch (stored {}, computed {}): the file is corrupt", stored, actual); });
    s.checksum = stored;
    // Parsed only now: FAISS's reader trusts the lengths it reads, so it sees checksummed bytes only (and
    // deserialize() still validates what it gets).
    if (s.dense) {
        if (dense_store == DenseStoreMode::memory) validate_dense(s.dense->vectors, path + ":/dense/vectors");
        if (dense_store == DenseStoreMode::disk) s.dense->disk = std::make_shared<const DiskRows>(path, s.dense->vectors.n, s.dense->vectors.d);
        if (!faiss_bytes.empty()) {
            s.dense->index = dense::DenseIndex::deserialize(faiss_bytes, s.dense->params.type, s.dense->vectors.d,
                                                            s.dense->vectors.metric, s.dense->vectors.n, where("/dense/faiss"));
        }
    }
    return s;
}

}  // namespace aftershock
