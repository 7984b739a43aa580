// tsv-tokens: Anserini's token-repeat query/document files ("id<TAB>tok tok tok ..."), where a token
// repeated c times has weight c / weight_scale (splade-pp-ed uses 1000). Lines can exceed 100 KB; repeats
// come in runs, so counting compares with the previous token before touching the hash map.
#include "import_common.hpp"

#include "aftershock/common/import/line_reader.hpp"
#include "aftershock/common/progress.hpp"

#include <unordered_map>

namespace aftershock::import_detail {

void import_tsv_tokens(Context& ctx) {
    TokenSparseWriter writer(ctx);
    std::unordered_map<std::string_view, std::size_t> slot_of;
    std::vector<std::string_view> uniq;
    std::vector<std::uint64_t> counts;
    const auto feed = [&](const std::string& path, Side side) {
        LineReader reader(path);
        Progress progress(fmt::format("import {}", path), 0, "records");
        std::string_view line;
        std::uint64_t records = 0;
        while (reader.next(line)) {
            if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
            const Where where{&path, "line", reader.line_number()};
            const auto tab = line.find('\t');
            if (tab == std::string_view::npos) fail(where, "expected <id><TAB><tokens>, found no tab");
            auto id = line.substr(0, tab);
            while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
            while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
            if (id.empty()) fail(where, "empty id before the tab");
            slot_of.clear();
            uniq.clear();
            counts.clear();
            std::string_view prev;
            std::size_t prev_slot = 0;
            const char* p = line.data() + tab + 1;
            const char* end = line.data() + line.size();
            while (p < end) {
                if (*p == ' ' || *p == '\t') {
                    ++p;
                    continue;
                }
                const char* q = p;
                while (q < end && *q != ' ' && *q != '\t') ++q;
                const std::string_view tok(p, static_cast<std::size_t>(q - p));
                p = q;
                if (tok == prev) {
                    ++counts[prev_slot];
                    continue;
                }
                const auto [it, added] = slot_of.try_emplace(tok, uniq.size());
                if (added) {
                    uniq.push_back(tok);
                    counts.push_back(0);
                }
                prev = tok;
                prev_slot = it->second;
                ++counts[prev_slot];
            }
            TokenRecord r{std::string(id), {}, {}, records, where};
            r.tokens.reserve(uniq.size());
            r.weights.reserve(uniq.size());
            for (std::size_t i = 0; i < uniq.size(); ++i) {
                r.tokens.emplace_back(uniq[i]);
                r.weights.push_back(static_cast<float>(static_cast<double>(counts[i]) / ctx.weight_scale));
            }
            side == Side::docs ? writer.doc(std::move(r)) : writer.query(std::move(r));
            ++records;
            progress.add(1);
        }
        ensure<InputError>(records > 0, "{}: empty file (no records)", path);
        progress.finish();
    };
    if (ctx.has_docs()) feed(ctx.opt.docs, Side::docs);
    writer.finish_docs();
    if (ctx.has_queries()) feed(ctx.opt.queries, Side::queries);
    writer.finish();
}

}  // namespace aftershock::import_detail
