#include "aftershock/common/corpus.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <limits>

namespace aftershock {

std::string_view to_string(Side s) noexcept { return s == Side::docs ? "docs" : "queries"; }
std::string sparse_group(Side side) { return side == Side::docs ? "/docs/sparse" : "/queries/sparse"; }
std::string dense_dataset(Side side) { return side == Side::docs ? "/docs/dense" : "/queries/dense"; }
std::string ids_dataset(Side side) { return side == Side::docs ? "/docs/ids" : "/queries/ids"; }

namespace {

/// ann-benchmarks files keep docs in /train and queries in /test.
std::string ann_dataset(Side side) { return side == Side::docs ? "/train" : "/test"; }

/// Reads an integer slice into T, refusing negative values in signed datasets.
template <typename T>
std::vector<T> read_unsigned(const h5::File& f, const std::string& ds, std::uint64_t begin, std::uint64_t end) {
    if (!f.is_signed_integer(ds)) return f.read<T>(ds, begin, end);
    const auto raw = f.read<std::int64_t>(ds, begin, end);
    std::vector<T> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        ensure<InputError>(raw[i] >= 0 && static_cast<std::uint64_t>(raw[i]) <= std::numeric_limits<T>::max(),
                           "{}:{} row {}: value {} out of range", f.path(), ds, begin + i, raw[i]);
        out[i] = static_cast<T>(raw[i]);
    }
    return out;
}

struct SideShape {
    bool sparse = false;
    bool dense = false;
    std::uint64_t n = 0;
    std::uint64_t dim = 0;
    std::uint64_t nnz = 0;
    std::uint64_t dense_dim = 0;
};

SideShape describe_side(const h5::File& f, Side side) {
    SideShape s;
    const auto group = sparse_group(side);
    const auto where = [&](const std::string& o) { return f.path() + ":" + o; };
    if (f.exists(group)) {
        s.sparse = true;
        const auto ip = f.shape(group + "/indptr");
        const auto ix = f.shape(group + "/indices");
        const auto dt = f.shape(group + "/data");
        ensure<InputError>(ip.size() == 1 && ix.size() == 1 && dt.size() == 1, "{}: indptr, indices and data must be 1-D",
                           where(group));
        ensure<InputError>(ip[0] >= 1, "{}/indptr: empty (needs n+1 entries)", where(group));
        ensure<InputError>(ix[0] == dt[0], "{}: shape mismatch: indices has {} entries, data has {}", where(group), ix[0],
                           dt[0]);
        s.n = ip[0] - 1;
        s.nnz = ix[0];
        s.dim = f.read_attr_u64(group, "dim");
        ensure<InputError>(s.dim <= (std::uint64_t{1} << 32), "{}: dim {} exceeds the u32 index range", where(group),
                           s.dim);
        const auto last = read_unsigned<std::uint64_t>(f, group + "/indptr", s.n, s.n + 1);
        ensure<InputError>(last[0] == s.nnz, "{}/indptr row {}: last entry {} does not match nnz {}", where(group), s.n,
                           last[0], s.nnz);
    }
    const auto dense = dense_dataset(side);
    if (f.exists(dense)) {
        s.dense = true;
        const auto shape = f.shape(dense);
        ensure<InputError>(shape.size() == 2, "{}: expected a 2-D dataset [n, d]", where(dense));
        ensure<InputError>(!s.sparse || shape[0] == s.n, "{}: shape mismatch: {} rows but {} has {}", where(dense),
                           shape[0], group, s.n);
        s.n = shape[0];
        s.dense_dim = shape[1];
    }
    if (!s.sparse && !s.dense) {
        ensure<InputError>(side == Side::queries, "{}: no documents (neither /docs/sparse nor /docs/dense)", f.path());
        return s;  // no queries stored
    }
    const auto ids = ids_dataset(side);
    if (f.exists(ids)) {
        const auto shape = f.shape(ids);
        ensure<InputError>(shape.size() == 1 && shape[0] == s.n, "{}: shape mismatch: {} ids for {} rows", where(ids),
                           shape.empty() ? 0 : shape[0], s.n);
    }
    return s;
}

Metric read_metric(const h5::File& f, const std::string& object, const std::string& attr) {
    if (!f.has_attr(object, attr)) return Metric::ip;
    const auto value = f.read_attr_string(object, attr);
    try {
        return parse_metric(value);
    } catch (const UsageError&) {
        throw InputError(fmt::format("{}:{}: attribute {} has unknown metric '{}'", f.path(), object, attr, value));
    }
}

}  // namespace

std::size_t Corpus::n_docs() const noexcept {
    return doc_sparse ? doc_sparse->n_rows() : doc_dense ? doc_dense->n : doc_ids.size();
}
std::size_t Corpus::n_queries() const noexcept {
    return query_sparse ? query_sparse->n_rows() : query_dense ? query_dense->n : query_ids.size();
}
std::string Corpus::doc_id(std::size_t i) const { return doc_ids.empty() ? std::to_string(i) : doc_ids[i]; }
std::string Corpus::query_id(std::size_t i) const { return query_ids.empty() ? std::to_string(i) : query_ids[i]; }

CorpusInfo describe_corpus(const h5::File& f) {
    CorpusInfo info;
    if (f.exists("/train")) {
        info.ann_benchmarks = true;
        info.docs_dense = true;
        const auto train = f.shape("/train");
        ensure<InputError>(train.size() == 2, "{}:/train: expected a 2-D dataset", f.path());
        info.n_docs = train[0];
        info.dense_dim = train[1];
        if (f.exists("/test")) {
            const auto test = f.shape("/test");
            ensure<InputError>(test.size() == 2 && test[1] == train[1], "{}:/test: shape mismatch with /train", f.path());
            info.queries_dense = true;
            info.n_queries = test[0];
        }
        info.metric = read_metric(f, "/", "distance");
        return info;
    }
    const auto docs = describe_side(f, Side::docs);
    const auto queries = describe_side(f, Side::queries);
    info.n_docs = docs.n;
    info.docs_sparse = docs.sparse;
    info.docs_dense = docs.dense;
    info.dim = docs.dim;
    info.doc_nnz = docs.nnz;
    info.dense_dim = docs.dense_dim;
    info.n_queries = queries.n;
    info.queries_sparse = queries.sparse;
    info.queries_dense = queries.dense;
    info.query_nnz = queries.nnz;
    if (queries.sparse) {
        ensure<InputError>(docs.sparse, "{}:/queries/sparse present but /docs/sparse missing", f.path());
        ensure<InputError>(queries.dim <= docs.dim, "{}:/queries/sparse: dim {} exceeds the documents' dim {}", f.path(),
                           queries.dim, docs.dim);
    }
    if (queries.dense) {
        ensure<InputError>(docs.dense, "{}:/queries/dense present but /docs/dense missing", f.path());
        ensure<InputError>(queries.dense_dim == docs.dense_dim,
                           "{}:/queries/dense: shape mismatch: dimension {} but /docs/dense has {}", f.path(),
                           queries.dense_dim, docs.dense_dim);
    }
    if (docs.dense) info.metric = read_metric(f, "/docs/dense", "metric");
    if (f.exists("/vocab")) {
        const auto shape = f.shape("/vocab");
        ensure<InputError>(docs.sparse && shape.size() == 1 && shape[0] == docs.dim,
                           "{}:/vocab: shape mismatch: {} tokens for dim {}", f.path(), shape.empty() ? 0 : shape[0],
                           docs.dim);
    }
    return info;
}

CorpusInfo describe_corpus(const std::string& path) {
    const h5::File f(path, h5::File::Mode::read);
    return describe_corpus(f);
}

CsrMatrix read_sparse_rows(const h5::File& f, Side side, std::uint64_t begin, std::uint64_t end) {
    const auto group = sparse_group(side);
    const auto where = f.path() + ":" + group;
    CsrMatrix m;
    m.dim = f.read_attr_u64(group, "dim");
    const auto nnz_total = f.shape(group + "/indices").at(0);
    m.indptr = read_unsigned<std::uint64_t>(f, group + "/indptr", begin, end + 1);
    ensure<InputError>(begin != 0 || m.indptr.front() == 0, "{}/indptr row 0: first entry is {}, expected 0", where,
                       m.indptr.front());
    for (std::size_t r = 0; r + 1 < m.indptr.size(); ++r) {
        ensure<InputError>(m.indptr[r] <= m.indptr[r + 1], "{}/indptr row {}: not monotone ({} > {})", where, begin + r,
                           m.indptr[r], m.indptr[r + 1]);
    }
    const auto lo = m.indptr.front();
    const auto hi = m.indptr.back();
    ensure<InputError>(hi <= nnz_total, "{}/indptr row {}: offset {} past nnz {}", where, end, hi, nnz_total);
    m.indices = read_unsigned<std::uint32_t>(f, group + "/indices", lo, hi);
    m.data = f.read<float>(group + "/data", lo, hi);
    for (auto& p : m.indptr) p -= lo;
    validate_csr(m, where, begin);
    return m;
}

DenseMatrix read_dense_rows(const h5::File& f, Side side, std::uint64_t begin, std::uint64_t end) {
    DenseMatrix m;
    const bool ann = f.exists("/train");
    const auto ds = ann ? ann_dataset(side) : dense_dataset(side);
    const auto shape = f.shape(ds);
    ensure<InputError>(shape.size() == 2, "{}:{}: expected a 2-D dataset", f.path(), ds);
    m.n = end - begin;
    m.d = shape[1];
    m.data = f.read<float>(ds, begin, end);
    m.metric = ann ? read_metric(f, "/", "distance") : read_metric(f, dense_dataset(Side::docs), "metric");
    validate_dense(m, f.path() + ":" + ds, begin);
    return m;
}

std::vector<std::string> read_ids(const h5::File& f, Side side) {
    const auto ds = ids_dataset(side);
    if (!f.exists(ds)) return {};
    if (f.is_string(ds)) return f.read_strings(ds);
    const auto raw = read_unsigned<std::uint64_t>(f, ds, 0, f.shape(ds).at(0));
    std::vector<std::string> out;
    out.reserve(raw.size());
    for (auto v : raw) out.push_back(std::to_string(v));
    return out;
}

std::vector<std::string> read_ids(const h5::File& f, Side side, std::uint64_t begin, std::uint64_t end) {
    const auto ds = ids_dataset(side);
    std::vector<std::string> out;
    if (!f.exists(ds)) {
        for (auto i = begin; i < end; ++i) out.push_back(std::to_string(i));
        return out;
    }
    if (f.is_string(ds)) return f.read_strings(ds, begin, end);
    for (auto v : read_unsigned<std::uint64_t>(f, ds, begin, end)) out.push_back(std::to_string(v));
    return out;
}

Corpus read_corpus(const std::string& path, CorpusParts parts) {
    const h5::File f(path, h5::File::Mode::read);
    const auto info = describe_corpus(f);
    Corpus c;
    if (parts.docs) {
        if (parts.sparse && info.docs_sparse) c.doc_sparse = read_sparse_rows(f, Side::docs, 0, info.n_docs);
        if (parts.dense && info.docs_dense) c.doc_dense = read_dense_rows(f, Side::docs, 0, info.n_docs);
        if (parts.ids) c.doc_ids = read_ids(f, Side::docs);
    }
    if (parts.queries) {
        if (parts.sparse && info.queries_sparse) {
            c.query_sparse = read_sparse_rows(f, Side::queries, 0, info.n_queries);
            c.query_sparse->dim = info.dim;  // queries live in the documents' space
        }
        if (parts.dense && info.queries_dense) c.query_dense = read_dense_rows(f, Side::queries, 0, info.n_queries);
        if (parts.ids) c.query_ids = read_ids(f, Side::queries);
    }
    if (parts.vocab && f.exists("/vocab")) c.vocab = f.read_strings("/vocab");
    return c;
}

SparseRowWriter::SparseRowWriter(h5::File& file, Side side)
    : m_file(file),
      m_group(sparse_group(side)),
      m_indptr(file.appender<std::uint64_t>(m_group + "/indptr")),
      m_indices(file.appender<std::uint32_t>(m_group + "/indices")),
      m_data(file.appender<float>(m_group + "/data")) {
    const std::uint64_t zero = 0;
    m_indptr.append({&zero, 1});
}

void SparseRowWriter::append(const CsrMatrix& block) {
    ensure(!block.indptr.empty() && block.indptr.front() == 0, "{}: appended block must start at offset 0", m_group);
    std::vector<std::uint64_t> shifted(block.indptr.begin() + 1, block.indptr.end());
    for (auto& p : shifted) p += m_nnz;
    m_indptr.append(shifted);
    m_indices.append(block.indices);
    m_data.append(block.data);
    m_rows += block.n_rows();
    m_nnz += block.nnz();
}

void SparseRowWriter::finish(std::uint64_t dim) { m_file.write_attr(m_group, "dim", dim); }

DenseRowWriter::DenseRowWriter(h5::File& file, Side side, std::size_t d, Metric metric)
    : m_data(file.appender<float>(dense_dataset(side), d)) {
    file.write_attr(dense_dataset(side), "metric", std::string(to_string(metric)));
}

void DenseRowWriter::append(std::span<const float> rows) { m_data.append(rows); }

void write_dense(h5::File& file, Side side, const DenseMatrix& m) {
    const auto ds = dense_dataset(side);
    file.write<float>(ds, m.data, {m.n, m.d});
    file.write_attr(ds, "metric", std::string(to_string(m.metric)));
}

void write_corpus(const std::string& path, const Corpus& c) {
    h5::File f(path, h5::File::Mode::truncate);
    const auto write_side = [&](Side side, const std::optional<CsrMatrix>& sp, const std::optional<DenseMatrix>& de,
                                const std::vector<std::string>& ids) {
        if (sp) {
            SparseRowWriter w(f, side);
            w.append(*sp);
            w.finish(sp->dim);
        }
        if (de) write_dense(f, side, *de);
        if (!ids.empty()) f.write_strings(ids_dataset(side), ids);
    };
    write_side(Side::docs, c.doc_sparse, c.doc_dense, c.doc_ids);
    write_side(Side::queries, c.query_sparse, c.query_dense, c.query_ids);
    if (!c.vocab.empty()) f.write_strings("/vocab", c.vocab);
}

std::optional<GroundTruth> read_groundtruth(const h5::File& f, std::string_view mode) {
    const bool ann = f.exists("/train");
    const std::string base = ann ? std::string("") : fmt::format("/groundtruth/{}", mode);
    if (ann && mode != "dense") return std::nullopt;
    const auto nb = base + "/neighbors";
    const auto ds = base + "/distances";
    if (!f.exists(nb)) return std::nullopt;
    const auto shape = f.shape(nb);
    ensure<InputError>(shape.size() == 2, "{}:{}: expected a 2-D dataset [queries, k]", f.path(), nb);
    GroundTruth gt;
    gt.n_queries = shape[0];
    gt.k = shape[1];
    gt.neighbors = f.read<std::int64_t>(nb);
    if (f.exists(ds)) {
        ensure<InputError>(f.shape(ds) == shape, "{}:{}: shape mismatch with {}", f.path(), ds, nb);
        gt.distances = f.read<float>(ds);
    }
    return gt;
}

void write_groundtruth(h5::File& f, std::string_view mode, const GroundTruth& gt) {
    const auto base = fmt::format("/groundtruth/{}", mode);
    f.write<std::int64_t>(base + "/neighbors", gt.neighbors, {gt.n_queries, gt.k});
    f.write<float>(base + "/distances", gt.distances, {gt.n_queries, gt.k});
}

}  // namespace aftershock
