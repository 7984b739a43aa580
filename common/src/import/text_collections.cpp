#include "aftershock/common/import/text_collections.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/import/line_reader.hpp"
#include "aftershock/common/import/tar_reader.hpp"
#include "aftershock/common/text/unicode.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <filesystem>
#include <unordered_set>

namespace aftershock {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool blank(std::string_view s) { return trim(s).empty(); }

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
}

/// Collects records, checking ids are unique and texts non-empty, then hands them on.
class Emitter {
public:
    Emitter(const std::string& path, const std::function<void(TextRecord&&)>& emit) : m_path(path), m_emit(emit) {}
    void operator()(std::string id, std::string text, std::string where) {
        ensure<InputError>(!id.empty(), "{}: empty id", where);
        ensure<InputError>(m_seen.insert(id).second, "{}: duplicate id '{}'", where, id);
        m_emit(TextRecord{std::move(id), std::move(text), std::move(where)});
        ++m_count;
    }
    std::size_t finish() const {
        ensure<InputError>(m_count > 0, "{}: empty file (no records)", m_path);
        return m_count;
    }

private:
    const std::string& m_path;
    const std::function<void(TextRecord&&)>& m_emit;
    std::unordered_set<std::string> m_seen;
    std::size_t m_count = 0;
};

std::string line_where(const std::string& path, std::uint64_t line) { return fmt::format("{}: line {}", path, line); }

void read_tar(const std::string& path, Emitter& emit) {
    TarReader tar(path);
    TarEntry e;
    while (tar.next(e)) {
        const std::filesystem::path p(e.name);
        const auto base = p.filename().string();
        if (base.starts_with("._") || base.empty()) continue;
        emit(p.stem().string(), strip_html(e.data), fmt::format("{}: member {}", path, e.name));
    }
}

void read_jsonl(const std::string& path, Emitter& emit) {
    LineReader reader(path);
    std::string_view line;
    while (reader.next(line)) {
        if (blank(line)) continue;
        const auto where = line_where(path, reader.line_number());
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& ex) {
            throw InputError(fmt::format("{}: malformed JSON: {}", where, ex.what()));
        }
        ensure<InputError>(j.is_object(), "{}: expected a JSON object", where);
        std::string id;
        for (const char* k : {"id", "docid", "qid"}) {
            if (!j.contains(k)) continue;
            const auto& v = j[k];
            ensure<InputError>(v.is_string() || v.is_number_integer(), "{}: \"{}\" must be a string or an integer", where, k);
            id = v.is_string() ? v.get<std::string>() : std::to_string(v.get<std::int64_t>());
            break;
        }
        ensure<InputError>(!id.empty(), "{}: missing id (expected \"id\", \"docid\" or \"qid\")", where);
        const nlohmann::json* text = nullptr;
        for (const char* k : {"contents", "content", "text"}) {
            if (j.contains(k)) {
                text = &j[k];
                break;
            }
        }
        ensure<InputError>(text != nullptr, "{}: missing \"contents\"", where);
        ensure<InputError>(text->is_string(), "{}: \"contents\" must be a string", where);
        emit(std::move(id), text->get<std::string>(), where);
    }
}

void read_cranfield(const std::string& path, Side side, Emitter& emit) {
    LineReader reader(path);
    std::string_view line;
    std::string id;
    std::string text;
    std::string where;
    bool in_record = false;
    bool in_field = false;
    std::size_t position = 0;
    const auto flush = [&] {
        if (in_record) emit(std::move(id), std::move(text), std::move(where));
        id.clear();
        text.clear();
    };
    while (reader.next(line)) {
        if (line.starts_with(".I")) {
            flush();
            in_record = true;
            in_field = false;
            ++position;
            where = line_where(path, reader.line_number());
            const auto num = trim(line.substr(2));
            ensure<InputError>(!num.empty(), "{}: .I without a number", where);
            id = side == Side::queries ? std::to_string(position) : std::string(num);
            continue;
        }
        if (line.size() == 2 && line[0] == '.' && std::string_view("TABW").find(line[1]) != std::string_view::npos) {
            ensure<InputError>(in_record, "{}: field {} before the first .I", line_where(path, reader.line_number()), line);
            in_field = true;
            text.push_back('\n');
            continue;
        }
        if (blank(line) && !in_record) continue;
        ensure<InputError>(in_record, "{}: text before the first .I record", line_where(path, reader.line_number()));
        ensure<InputError>(in_field, "{}: text outside a .T/.A/.B/.W field", line_where(path, reader.line_number()));
        text.append(line);
        text.push_back('\n');
    }
    flush();
}

/// <DOC><DOCNO> id </DOCNO> text </DOC> and <top><num> Number: id <title> text ... </top>.
void read_trec(const std::string& path, Emitter& emit) {
    LineReader reader(path);
    std::string_view line;
    std::string id;
    std::string text;
    std::string where;
    bool open = false;
    bool topic = false;   // <top> layout: only the title counts
    bool collect = false;
    while (reader.next(line)) {
        auto t = trim(line);
        const auto here = line_where(path, reader.line_number());
        if (iequals_prefix(t, "<doc>") || iequals_prefix(t, "<top>")) {
            ensure<InputError>(!open, "{}: {} inside an open record (missing end tag?)", here, t.substr(0, 5));
            open = true;
            topic = iequals_prefix(t, "<top>");
            collect = !topic;
            where = here;
            id.clear();
            text.clear();
            continue;
        }
        if (iequals_prefix(t, "</doc>") || iequals_prefix(t, "</top>")) {
            ensure<InputError>(open, "{}: {} without an open record", here, t);
            ensure<InputError>(!id.empty(), "{}: record without <DOCNO>/<num>", where);
            open = false;
            emit(std::move(id), std::move(text), where);
            continue;
        }
        if (!open) {
            ensure<InputError>(t.empty(), "{}: text outside <DOC>/<top>", here);
            continue;
        }
        if (iequals_prefix(t, "<docno>")) {
            const auto end = t.find("</");
            id = std::string(trim(t.substr(7, end == std::string_view::npos ? std::string_view::npos : end - 7)));
            continue;
        }
        if (topic) {
            if (iequals_prefix(t, "<num>")) {
                auto v = trim(t.substr(5));
                if (iequals_prefix(v, "number:")) v = trim(v.substr(7));
                id = std::string(v);
                collect = false;
                continue;
            }
            if (iequals_prefix(t, "<title>")) {
                collect = true;
                t = trim(t.substr(7));
                if (iequals_prefix(t, "topic:")) t = trim(t.substr(6));
            } else if (!t.empty() && t.front() == '<') {
                collect = false;  // <desc>, <narr>: Anserini's default topic field is the title
                continue;
            }
        }
        if (collect) {
            text.append(t);
            text.push_back('\n');
        }
    }
    ensure<InputError>(!open, "{}: truncated: record opened at {} is never closed", path, where);
}

void read_tsv(const std::string& path, Emitter& emit) {
    LineReader reader(path);
    std::string_view line;
    while (reader.next(line)) {
        if (blank(line)) continue;
        const auto where = line_where(path, reader.line_number());
        const auto tab = line.find('\t');
        ensure<InputError>(tab != std::string_view::npos, "{}: expected id<TAB>text, found no tab", where);
        emit(std::string(trim(line.substr(0, tab))), std::string(line.substr(tab + 1)), where);
    }
}

void append_entity(std::string& out, std::string_view name) {
    static constexpr std::pair<std::string_view, char32_t> named[] = {
        {"amp", U'&'}, {"lt", U'<'}, {"gt", U'>'}, {"quot", U'"'}, {"apos", U'\''}, {"nbsp", 0xA0}};
    for (const auto& [n, cp] : named) {
        if (name == n) return text::append_utf8(out, cp);
    }
    if (name.size() > 1 && name[0] == '#') {
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const auto digits = name.substr(hex ? 2 : 1);
        std::uint32_t v = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, hex ? 16 : 10);
        if (ec == std::errc() && ptr == digits.data() + digits.size() && v > 0 && v <= 0x10FFFF &&
            (v < 0xD800 || v > 0xDFFF)) {
            return text::append_utf8(out, static_cast<char32_t>(v));
        }
    }
    out.push_back('&');  // unknown: keep the text as it was
    out.append(name);
    out.push_back(';');
}

}  // namespace

std::string_view to_string(TextLayout l) noexcept {
    switch (l) {
        case TextLayout::tar: return "tar";
        case TextLayout::jsonl: return "jsonl";
        case TextLayout::cranfield: return "cranfield";
        case TextLayout::trec: return "trec";
        case TextLayout::tsv: return "tsv";
    }
    return "?";
}

TextLayout detect_text_layout(const std::string& path) {
    if (TarReader::looks_like_tar(path)) return TextLayout::tar;
    LineReader reader(path);
    std::string_view line;
    while (reader.next(line)) {
        const auto t = trim(line);
        if (t.empty()) continue;
        if (t.front() == '{') return TextLayout::jsonl;
        if (t.starts_with(".I")) return TextLayout::cranfield;
        if (iequals_prefix(t, "<doc>") || iequals_prefix(t, "<top>")) return TextLayout::trec;
        if (line.find('\t') != std::string_view::npos) return TextLayout::tsv;
        throw InputError(fmt::format("{}: line {}: cannot tell the text layout (expected a tar archive, JSONL, "
                                     "Cranfield .I records, TREC <DOC>/<top> topics or id<TAB>text lines)",
                                     path, reader.line_number()));
    }
    throw InputError(fmt::format("{}: empty file (no records)", path));
}

std::size_t read_text_collection(const std::string& path, Side side, const std::function<void(TextRecord&&)>& emit) {
    Emitter e(path, emit);
    switch (detect_text_layout(path)) {
        case TextLayout::tar: read_tar(path, e); break;
        case TextLayout::jsonl: read_jsonl(path, e); break;
        case TextLayout::cranfield: read_cranfield(path, side, e); break;
        case TextLayout::trec: read_trec(path, e); break;
        case TextLayout::tsv: read_tsv(path, e); break;
    }
    return e.finish();
}

std::string strip_html(std::string_view html) {
    std::string out;
    out.reserve(html.size());
    std::size_t i = 0;
    const auto skip_past = [&](std::string_view end_marker) {
        std::size_t j = i;
        for (; j + end_marker.size() <= html.size(); ++j) {
            if (iequals_prefix(html.substr(j), end_marker)) break;
        }
        i = std::min(html.size(), j + end_marker.size());
    };
    while (i < html.size()) {
        const char c = html[i];
        if (c == '<') {
            const auto rest = html.substr(i);
            if (rest.starts_with("<!--")) {
                skip_past("-->");
            } else if (iequals_prefix(rest, "<script")) {
                skip_past("</script>");
            } else if (iequals_prefix(rest, "<style")) {
                skip_past("</style>");
            } else {
                skip_past(">");
            }
            out.push_back(' ');
        } else if (c == '&') {
            const auto semi = html.find(';', i);
            if (semi != std::string_view::npos && semi - i <= 10) {
                append_entity(out, html.substr(i + 1, semi - i - 1));
                i = semi + 1;
            } else {
                out.push_back(c);
                ++i;
            }
        } else {
            out.push_back(c);
            ++i;
        }
    }
    return out;
}

}  // namespace aftershock
