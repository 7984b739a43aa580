#include "import_common.hpp"

#include "gzip_input.hpp"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace aftershock::import_detail {

static_assert(std::endian::native == std::endian::little, "binary importers read little-endian files directly");

std::string to_string(const Where& w) { return fmt::format("{}: {} {}", *w.file, w.unit, w.pos); }

std::optional<float> parse_float(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    float v = 0;
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, v);
    if (ec != std::errc() || ptr != end || s.empty()) return std::nullopt;
    return v;
}

void check_holdout(const Context& ctx, std::uint64_t records, std::uint64_t held) {
    if (ctx.opt.holdout == 0) return;
    ensure<InputError>(records > held, "{}: --holdout {} needs more records than that, the file has {}",
                       ctx.opt.docs, ctx.opt.holdout, records);
}

// ---------------------------------------------------------------------------------------------- sinks

SparseSink::SparseSink(h5::File& file, Side side, std::size_t batch_rows)
    : m_file(file), m_side(side), m_batch_rows(std::max<std::size_t>(batch_rows, 1)), m_writer(file, side) {}

void SparseSink::add(std::span<const std::uint32_t> idx, std::span<const float> val, const std::string& id) {
    if (!m_with_ids) m_with_ids = !id.empty();
    ensure(*m_with_ids == !id.empty(), "{}: rows with and without ids mixed (row {})", sparse_group(m_side), m_rows);
    m_batch.append_row(idx, val);
    if (*m_with_ids) m_ids.push_back(id);
    ++m_rows;
    m_nnz += idx.size();
    if (m_batch.n_rows() >= m_batch_rows) flush();
}

void SparseSink::flush() {
    if (m_batch.n_rows() == 0) return;
    m_writer.append(m_batch);
    m_batch.clear();
    if (!m_ids.empty()) {
        if (!m_id_writer.valid()) m_id_writer = m_file.string_appender(ids_dataset(m_side));
        m_id_writer.append(m_ids);
        m_ids.clear();
    }
}

void SparseSink::finish(std::uint64_t dim) {
    flush();
    m_writer.finish(dim);
}

DenseSink::DenseSink(h5::File& file, Side side, std::size_t batch_rows, Metric metric)
    : m_file(file), m_side(side), m_batch_rows(std::max<std::size_t>(batch_rows, 1)), m_metric(metric) {}

void DenseSink::add(std::span<const float> row, const std::string& id) {
    if (!m_writer) {
        m_d = row.size();
        m_writer.emplace(m_file, m_side, m_d, m_metric);
        m_with_ids = !id.empty();
    }
    ensure(row.size() == m_d, "{}: row {} has dimension {}, expected {}", dense_dataset(m_side), m_rows, row.size(), m_d);
    ensure(*m_with_ids == !id.empty(), "{}: rows with and without ids mixed (row {})", dense_dataset(m_side), m_rows);
    m_batch.insert(m_batch.end(), row.begin(), row.end());
    if (*m_with_ids) m_ids.push_back(id);
    ++m_rows;
    if (m_batch.size() >= m_batch_rows * m_d) flush();
}

void DenseSink::flush() {
    if (m_batch.empty()) return;
    m_writer->append(m_batch);
    m_batch.clear();
    if (!m_ids.empty()) {
        if (!m_id_writer.valid()) m_id_writer = m_file.string_appender(ids_dataset(m_side));
        m_id_writer.append(m_ids);
        m_ids.clear();
    }
}

void DenseSink::finish() { flush(); }

// -------------------------------------------------------------------------------------- token writer

TokenSparseWriter::TokenSparseWriter(Context& ctx) : m_ctx(ctx), m_holdout(ctx.opt.holdout) {
    ensure<UsageError>(ctx.has_docs() || ctx.vocab.fixed(),
                       "sparse queries without documents need a vocabulary: give --vocab (or append to a corpus with /vocab)");
}

void TokenSparseWriter::doc(TokenRecord&& r) {
    ++m_records;
    m_holdout.push(std::move(r), [&](TokenRecord& d) { write(d, Side::docs); });
}

void TokenSparseWriter::finish_docs() {
    check_holdout(m_ctx, m_records, m_holdout.size());
    for (auto& r : m_holdout.held()) write(r, Side::queries);
    m_holdout.held().clear();
}

void TokenSparseWriter::query(TokenRecord&& r) { write(r, Side::queries); }

void TokenSparseWriter::write(TokenRecord& r, Side side) {
    auto& vocab = m_ctx.vocab;
    m_idx.clear();
    m_val.clear();
    for (std::size_t i = 0; i < r.tokens.size(); ++i) {
        const auto& tok = r.tokens[i];
        if (r.weights[i] == 0.0F) {
            ++m_ctx.stats.dropped_zero_weights;  // before mapping: a zero weight adds no vocabulary entry
            continue;
        }
        std::uint32_t id = 0;
        if (side == Side::docs) {
            if (vocab.fixed()) {
                const auto found = vocab.find(tok);
                if (!found) fail(r.where, "unknown token '{}' (not in the vocabulary {})", tok, vocab.source());
                id = *found;
            } else {
                id = vocab.add(tok);
            }
        } else {
            const auto found = vocab.find(tok);
            if (!found) {
                ++m_ctx.stats.unknown_query_tokens;
                continue;
            }
            id = *found;
        }
        m_idx.push_back(id);
        m_val.push_back(r.weights[i]);
    }
    finish_row(m_idx, m_val, r.where, m_ctx.stats.dropped_zero_weights,
               [&](std::uint32_t c) { return fmt::format("token '{}'", vocab.token(c)); });
    auto& sink = side == Side::docs ? m_docs : m_queries;
    if (!sink) sink.emplace(m_ctx.out, side, m_ctx.opt.batch_rows);
    sink->add(m_idx, m_val, r.id);
}

void TokenSparseWriter::finish() {
    const auto dim = static_cast<std::uint64_t>(m_ctx.vocab.size());
    auto& st = m_ctx.stats;
    if (m_docs) {
        m_docs->finish(dim);
        st.docs = m_docs->rows();
        st.doc_nnz = m_docs->nnz();
        if (dim > 0) m_ctx.out.write_strings("/vocab", m_ctx.vocab.tokens());
    }
    if (m_queries) {
        m_queries->finish(dim);  // queries live in the documents' space
        st.queries = m_queries->rows();
        st.query_nnz = m_queries->nnz();
    }
    st.dim = dim;
    if (st.unknown_query_tokens > 0) {
        spdlog::info("import: dropped {} query tokens that are not in the {} vocabulary", st.unknown_query_tokens,
                     m_ctx.vocab.fixed() ? "fixed" : "documents'");
    }
}

// -------------------------------------------------------------------------------------- index writer

IndexSparseWriter::IndexSparseWriter(Context& ctx) : m_ctx(ctx), m_holdout(ctx.opt.holdout) {}

void IndexSparseWriter::doc(IndexRecord&& r) {
    ++m_records;
    m_holdout.push(std::move(r), [&](IndexRecord& d) { write(d, Side::docs); });
}

void IndexSparseWriter::finish_docs() {
    check_holdout(m_ctx, m_records, m_holdout.size());
    for (auto& r : m_holdout.held()) {
        if (r.id.empty()) r.id = std::to_string(r.index);  // keep where a held-out query came from
        write(r, Side::queries);
    }
    m_holdout.held().clear();
}

void IndexSparseWriter::query(IndexRecord&& r) { write(r, Side::queries); }

void IndexSparseWriter::write(IndexRecord& r, Side side) {
    finish_row(r.indices, r.values, r.where, m_ctx.stats.dropped_zero_weights,
               [](std::uint32_t c) { return fmt::format("component {}", c); });
    if (!r.indices.empty()) m_observed_dim = std::max<std::uint64_t>(m_observed_dim, std::uint64_t{r.indices.back()} + 1);
    auto& sink = side == Side::docs ? m_docs : m_queries;
    if (!sink) sink.emplace(m_ctx.out, side, m_ctx.opt.batch_rows);
    sink->add(r.indices, r.values, r.id);
}

void IndexSparseWriter::finish(std::uint64_t dim) {
    auto& st = m_ctx.stats;
    if (m_docs) {
        m_docs->finish(dim);
        st.docs = m_docs->rows();
        st.doc_nnz = m_docs->nnz();
    }
    if (m_queries) {
        m_queries->finish(dim);
        st.queries = m_queries->rows();
        st.query_nnz = m_queries->nnz();
    }
    st.dim = dim;
}

// -------------------------------------------------------------------------------------- dense writer

DenseWriter::DenseWriter(Context& ctx) : m_ctx(ctx), m_holdout(ctx.opt.holdout) {}

void DenseWriter::doc(DenseRecord&& r) {
    ++m_records;
    m_holdout.push(std::move(r), [&](DenseRecord& d) { write(d, Side::docs); });
}

void DenseWriter::finish_docs() {
    check_holdout(m_ctx, m_records, m_holdout.size());
    for (auto& r : m_holdout.held()) {
        if (r.id.empty()) r.id = std::to_string(r.index);
        write(r, Side::queries);
    }
    m_holdout.held().clear();
}

void DenseWriter::query(DenseRecord&& r) { write(r, Side::queries); }

void DenseWriter::write(DenseRecord& r, Side side) {
    if (r.values.empty()) fail(r.where, "empty vector");
    if (m_d == 0) m_d = r.values.size();
    if (r.values.size() != m_d) {
        fail(r.where, "dimension {} differs from the first vector's dimension {}", r.values.size(), m_d);
    }
    for (std::size_t c = 0; c < r.values.size(); ++c) {
        if (!std::isfinite(r.values[c])) fail(r.where, "non-finite value {} in column {}", r.values[c], c);
    }
    auto& sink = side == Side::docs ? m_docs : m_queries;
    if (!sink) sink.emplace(m_ctx.out, side, m_ctx.opt.batch_rows, m_ctx.metric);
    sink->add(r.values, r.id);
}

void DenseWriter::finish() {
    auto& st = m_ctx.stats;
    if (m_docs) {
        m_docs->finish();
        st.docs = m_docs->rows();
    }
    if (m_queries) {
        m_queries->finish();
        st.queries = m_queries->rows();
    }
    st.dense_dim = m_d;
}

// -------------------------------------------------------------------------------------- binary reader

namespace {
gzFile as_gz(void* p) { return static_cast<gzFile>(p); }
}  // namespace

BinaryReader::BinaryReader(std::string path) : m_path(std::move(path)) {
    const auto in = open_gzip_input(m_path);
    m_gz = in.file;
    m_compressed = in.compressed;
    if (!m_compressed) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(m_path, ec);
        if (!ec) m_size = size;
    }
}

BinaryReader::~BinaryReader() {
    if (m_gz != nullptr) gzclose(as_gz(m_gz));
}

std::string BinaryReader::context(const Where* where) const { return where ? to_string(*where) : m_path; }

std::size_t BinaryReader::read_upto(void* dst, std::size_t bytes, const Where* where, std::string_view what) {
    auto* out = static_cast<char*>(dst);
    std::size_t done = 0;
    while (done < bytes) {
        const auto step = static_cast<unsigned>(std::min<std::size_t>(bytes - done, std::size_t{1} << 30));
        const int n = gzread(as_gz(m_gz), out + done, step);
        int err = Z_OK;
        const char* msg = gzerror(as_gz(m_gz), &err);
        // Z_BUF_ERROR is a gzip stream cut short: what was read is returned, the next read gives 0.
        if (n < 0 || (err != Z_OK && err != Z_BUF_ERROR)) {
            throw InputError(fmt::format("{}: reading {}: {}", context(where), what,
                                         err == Z_ERRNO ? fmt::format("read error: {}", std::strerror(errno))
                                                        : fmt::format("corrupt gzip data: {}", msg)));
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

void BinaryReader::read(void* dst, std::size_t bytes, const Where* where, std::string_view what) {
    const auto got = read_upto(dst, bytes, where, what);
    ensure<InputError>(got == bytes, "{}: truncated file reading {} (expected {} bytes, got {})", context(where), what,
                       bytes, got);
}

bool BinaryReader::read_or_end(void* dst, std::size_t bytes, const Where* where, std::string_view what) {
    const auto got = read_upto(dst, bytes, where, what);
    if (got == 0) return false;
    ensure<InputError>(got == bytes, "{}: truncated file reading {} (expected {} bytes, got {})", context(where), what,
                       bytes, got);
    return true;
}

void BinaryReader::seek(std::uint64_t offset) {
    ensure<InputError>(offset <= static_cast<std::uint64_t>(std::numeric_limits<z_off_t>::max()) &&
                           gzseek(as_gz(m_gz), static_cast<z_off_t>(offset), SEEK_SET) >= 0,
                       "{}: cannot seek to byte {} (truncated file?)", m_path, offset);
}

void BinaryReader::expect_end(const std::string& what) {
    char c = 0;
    const int n = gzread(as_gz(m_gz), &c, 1);
    int err = Z_OK;
    gzerror(as_gz(m_gz), &err);
    ensure<InputError>(n <= 0, "{}: trailing data after {}", m_path, what);
    ensure<InputError>(n == 0 && (err == Z_OK || err == Z_STREAM_END), "{}: truncated or corrupt gzip stream after {}",
                       m_path, what);
}

GroundTruth read_bigann_gt(const std::string& path, std::uint64_t n_queries, std::uint64_t n_docs) {
    BinaryReader r(path);
    std::uint32_t header[2] = {0, 0};
    r.read(header, sizeof header, "header (u32 n, u32 d)");
    const std::uint64_t n = header[0];
    const std::uint64_t d = header[1];
    ensure<InputError>(n == n_queries, "{}: header says {} queries but the corpus has {}", path, n, n_queries);
    ensure<InputError>(d > 0, "{}: header says k = 0 neighbors per query", path);
    if (r.size()) {
        const auto expected = 8 + n * d * 8;
        ensure<InputError>(*r.size() == expected, "{}: file has {} bytes but the header (n={}, d={}) needs {}", path,
                           *r.size(), n, d, expected);
    }
    std::vector<std::int32_t> ids;
    std::vector<float> dist;
    r.read_array(ids, n * d, nullptr, "neighbor ids");
    r.read_array(dist, n * d, nullptr, "distances");
    r.expect_end("the distances");
    GroundTruth gt;
    gt.n_queries = n;
    gt.k = d;
    gt.neighbors.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ensure<InputError>(ids[i] >= 0 && static_cast<std::uint64_t>(ids[i]) < n_docs,
                           "{}: row {}: neighbor {} out of range [0, {})", path, i / d, ids[i], n_docs);
        ensure<InputError>(std::isfinite(dist[i]), "{}: row {}: non-finite distance {}", path, i / d, dist[i]);
        gt.neighbors[i] = ids[i];
    }
    gt.distances = std::move(dist);
    return gt;
}

}  // namespace aftershock::import_detail
