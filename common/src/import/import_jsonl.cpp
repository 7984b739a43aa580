// jsonl: Anserini/Pyserini JsonVectorCollection and Seismic's toy format, one JSON object per line.
// A SAX handler pulls out the id and the vector without building a DOM (documents also carry their text)
// and sees repeated tokens, which a DOM would silently merge.
#include "import_common.hpp"

#include "aftershock/common/import/line_reader.hpp"
#include "aftershock/common/progress.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace aftershock::import_detail {
namespace {

using Json = nlohmann::json;

bool is_id_key(std::string_view k) { return k == "id" || k == "docid" || k == "qid"; }

/// Extracts {"id"|"docid"|"qid": string or integer, "vector": {token: weight} | [numbers]} from one line.
class LineHandler final : public nlohmann::json_sax<Json> {
public:
    enum class Kind { none, sparse, dense };

    void reset() {
        id.clear();
        has_id = false;
        kind = Kind::none;
        tokens.clear();
        weights.clear();
        dense.clear();
        error.clear();
        m_depth = 0;
        m_vector_depth = 0;
        m_key.clear();
    }

    std::string id;
    bool has_id = false;
    Kind kind = Kind::none;
    std::vector<std::string> tokens;
    std::vector<double> weights;
    std::vector<float> dense;
    std::string error;

    bool null() override { return scalar("null"); }
    bool boolean(bool /*value*/) override { return scalar("a boolean"); }
    bool number_integer(number_integer_t v) override { return number(static_cast<double>(v), std::to_string(v), true); }
    bool number_unsigned(number_unsigned_t v) override {
        return number(static_cast<double>(v), std::to_string(v), true);
    }
    bool number_float(number_float_t v, const string_t& text) override { return number(v, text, false); }
    bool binary(binary_t& /*value*/) override { return scalar("binary data"); }
    bool string(string_t& s) override {
        if (in_vector()) return vector_error("a string");
        if (m_depth == 0) return bad("expected a JSON object per line, got a string");
        if (m_depth == 1 && is_id_key(m_key) && !has_id) {
            if (s.empty()) return bad(fmt::format("empty \"{}\"", m_key));
            id = std::move(s);
            has_id = true;
        }
        return true;
    }
    bool key(string_t& k) override {
        if (in_vector()) {
            m_token = std::move(k);
        } else if (m_depth == 1) {
            m_key = std::move(k);
        }
        return true;
    }
    bool start_object(std::size_t /*elements*/) override { return start(Kind::sparse); }
    bool start_array(std::size_t /*elements*/) override { return start(Kind::dense); }
    bool end_object() override { return end(); }
    bool end_array() override { return end(); }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& ex) override {
        // nlohmann's text starts with "[json.exception.parse_error.101] parse error at line 1, column N:".
        std::string_view what = ex.what();
        if (const auto colon = what.find(": "); colon != std::string_view::npos) what.remove_prefix(colon + 2);
        error = fmt::format("malformed JSON at byte {}: {}", position, what);
        return false;
    }

private:
    [[nodiscard]] bool in_vector() const noexcept { return m_vector_depth != 0 && m_depth == m_vector_depth; }

    bool bad(std::string message) {
        if (error.empty()) error = std::move(message);
        return false;
    }

    bool vector_error(std::string_view what) {
        if (kind == Kind::sparse) return bad(fmt::format("non-numeric weight ({}) for token '{}'", what, m_token));
        return bad(fmt::format("non-numeric value ({}) at position {} of \"vector\"", what, dense.size()));
    }

    bool scalar(std::string_view what) {
        if (in_vector()) return vector_error(what);
        if (m_depth == 0) return bad(fmt::format("expected a JSON object per line, got {}", what));
        if (m_depth == 1 && m_key == "vector") return bad(fmt::format("\"vector\" must be an object or an array, got {}", what));
        if (m_depth == 1 && is_id_key(m_key) && !has_id) return bad(fmt::format("\"{}\" must be a string or an integer", m_key));
        return true;
    }

    bool number(double v, const std::string& text, bool integer) {
        if (in_vector()) {
            if (kind == Kind::sparse) {
                tokens.push_back(std::move(m_token));
                weights.push_back(v);
            } else {
                dense.push_back(static_cast<float>(v));
            }
            return true;
        }
        if (m_depth == 0) return bad("expected a JSON object per line, got a number");
        if (m_depth == 1 && is_id_key(m_key) && !has_id) {
            if (!integer) return bad(fmt::format("\"{}\" must be a string or an integer, got {}", m_key, text));
            id = text;
            has_id = true;
            return true;
        }
        if (m_depth == 1 && m_key == "vector") return bad("\"vector\" must be an object or an array, got a number");
        return true;
    }

    bool start(Kind container) {
        if (in_vector()) return vector_error(container == Kind::sparse ? "an object" : "an array");
        if (m_depth == 0 && container == Kind::dense) return bad("expected a JSON object per line, got an array");
        if (m_depth == 1 && m_key == "vector") {
            if (kind != Kind::none) return bad("repeated key \"vector\"");
            kind = container;
            m_vector_depth = 2;
        } else if (m_depth == 1 && is_id_key(m_key) && !has_id) {
            return bad(fmt::format("\"{}\" must be a string or an integer", m_key));
        }
        ++m_depth;
        return true;
    }

    bool end() {
        if (m_depth == m_vector_depth) m_vector_depth = 0;
        --m_depth;
        if (m_depth == 1) m_key.clear();
        return true;
    }

    int m_depth = 0;
    int m_vector_depth = 0;
    std::string m_key;
    std::string m_token;
};

}  // namespace

void import_jsonl(Context& ctx) {
    std::optional<TokenSparseWriter> sparse;
    std::optional<DenseWriter> dense;
    const auto feed = [&](const std::string& path, Side side) {
        LineReader reader(path);
        Progress progress(fmt::format("import {}", path), 0, "records");
        LineHandler h;
        std::string_view line;
        std::uint64_t records = 0;
        while (reader.next(line)) {
            if (is_blank(line)) continue;
            const Where where{&path, "line", reader.line_number()};
            h.reset();
            if (!Json::sax_parse(line.begin(), line.end(), &h)) {
                fail(where, "{}", h.error.empty() ? std::string("malformed JSON") : h.error);
            }
            if (!h.has_id) fail(where, "missing id (expected \"id\", \"docid\" or \"qid\")");
            if (h.kind == LineHandler::Kind::none) fail(where, "missing \"vector\"");
            if (!sparse && !dense) {
                if (h.kind == LineHandler::Kind::sparse) {
                    if (ctx.opt.metric) spdlog::warn("import: --metric is ignored for sparse vectors");
                    sparse.emplace(ctx);
                } else {
                    ensure<UsageError>(ctx.opt.weight_scale == 0, "--weight-scale applies to sparse vectors only, but {} holds dense vectors", path);
                    dense.emplace(ctx);
                }
            } else if ((h.kind == LineHandler::Kind::sparse) != sparse.has_value()) {
                fail(where, "{} vector, but earlier records are {}", sparse ? "dense" : "sparse", sparse ? "sparse" : "dense");
            }
            if (sparse) {
                TokenRecord r{std::move(h.id), std::move(h.tokens), {}, records, where};
                r.weights.resize(h.weights.size());
                for (std::size_t i = 0; i < h.weights.size(); ++i) {
                    r.weights[i] = scaled_weight(h.weights[i], ctx.weight_scale, where,
                                                 [&] { return fmt::format("token '{}'", r.tokens[i]); });
                }
                side == Side::docs ? sparse->doc(std::move(r)) : sparse->query(std::move(r));
            } else {
                DenseRecord r{std::move(h.id), std::move(h.dense), records, where};
                side == Side::docs ? dense->doc(std::move(r)) : dense->query(std::move(r));
            }
            ++records;
            progress.add(1);
        }
        ensure<InputError>(records > 0, "{}: empty file (no JSON lines)", path);
        progress.finish();
    };
    if (ctx.has_docs()) feed(ctx.opt.docs, Side::docs);
    if (sparse) sparse->finish_docs();
    if (dense) dense->finish_docs();
    if (ctx.has_queries()) feed(ctx.opt.queries, Side::queries);
    if (sparse) sparse->finish();
    if (dense) dense->finish();
}

}  // namespace aftershock::import_detail
