#include "aftershock/common/import/importers.hpp"

#include "import_common.hpp"

#include "aftershock/common/text/wordpiece.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace aftershock {
namespace fs = std::filesystem;

const std::vector<std::string>& import_formats() {
    static const std::vector<std::string> formats{"jsonl",          "tsv-tokens", "bigann-csr", "seismic-bin",
                                                  "ann-benchmarks", "tsv-dense",  "fvecs",      "text"};
    return formats;
}

namespace import_detail {

TempPath::~TempPath() {
    if (m_owned) {
        std::error_code ec;
        fs::remove(m_path, ec);  // best effort: an error is already on its way
    }
}

void TempPath::commit(const std::string& target) {
    std::error_code ec;
    fs::rename(m_path, target, ec);
    ensure(!ec, "cannot rename {} to {}: {}", m_path, target, ec.message());
    m_owned = false;
}

void run_format(Context& ctx) {
    const auto& f = ctx.opt.format;
    if (f == "jsonl") return import_jsonl(ctx);
    if (f == "tsv-tokens") return import_tsv_tokens(ctx);
    if (f == "bigann-csr") return import_bigann_csr(ctx);
    if (f == "seismic-bin") return import_seismic_bin(ctx);
    if (f == "ann-benchmarks") return import_ann_benchmarks(ctx);
    if (f == "tsv-dense") return import_tsv_dense(ctx);
    if (f == "fvecs") return import_fvecs(ctx);
    if (f == "text") return import_text(ctx);
    throw UsageError(fmt::format("unknown import format '{}'", f));
}

}  // namespace import_detail

namespace {

bool same_file(const std::string& a, const std::string& b) {
    if (a.empty() || b.empty()) return false;
    std::error_code ea;
    std::error_code eb;
    const auto ca = fs::weakly_canonical(a, ea);
    const auto cb = fs::weakly_canonical(b, eb);
    return !ea && !eb && ca == cb;
}

void check_options(const ImportOptions& opt) {
    const auto& formats = import_formats();
    const auto& f = opt.format;
    ensure<UsageError>(std::find(formats.begin(), formats.end(), f) != formats.end(),
                       "unknown --format '{}' (expected one of: {})", f, fmt::join(formats, ", "));
    ensure<UsageError>(!opt.out.empty(), "--out is required");
    ensure<UsageError>(!opt.docs.empty() || (opt.append && !opt.queries.empty() && f != "ann-benchmarks"),
                       "--docs is required (only --append may add --queries alone)");
    ensure<UsageError>(opt.batch_rows > 0, "--batch-rows must be > 0");
    ensure<UsageError>(std::isfinite(opt.weight_scale) && opt.weight_scale >= 0,
                       "--weight-scale must be > 0 (or 0 for the format's default), got {}", opt.weight_scale);
    ensure<UsageError>(opt.holdout == 0 || opt.queries.empty(), "--holdout and --queries exclude each other");
    const bool token_format = f == "jsonl" || f == "tsv-tokens";
    const bool dense_format = f == "ann-benchmarks" || f == "tsv-dense" || f == "fvecs";
    ensure<UsageError>(opt.vocab.empty() || token_format || f == "text",
                       "--vocab applies to the jsonl, tsv-tokens and text formats only");
    if (f == "text") {
        ensure<UsageError>(!opt.docs.empty() && !opt.append, "--format text needs --docs and cannot --append");
        ensure<UsageError>(opt.holdout == 0 && opt.weight_scale == 0, "--holdout and --weight-scale do not apply to text");
    } else {
        ensure<UsageError>(opt.stopwords.empty() && opt.stemmer.empty() && !opt.skip_empty,
                           "--stopwords, --stemmer and --skip-empty apply to --format text only");
    }
    ensure<UsageError>(opt.weight_scale == 0 || !dense_format, "--weight-scale applies to sparse formats only");
    if (!opt.groundtruth.empty()) {
        ensure<UsageError>(f == "bigann-csr" || f == "seismic-bin" || f == "fvecs",
                           "--groundtruth applies to bigann-csr, seismic-bin (.gt) and fvecs (.ivecs) only");
        ensure<UsageError>(!opt.docs.empty() && !opt.queries.empty(),
                           "--groundtruth needs both --docs and --queries (it indexes them)");
    }
    if (f == "ann-benchmarks") {
        ensure<UsageError>(opt.queries.empty() && opt.holdout == 0,
                           "ann-benchmarks files hold their own queries (/test): --queries and --holdout do not apply");
    }
    if (opt.metric && !dense_format && f != "jsonl") spdlog::warn("import: --metric is ignored for sparse vectors");
    for (const auto* in : {&opt.docs, &opt.queries, &opt.groundtruth, &opt.vocab}) {
        ensure<UsageError>(!same_file(*in, opt.out), "--out {} is also an input; write the corpus elsewhere", opt.out);
    }
}

}  // namespace

ImportStats import_corpus(const ImportOptions& opt) {
    check_options(opt);
    std::optional<Vocabulary> vocab;
    if (!opt.vocab.empty()) vocab = Vocabulary::load(opt.vocab);
    if (opt.format == "text" && !vocab) vocab = Vocabulary::load(text::default_vocab_path());
    const double scale = opt.weight_scale > 0 ? opt.weight_scale : opt.format == "tsv-tokens" ? 1000.0 : 1.0;
    const Metric metric = opt.metric.value_or(Metric::ip);
    if (opt.append) return import_detail::import_append(opt, std::move(vocab), scale, metric);

    ImportStats stats;
    import_detail::TempPath tmp(opt.out + ".tmp");
    {
        h5::File out(tmp.path(), h5::File::Mode::truncate);
        import_detail::Context ctx{opt, out, stats, vocab ? std::move(*vocab) : Vocabulary{}, scale, metric};
        import_detail::run_format(ctx);
    }
    (void)describe_corpus(tmp.path());  // the structure a reader will check, before the file gets its name
    tmp.commit(opt.out);
    return stats;
}

}  // namespace aftershock
