// bigann-csr: the NeurIPS'23 sparse track's .csr files (SEISMIC.md §4.2): int64 nrow, ncol, nnz; int64
// indptr[nrow+1]; int32 indices[nnz]; float32 data[nnz]. The three arrays are read by three cursors in
// step, so a batch of rows needs no more memory than the rows themselves.
#include "import_common.hpp"

#include "aftershock/common/progress.hpp"

namespace aftershock::import_detail {
namespace {

struct CsrHeader {
    std::int64_t nrow = 0;
    std::int64_t ncol = 0;
    std::int64_t nnz = 0;
};

/// Streams one .csr file into the writer; returns its header. `max_ncol` bounds the queries' ncol.
CsrHeader read_csr(Context& ctx, IndexSparseWriter& writer, const std::string& path, Side side,
                   std::optional<std::int64_t> max_ncol) {
    BinaryReader head(path);
    CsrHeader h;
    std::int64_t raw[3] = {0, 0, 0};
    head.read(raw, sizeof raw, "the header (int64 nrow, ncol, nnz)");
    h = {raw[0], raw[1], raw[2]};
    // Bounds keep the size arithmetic below from overflowing and match the corpus' u32 row/index types.
    ensure<InputError>(h.nrow > 0 && h.nrow < (std::int64_t{1} << 32), "{}: header nrow {} out of range (1..2^32-1)",
                       path, h.nrow);
    ensure<InputError>(h.ncol > 0 && h.ncol <= (std::int64_t{1} << 31), "{}: header ncol {} out of range (1..2^31)",
                       path, h.ncol);
    ensure<InputError>(h.nnz >= 0 && h.nnz < (std::int64_t{1} << 50), "{}: header nnz {} out of range", path, h.nnz);
    if (max_ncol) {
        ensure<InputError>(h.ncol <= *max_ncol, "{}: ncol {} exceeds the documents' ncol {}", path, h.ncol, *max_ncol);
    }
    const auto nrow = static_cast<std::uint64_t>(h.nrow);
    const auto nnz = static_cast<std::uint64_t>(h.nnz);
    const std::uint64_t indices_at = 24 + 8 * (nrow + 1);
    const std::uint64_t data_at = indices_at + 4 * nnz;
    const std::uint64_t expected = data_at + 4 * nnz;
    if (head.size()) {
        ensure<InputError>(*head.size() == expected,
                           "{}: file has {} bytes but the header (nrow={}, ncol={}, nnz={}) needs {} ({})", path,
                           *head.size(), h.nrow, h.ncol, h.nnz, expected,
                           *head.size() < expected ? "truncated file" : "trailing data");
    }
    BinaryReader idx_in(path);
    BinaryReader val_in(path);
    idx_in.seek(indices_at);
    val_in.seek(data_at);

    Progress progress(fmt::format("import {}", path), nrow, "rows");
    constexpr std::uint64_t kPtrChunk = 4096;
    std::vector<std::int64_t> indptr;
    std::int64_t prev = 0;
    head.read(&prev, sizeof prev, "indptr[0]");
    ensure<InputError>(prev == 0, "{}: row 0: indptr[0] is {}, expected 0", path, prev);
    std::vector<std::int32_t> raw_idx;
    std::vector<float> raw_val;
    for (std::uint64_t r0 = 0; r0 < nrow; r0 += kPtrChunk) {
        const auto rows = std::min(kPtrChunk, nrow - r0);
        const Where first{&path, "row", r0};
        head.read_array(indptr, rows, &first, "indptr");
        for (std::uint64_t j = 0; j < rows; ++j) {
            IndexRecord rec;
            rec.index = r0 + j;
            rec.where = Where{&path, "row", r0 + j};
            const auto next = indptr[j];
            if (next < prev || next > h.nnz) {
                fail(rec.where, "indptr {} -> {} is not monotone within [0, nnz={}]", prev, next, h.nnz);
            }
            const auto len = static_cast<std::uint64_t>(next - prev);
            idx_in.read_array(raw_idx, len, &rec.where, "indices");
            val_in.read_array(raw_val, len, &rec.where, "data");
            rec.indices.resize(len);
            rec.values.resize(len);
            for (std::size_t i = 0; i < len; ++i) {
                if (raw_idx[i] < 0 || raw_idx[i] >= h.ncol) {
                    fail(rec.where, "index {} out of range [0, ncol={})", raw_idx[i], h.ncol);
                }
                rec.indices[i] = static_cast<std::uint32_t>(raw_idx[i]);
                rec.values[i] = scaled_weight(raw_val[i], ctx.weight_scale, rec.where,
                                              [&] { return fmt::format("index {}", raw_idx[i]); });
            }
            prev = next;
            side == Side::docs ? writer.doc(std::move(rec)) : writer.query(std::move(rec));
        }
        progress.add(rows);
    }
    ensure<InputError>(prev == h.nnz, "{}: row {}: indptr ends at {} but the header says nnz={}", path, nrow - 1, prev,
                       h.nnz);
    val_in.expect_end("the data array");
    progress.finish();
    return h;
}

}  // namespace

void import_bigann_csr(Context& ctx) {
    IndexSparseWriter writer(ctx);
    std::optional<std::int64_t> doc_ncol;
    if (ctx.has_docs()) doc_ncol = read_csr(ctx, writer, ctx.opt.docs, Side::docs, std::nullopt).ncol;
    writer.finish_docs();
    std::int64_t query_ncol = 0;
    if (ctx.has_queries()) query_ncol = read_csr(ctx, writer, ctx.opt.queries, Side::queries, doc_ncol).ncol;
    // Queries may have a smaller ncol than the documents; they are stored in the documents' space.
    writer.finish(static_cast<std::uint64_t>(doc_ncol.value_or(query_ncol)));
    if (!ctx.opt.groundtruth.empty()) {
        write_groundtruth(ctx.out, "sparse", read_bigann_gt(ctx.opt.groundtruth, ctx.stats.queries, ctx.stats.docs));
    }
}

}  // namespace aftershock::import_detail
