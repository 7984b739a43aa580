#pragma once
// Private to the importers: record types, the holdout window, batched sinks and the writers that turn
// parsed records into corpus rows. Format files only parse; everything they share lives here.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/import/importers.hpp"
#include "aftershock/common/import/vocabulary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aftershock::import_detail {

/// Everything a format importer needs; the format reads opt.docs / opt.queries and feeds a writer.
struct Context {
    const ImportOptions& opt;
    h5::File& out;
    ImportStats& stats;
    Vocabulary vocab;  ///< fixed (--vocab or the appended corpus' /vocab) or growing
    double weight_scale = 1.0;
    Metric metric = Metric::ip;
    [[nodiscard]] bool has_docs() const noexcept { return !opt.docs.empty(); }
    [[nodiscard]] bool has_queries() const noexcept { return !opt.queries.empty(); }
};

/// Position of a record in its input: "FILE: line 12" (1-based) or "FILE: vector 7" (0-based).
struct Where {
    const std::string* file = nullptr;
    const char* unit = "line";
    std::uint64_t pos = 0;
};
[[nodiscard]] std::string to_string(const Where& w);

/// A line of only spaces, tabs and CRs (skipped by the line-based formats).
[[nodiscard]] inline bool is_blank(std::string_view line) noexcept {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

/// Throws InputError "FILE: line N: message".
template <typename... Args>
[[noreturn]] void fail(const Where& w, fmt::format_string<Args...> format, Args&&... args) {
    throw InputError(to_string(w) + ": " + fmt::format(format, std::forward<Args>(args)...));
}

struct TokenRecord {
    std::string id;
    std::vector<std::string> tokens;
    std::vector<float> weights;  ///< scaled, checked finite and >= 0
    std::uint64_t index = 0;     ///< 0-based record number in its file
    Where where;
};

struct IndexRecord {
    std::string id;  ///< empty: implicit (the record number)
    std::vector<std::uint32_t> indices;
    std::vector<float> values;  ///< scaled, checked finite and >= 0
    std::uint64_t index = 0;
    Where where;
};

struct DenseRecord {
    std::string id;  ///< empty: implicit
    std::vector<float> values;
    std::uint64_t index = 0;
    Where where;
};

/// Checks one raw sparse weight (finite, >= 0) and returns it divided by `scale` as f32; `name()` names
/// the component in messages (called only on error).
template <typename Name>
float scaled_weight(double w, double scale, const Where& where, Name&& name) {
    if (!std::isfinite(w)) fail(where, "non-finite weight {} for {}", w, name());
    if (w < 0) fail(where, "negative weight {} for {}", w, name());
    return static_cast<float>(w / scale);
}

/// Parses a decimal floating-point number (the whole of `s`); nullopt if it is not one.
[[nodiscard]] std::optional<float> parse_float(std::string_view s);

/// Keeps the last `n` records back: push() hands older ones on as documents; held() are the queries.
template <typename Record>
class Holdout {
public:
    explicit Holdout(std::size_t n) : m_n(n) {}
    template <typename Emit>
    void push(Record&& r, Emit&& emit) {
        if (m_n == 0) {
            emit(r);
            return;
        }
        m_held.push_back(std::move(r));
        if (m_held.size() > m_n) {
            emit(m_held.front());
            m_held.pop_front();
        }
    }
    [[nodiscard]] std::deque<Record>& held() noexcept { return m_held; }
    [[nodiscard]] std::size_t size() const noexcept { return m_n; }

private:
    std::size_t m_n;
    std::deque<Record> m_held;
};

/// Batches sparse rows (and their ids) into SparseRowWriter blocks.
class SparseSink {
public:
    SparseSink(h5::File& file, Side side, std::size_t batch_rows);
    /// Appends a clean row (ascending, positive). Ids are written if the first row has one; then all must.
    void add(std::span<const std::uint32_t> idx, std::span<const float> val, const std::string& id);
    /// Flushes and writes the dim attribute.
    void finish(std::uint64_t dim);
    [[nodiscard]] std::uint64_t rows() const noexcept { return m_rows; }
    [[nodiscard]] std::uint64_t nnz() const noexcept { return m_nnz; }

private:
    void flush();
    h5::File& m_file;
    Side m_side;
    std::size_t m_batch_rows;
    SparseRowWriter m_writer;
    CsrMatrix m_batch;
    std::vector<std::string> m_ids;
    h5::File::StringAppender m_id_writer;
    std::optional<bool> m_with_ids;
    std::uint64_t m_rows = 0;
    std::uint64_t m_nnz = 0;
};

/// Batches dense rows (and ids); the dataset is created with the first row's dimension.
class DenseSink {
public:
    DenseSink(h5::File& file, Side side, std::size_t batch_rows, Metric metric);
    void add(std::span<const float> row, const std::string& id);
    void finish();
    [[nodiscard]] std::uint64_t rows() const noexcept { return m_rows; }
    [[nodiscard]] std::size_t dim() const noexcept { return m_d; }

private:
    void flush();
    h5::File& m_file;
    Side m_side;
    std::size_t m_batch_rows;
    Metric m_metric;
    std::optional<DenseRowWriter> m_writer;
    std::vector<float> m_batch;
    std::vector<std::string> m_ids;
    h5::File::StringAppender m_id_writer;
    std::optional<bool> m_with_ids;
    std::size_t m_d = 0;
    std::uint64_t m_rows = 0;
};

/// Drops zero weights (counted), sorts by component and rejects a repeated component; `name(i)` names
/// component i in the message.
template <typename Name>
void finish_row(std::vector<std::uint32_t>& idx, std::vector<float>& val, const Where& where, std::uint64_t& dropped,
                Name&& name) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < idx.size(); ++i) {
        if (val[i] == 0.0F) {
            ++dropped;
            continue;
        }
        idx[kept] = idx[i];
        val[kept] = val[i];
        ++kept;
    }
    idx.resize(kept);
    val.resize(kept);
    if (!sort_row(idx, val)) {
        for (std::size_t i = 1; i < idx.size(); ++i) {
            if (idx[i] == idx[i - 1]) fail(where, "duplicate {}", name(idx[i]));
        }
    }
}

/// Throws InputError unless --holdout left at least one document out of `records`.
void check_holdout(const Context& ctx, std::uint64_t records, std::uint64_t held);

/// Token-weighted sparse records (jsonl, tsv-tokens) -> rows through ctx.vocab. Document tokens grow a
/// growing vocabulary and must be known to a fixed one; unknown query tokens are dropped and counted.
class TokenSparseWriter {
public:
    explicit TokenSparseWriter(Context& ctx);
    void doc(TokenRecord&& r);
    /// Ends the documents: held-out records become the queries.
    void finish_docs();
    void query(TokenRecord&& r);
    /// Writes dims, /vocab and the stats.
    void finish();

private:
    void write(TokenRecord& r, Side side);
    Context& m_ctx;
    Holdout<TokenRecord> m_holdout;
    std::optional<SparseSink> m_docs;
    std::optional<SparseSink> m_queries;
    std::uint64_t m_records = 0;
    std::vector<std::uint32_t> m_idx;
    std::vector<float> m_val;
};

/// Index-weighted sparse records (bigann-csr, seismic-bin) -> rows; tracks the largest component.
class IndexSparseWriter {
public:
    explicit IndexSparseWriter(Context& ctx);
    void doc(IndexRecord&& r);
    void finish_docs();
    void query(IndexRecord&& r);
    /// Writes both sides' dim attribute (the documents' dim) and the stats.
    void finish(std::uint64_t dim);
    /// Largest component seen + 1 (0 if none).
    [[nodiscard]] std::uint64_t observed_dim() const noexcept { return m_observed_dim; }

private:
    void write(IndexRecord& r, Side side);
    Context& m_ctx;
    Holdout<IndexRecord> m_holdout;
    std::optional<SparseSink> m_docs;
    std::optional<SparseSink> m_queries;
    std::uint64_t m_records = 0;
    std::uint64_t m_observed_dim = 0;
};

/// Dense records -> rows; every row of both sides must have the first row's dimension.
class DenseWriter {
public:
    explicit DenseWriter(Context& ctx);
    void doc(DenseRecord&& r);
    void finish_docs();
    void query(DenseRecord&& r);
    void finish();
    [[nodiscard]] std::size_t dim() const noexcept { return m_d; }

private:
    void write(DenseRecord& r, Side side);
    Context& m_ctx;
    Holdout<DenseRecord> m_holdout;
    std::optional<DenseSink> m_docs;
    std::optional<DenseSink> m_queries;
    std::uint64_t m_records = 0;
    std::size_t m_d = 0;
};

/// A gzip-transparent binary input with exact reads; truncation names the file and the caller's context.
class BinaryReader {
public:
    explicit BinaryReader(std::string path);
    ~BinaryReader();
    BinaryReader(const BinaryReader&) = delete;
    BinaryReader& operator=(const BinaryReader&) = delete;
    /// Reads exactly `bytes` bytes or throws InputError "FILE: truncated file reading <what> ...".
    void read(void* dst, std::size_t bytes, std::string_view what) { read(dst, bytes, nullptr, what); }
    /// The same, naming the record: "FILE: vector 7: truncated file reading <what> ...".
    void read(void* dst, std::size_t bytes, const Where* where, std::string_view what);
    /// Like read(), but returns false if the input ends before the first byte (a clean end of records).
    bool read_or_end(void* dst, std::size_t bytes, const Where* where, std::string_view what);
    /// Reads `n` values, growing `out` chunk by chunk (a corrupt count fails at the end of the data
    /// instead of allocating it up front).
    template <typename T>
    void read_array(std::vector<T>& out, std::uint64_t n, const Where* where, std::string_view what) {
        out.clear();
        constexpr std::uint64_t chunk = std::uint64_t{1} << 20;
        for (std::uint64_t done = 0; done < n;) {
            const auto step = std::min(chunk, n - done);
            out.resize(static_cast<std::size_t>(done + step));
            read(out.data() + done, static_cast<std::size_t>(step) * sizeof(T), where, what);
            done += step;
        }
    }
    /// Skips forward to an absolute uncompressed offset.
    void seek(std::uint64_t offset);
    /// Throws InputError "FILE: trailing data after <what>" unless the input is exhausted.
    void expect_end(const std::string& what);
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    [[nodiscard]] bool compressed() const noexcept { return m_compressed; }
    /// File size in bytes for uncompressed files (nullopt for gzip, whose size is known only at the end).
    [[nodiscard]] std::optional<std::uint64_t> size() const noexcept { return m_size; }

private:
    /// Reads up to `bytes`, stopping early only at the end of the input; throws on I/O or gzip errors.
    std::size_t read_upto(void* dst, std::size_t bytes, const Where* where, std::string_view what);
    [[nodiscard]] std::string context(const Where* where) const;
    std::string m_path;
    void* m_gz = nullptr;
    bool m_compressed = false;
    std::optional<std::uint64_t> m_size;
};

/// Reads a BigANN ground-truth file (u32 n, u32 d; i32 I[n*d]; f32 D[n*d]) and checks it against the
/// corpus sizes; neighbors must be in [0, n_docs).
[[nodiscard]] GroundTruth read_bigann_gt(const std::string& path, std::uint64_t n_queries, std::uint64_t n_docs);

/// Runs the importer of ctx.opt.format (no temporary file handling; see import_corpus).
void run_format(Context& ctx);

/// import_corpus with --append: imports into a staging file, then merges it into a copy of opt.out.
ImportStats import_append(const ImportOptions& opt, std::optional<Vocabulary> vocab, double weight_scale, Metric metric);

/// Removes a file when it goes out of scope unless release() was called (temporary outputs).
class TempPath {
public:
    explicit TempPath(std::string path) : m_path(std::move(path)) {}
    ~TempPath();
    TempPath(const TempPath&) = delete;
    TempPath& operator=(const TempPath&) = delete;
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    /// Renames the file to `target` (replacing it) and stops owning it.
    void commit(const std::string& target);

private:
    std::string m_path;
    bool m_owned = true;
};

void import_jsonl(Context& ctx);
void import_tsv_tokens(Context& ctx);
void import_bigann_csr(Context& ctx);
void import_seismic_bin(Context& ctx);
void import_ann_benchmarks(Context& ctx);
void import_tsv_dense(Context& ctx);
void import_fvecs(Context& ctx);
void import_text(Context& ctx);

}  // namespace aftershock::import_detail
