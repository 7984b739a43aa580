// Dense importers: tsv-dense (id<TAB>values, or NGT's all-numbers TSV), fvecs (+ .ivecs ground truth) and
// ann-benchmarks HDF5.
#include "import_common.hpp"

#include "aftershock/common/import/line_reader.hpp"
#include "aftershock/common/progress.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>

namespace aftershock::import_detail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

/// Splits on blanks (spaces and tabs) and parses every field as a float.
void parse_values(std::string_view text, std::vector<float>& out, const Where& where) {
    out.clear();
    std::size_t p = 0;
    while (p < text.size()) {
        if (is_space(text[p])) {
            ++p;
            continue;
        }
        auto q = p;
        while (q < text.size() && !is_space(text[q])) ++q;
        const auto field = text.substr(p, q - p);
        const auto v = parse_float(field);
        if (!v) fail(where, "'{}' is not a number (column {})", field, out.size());
        out.push_back(*v);
        p = q;
    }
}

/// tsv-dense layout, decided on a file's first line.
enum class TsvLayout {
    with_id,  ///< "id<TAB>v v v" (values separated by spaces or tabs)
    numbers   ///< only numbers (NGT: tab-separated, trailing tab); ids are the row numbers
};

TsvLayout detect_layout(std::string_view line) {
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) return TsvLayout::numbers;
    // A first field that is not a number is an id. A numeric first field followed by more tab-separated
    // fields is NGT's layout; followed by one field (space-separated values) it is a numeric id.
    if (!parse_float(line.substr(0, tab))) return TsvLayout::with_id;
    const auto rest = line.substr(tab + 1);
    const auto tab2 = rest.find('\t');
    const bool more_fields = tab2 != std::string_view::npos &&
                             rest.substr(tab2).find_first_not_of(" \t\r") != std::string_view::npos;
    return more_fields ? TsvLayout::numbers : TsvLayout::with_id;
}

/// The first non-blank line of a text file (empty if none).
std::string first_line(const std::string& path) {
    LineReader reader(path);
    std::string_view line;
    while (reader.next(line)) {
        if (!is_blank(line)) return std::string(line);
    }
    return {};
}

std::size_t count_fields(std::string_view line) {
    std::size_t n = 0;
    for (std::size_t p = 0; p < line.size();) {
        if (is_space(line[p])) {
            ++p;
            continue;
        }
        ++n;
        while (p < line.size() && !is_space(line[p])) ++p;
    }
    return n;
}

/// Reads an .ivecs ground truth (per query: i32 k, i32 ids[k]) for n_queries queries.
GroundTruth read_ivecs_gt(const std::string& path, std::uint64_t n_queries, std::uint64_t n_docs) {
    BinaryReader in(path);
    GroundTruth gt;
    gt.n_queries = n_queries;
    std::vector<std::int32_t> row;
    std::uint64_t q = 0;
    for (;; ++q) {
        const Where where{&path, "vector", q};
        std::int32_t k = 0;
        if (!in.read_or_end(&k, sizeof k, &where, "its length")) break;
        if (k <= 0 || (gt.k != 0 && static_cast<std::size_t>(k) != gt.k)) {
            fail(where, "bad length {} (expected {})", k, gt.k == 0 ? std::string("> 0") : std::to_string(gt.k));
        }
        if (q >= n_queries) fail(where, "more ground-truth rows than the {} queries", n_queries);
        gt.k = static_cast<std::size_t>(k);
        in.read_array(row, gt.k, &where, "its neighbor ids");
        for (const auto id : row) {
            if (id < 0 || static_cast<std::uint64_t>(id) >= n_docs) {
                fail(where, "neighbor {} out of range [0, {})", id, n_docs);
            }
            gt.neighbors.push_back(id);
        }
    }
    ensure<InputError>(q == n_queries, "{}: {} ground-truth rows for {} queries", path, q, n_queries);
    return gt;
}

/// Fills gt.distances with the ranking score of each (query, neighbor) pair, reading the documents back
/// from the corpus being written in one sequential pass.
void compute_distances(Context& ctx, GroundTruth& gt) {
    const auto queries = read_dense_rows(ctx.out, Side::queries, 0, gt.n_queries);
    const std::uint64_t n_docs = ctx.stats.docs;
    const auto d = queries.d;
    std::vector<std::size_t> order(gt.neighbors.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return gt.neighbors[a] < gt.neighbors[b]; });
    gt.distances.assign(gt.neighbors.size(), 0.0F);
    std::size_t next = 0;
    for (std::uint64_t b = 0; b < n_docs && next < order.size(); b += ctx.opt.batch_rows) {
        const auto e = std::min<std::uint64_t>(n_docs, b + ctx.opt.batch_rows);
        if (static_cast<std::uint64_t>(gt.neighbors[order[next]]) >= e) continue;
        const auto docs = read_dense_rows(ctx.out, Side::docs, b, e);
        for (; next < order.size() && static_cast<std::uint64_t>(gt.neighbors[order[next]]) < e; ++next) {
            const auto slot = order[next];
            const auto x = docs.row(static_cast<std::size_t>(gt.neighbors[slot]) - b);
            const auto y = queries.row(slot / gt.k);
            double dot = 0, xx = 0, yy = 0, l2 = 0;
            for (std::size_t c = 0; c < d; ++c) {
                dot += double(x[c]) * y[c];
                xx += double(x[c]) * x[c];
                yy += double(y[c]) * y[c];
                l2 += (double(x[c]) - y[c]) * (double(x[c]) - y[c]);
            }
            double score = dot;
            if (ctx.metric == Metric::cosine) score = xx > 0 && yy > 0 ? dot / std::sqrt(xx * yy) : 0.0;
            if (ctx.metric == Metric::l2) score = std::sqrt(l2);
            gt.distances[slot] = static_cast<float>(score);
        }
    }
}

}  // namespace

void import_tsv_dense(Context& ctx) {
    DenseWriter writer(ctx);
    // NGT's data files end each row with an object id that its query files lack: in the all-numbers
    // layout, documents with exactly one column more than the queries keep that column as their id.
    bool docs_trailing_id = false;
    if (ctx.has_docs() && ctx.has_queries()) {
        const auto d = first_line(ctx.opt.docs);
        const auto q = first_line(ctx.opt.queries);
        docs_trailing_id = detect_layout(d) == TsvLayout::numbers && detect_layout(q) == TsvLayout::numbers &&
                           count_fields(d) == count_fields(q) + 1;
    }
    const auto feed = [&](const std::string& path, Side side) {
        LineReader reader(path);
        Progress progress(fmt::format("import {}", path), 0, "records");
        std::string_view line;
        std::optional<TsvLayout> layout;
        std::uint64_t records = 0;
        const bool trailing_id = side == Side::docs && docs_trailing_id;
        while (reader.next(line)) {
            if (is_blank(line)) continue;
            DenseRecord r;
            r.index = records;
            r.where = Where{&path, "line", reader.line_number()};
            if (!layout) layout = detect_layout(line);
            auto values = line;
            if (*layout == TsvLayout::with_id) {
                const auto tab = line.find('\t');
                if (tab == std::string_view::npos) fail(r.where, "expected <id><TAB><values>, found no tab");
                r.id = std::string(line.substr(0, tab));
                if (r.id.empty()) fail(r.where, "empty id before the tab");
                values = line.substr(tab + 1);
            } else if (trailing_id) {
                const auto end = line.find_last_not_of(" \t");
                const auto start = line.find_last_of(" \t", end);
                if (start == std::string_view::npos) fail(r.where, "expected values and a trailing id");
                r.id = std::string(line.substr(start + 1, end - start));
                values = line.substr(0, start);
            }
            parse_values(values, r.values, r.where);
            side == Side::docs ? writer.doc(std::move(r)) : writer.query(std::move(r));
            ++records;
            progress.add(1);
        }
        ensure<InputError>(records > 0, "{}: empty file (no vectors)", path);
        progress.finish();
    };
    if (ctx.has_docs()) feed(ctx.opt.docs, Side::docs);
    writer.finish_docs();
    if (ctx.has_queries()) feed(ctx.opt.queries, Side::queries);
    writer.finish();
}

void import_fvecs(Context& ctx) {
    DenseWriter writer(ctx);
    const auto feed = [&](const std::string& path, Side side) {
        BinaryReader in(path);
        Progress progress(fmt::format("import {}", path), 0, "vectors");
        std::uint64_t v = 0;
        for (;; ++v) {
            DenseRecord r;
            r.index = v;
            r.where = Where{&path, "vector", v};
            std::int32_t d = 0;
            if (!in.read_or_end(&d, sizeof d, &r.where, "its dimension")) break;
            if (d <= 0 || d > (1 << 24)) fail(r.where, "bad dimension {} (not an .fvecs file?)", d);
            in.read_array(r.values, static_cast<std::uint64_t>(d), &r.where, "its values");
            side == Side::docs ? writer.doc(std::move(r)) : writer.query(std::move(r));
            progress.add(1);
        }
        ensure<InputError>(v > 0, "{}: empty file (no vectors)", path);
        progress.finish();
    };
    if (ctx.has_docs()) feed(ctx.opt.docs, Side::docs);
    writer.finish_docs();
    if (ctx.has_queries()) feed(ctx.opt.queries, Side::queries);
    writer.finish();
    if (!ctx.opt.groundtruth.empty()) {
        auto gt = read_ivecs_gt(ctx.opt.groundtruth, ctx.stats.queries, ctx.stats.docs);
        compute_distances(ctx, gt);
        write_groundtruth(ctx.out, "dense", gt);
    }
}

void import_ann_benchmarks(Context& ctx) {
    const auto& path = ctx.opt.docs;
    const h5::File in(path, h5::File::Mode::read);
    ensure<InputError>(in.exists("/train"), "{}: not an ann-benchmarks file (no /train dataset)", path);
    if (in.has_attr("/", "distance")) {
        const auto name = in.read_attr_string("/", "distance");
        Metric m = Metric::ip;
        try {
            m = parse_metric(name);
        } catch (const UsageError&) {
            throw InputError(fmt::format("{}: distance '{}' is not supported (expected angular, euclidean, dot or ip)",
                                         path, name));
        }
        ensure<UsageError>(!ctx.opt.metric || *ctx.opt.metric == m, "--metric {} contradicts {}'s distance '{}'",
                           to_string(ctx.opt.metric.value_or(m)), path, name);
        ctx.metric = m;
    }
    DenseWriter writer(ctx);
    const auto copy = [&](const std::string& ds, Side side, const std::string& where_file) {
        const auto shape = in.shape(ds);
        ensure<InputError>(shape.size() == 2 && shape[1] > 0, "{}:{}: expected a 2-D dataset [n, d]", path, ds);
        ensure<InputError>(shape[0] > 0, "{}:{}: empty dataset", path, ds);
        Progress progress(fmt::format("import {}:{}", path, ds), shape[0], "rows");
        for (std::uint64_t b = 0; b < shape[0]; b += ctx.opt.batch_rows) {
            const auto e = std::min<std::uint64_t>(shape[0], b + ctx.opt.batch_rows);
            const auto block = in.read<float>(ds, b, e);
            for (std::uint64_t r = b; r < e; ++r) {
                DenseRecord rec;
                rec.index = r;
                rec.where = Where{&where_file, "row", r};
                const auto* row = block.data() + (r - b) * shape[1];
                rec.values.assign(row, row + shape[1]);
                side == Side::docs ? writer.doc(std::move(rec)) : writer.query(std::move(rec));
            }
            progress.add(e - b);
        }
        progress.finish();
    };
    const std::string train_where = path + ":/train";
    const std::string test_where = path + ":/test";
    copy("/train", Side::docs, train_where);
    writer.finish_docs();
    const bool has_test = in.exists("/test");
    if (has_test) copy("/test", Side::queries, test_where);
    writer.finish();
    if (!has_test || !in.exists("/neighbors")) return;

    const auto shape = in.shape("/neighbors");
    ensure<InputError>(shape.size() == 2 && shape[0] == ctx.stats.queries && shape[1] > 0,
                       "{}:/neighbors: shape mismatch: expected [{}, k] for the {} rows of /test", path,
                       ctx.stats.queries, ctx.stats.queries);
    ensure<InputError>(in.exists("/distances") && in.shape("/distances") == shape,
                       "{}:/distances: missing or shaped differently from /neighbors", path);
    GroundTruth gt;
    gt.n_queries = shape[0];
    gt.k = shape[1];
    gt.neighbors = in.read<std::int64_t>("/neighbors");
    gt.distances = in.read<float>("/distances");
    for (std::size_t i = 0; i < gt.neighbors.size(); ++i) {
        ensure<InputError>(gt.neighbors[i] >= 0 && static_cast<std::uint64_t>(gt.neighbors[i]) < ctx.stats.docs,
                           "{}:/neighbors row {}: neighbor {} out of range [0, {})", path, i / gt.k, gt.neighbors[i],
                           ctx.stats.docs);
        ensure<InputError>(std::isfinite(gt.distances[i]), "{}:/distances row {}: non-finite value {}", path, i / gt.k,
                           gt.distances[i]);
    }
    // /groundtruth/dense/distances holds the ranking score: similarity for ip/cosine, distance for l2.
    if (ctx.metric == Metric::cosine) {
        for (auto& x : gt.distances) x = 1.0F - x;  // angular distance 1 - cos
    } else if (ctx.metric == Metric::ip && gt.k > 1) {
        // Some files store -ip as a distance (ascending rows); a similarity ranking descends.
        std::size_t ascending = 0;
        std::size_t descending = 0;
        for (std::size_t q = 0; q < gt.n_queries; ++q) {
            const auto first = gt.distances[q * gt.k];
            const auto last = gt.distances[q * gt.k + gt.k - 1];
            ascending += first < last ? 1 : 0;
            descending += first > last ? 1 : 0;
        }
        if (ascending > descending) {
            spdlog::info("import: {}:/distances ascend, read as negated inner products", path);
            for (auto& x : gt.distances) x = -x;
        }
    }
    write_groundtruth(ctx.out, "dense", gt);
}

}  // namespace aftershock::import_detail
