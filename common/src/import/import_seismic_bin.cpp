// seismic-bin: Seismic's documents.bin / queries.bin (SEISMIC.md §4.1): u32 n_vecs, then per vector
// u32 n, u32 components[n], f32 values[n], little-endian. There is no dim field: dim is the largest
// component + 1 over documents and queries.
#include "import_common.hpp"

#include "aftershock/common/progress.hpp"

namespace aftershock::import_detail {

void import_seismic_bin(Context& ctx) {
    IndexSparseWriter writer(ctx);
    const auto feed = [&](const std::string& path, Side side) {
        BinaryReader in(path);
        std::uint32_t n_vecs = 0;
        in.read(&n_vecs, sizeof n_vecs, "the header (u32 n_vecs)");
        ensure<InputError>(n_vecs > 0, "{}: empty file (header says 0 vectors)", path);
        if (in.size()) {
            // Every vector takes at least its 4-byte length.
            ensure<InputError>(*in.size() >= 4 + std::uint64_t{n_vecs} * 4,
                               "{}: header says {} vectors but the file has only {} bytes (truncated or not Seismic .bin)",
                               path, n_vecs, *in.size());
        }
        Progress progress(fmt::format("import {}", path), n_vecs, "vectors");
        for (std::uint32_t v = 0; v < n_vecs; ++v) {
            IndexRecord r;
            r.index = v;
            r.where = Where{&path, "vector", v};
            std::uint32_t n = 0;
            in.read(&n, sizeof n, &r.where, "its length");
            in.read_array(r.indices, n, &r.where, "its components");
            std::vector<float> raw;
            in.read_array(raw, n, &r.where, "its values");
            r.values.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                r.values[i] = scaled_weight(raw[i], ctx.weight_scale, r.where,
                                            [&] { return fmt::format("component {}", r.indices[i]); });
            }
            side == Side::docs ? writer.doc(std::move(r)) : writer.query(std::move(r));
            progress.add(1);
        }
        in.expect_end(fmt::format("the last vector ({} vectors)", n_vecs));
        progress.finish();
    };
    if (ctx.has_docs()) feed(ctx.opt.docs, Side::docs);
    writer.finish_docs();
    if (ctx.has_queries()) feed(ctx.opt.queries, Side::queries);
    writer.finish(writer.observed_dim());
    if (!ctx.opt.groundtruth.empty()) {
        write_groundtruth(ctx.out, "sparse", read_bigann_gt(ctx.opt.groundtruth, ctx.stats.queries, ctx.stats.docs));
    }
}

}  // namespace aftershock::import_detail
