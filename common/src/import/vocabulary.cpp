#include "aftershock/common/import/vocabulary.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/import/line_reader.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace aftershock {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁", sentencepiece's word-initial mark

bool is_special(std::string_view t) { return t.size() >= 3 && t.front() == '[' && t.back() == ']'; }

/// True if the file starts (after blanks) with "[" followed by a string or "]", or with "{": JSON, not vocab.txt
/// (whose first line "[PAD]" also starts with "[").
bool looks_like_json(const std::string& path) {
    LineReader reader(path);
    std::string_view line;
    while (reader.next(line)) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos) continue;
        if (line[first] == '{') return true;
        if (line[first] != '[') return false;
        const auto second = line.find_first_not_of(" \t", first + 1);
        return second == std::string_view::npos || line[second] == '"' || line[second] == ']';
    }
    return false;
}

std::string read_all(const std::string& path) {
    LineReader reader(path);  // also reads vocab.json.gz
    std::string text;
    std::string_view line;
    while (reader.next(line)) {
        text.append(line);
        text.push_back('\n');
    }
    return text;
}

}  // namespace

std::string Vocabulary::from_sentencepiece(std::string_view piece) {
    if (piece == kSpaceMarker || is_special(piece)) return std::string(piece);
    if (piece.starts_with(kSpaceMarker)) return std::string(piece.substr(kSpaceMarker.size()));
    return "##" + std::string(piece);
}

Vocabulary Vocabulary::from_tokens(std::vector<std::string> tokens, const std::string& source) {
    Vocabulary v;
    v.m_source = source;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        ensure<InputError>(!v.find(tokens[i]), "{}: entry {}: duplicate token '{}' (first at entry {})", source, i,
                           tokens[i], v.find(tokens[i]).value_or(0));
        v.add(tokens[i]);
    }
    v.m_fixed = true;
    return v;
}

Vocabulary Vocabulary::load(const std::string& path) {
    std::vector<std::string> tokens;
    if (looks_like_json(path)) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(read_all(path));
        } catch (const nlohmann::json::exception& e) {
            throw InputError(fmt::format("{}: malformed JSON vocabulary: {}", path, e.what()));
        }
        if (j.is_array()) {
            tokens.reserve(j.size());
            for (std::size_t i = 0; i < j.size(); ++i) {
                ensure<InputError>(j[i].is_string(), "{}: entry {}: expected a string token, got {}", path, i,
                                   j[i].type_name());
                tokens.push_back(from_sentencepiece(j[i].get_ref<const std::string&>()));
            }
        } else if (j.is_object()) {
            // {token: id}, as in Hugging Face vocab.json files: ids must cover 0..n-1 exactly once.
            tokens.resize(j.size());
            std::vector<bool> seen(j.size(), false);
            for (const auto& [tok, id] : j.items()) {
                ensure<InputError>(id.is_number_unsigned() || (id.is_number_integer() && id.get<std::int64_t>() >= 0),
                                   "{}: token '{}': id must be a non-negative integer", path, tok);
                const auto k = id.get<std::uint64_t>();
                ensure<InputError>(k < tokens.size() && !seen[k],
                                   "{}: token '{}': id {} is out of range or repeated (ids must be 0..{})", path, tok, k,
                                   tokens.size() - 1);
                seen[k] = true;
                tokens[k] = tok;
            }
        } else {
            throw InputError(fmt::format("{}: expected a JSON list or object of tokens, got {}", path, j.type_name()));
        }
    } else {
        LineReader reader(path);
        std::string_view line;
        while (reader.next(line)) {
            // vocab.txt has one token per line; a blank line would be an empty token, which no model uses.
            ensure<InputError>(!line.empty(), "{}: line {}: empty token", path, reader.line_number());
            tokens.emplace_back(line);
        }
    }
    ensure<InputError>(!tokens.empty(), "{}: empty vocabulary", path);
    ensure<InputError>(tokens.size() <= std::numeric_limits<std::uint32_t>::max(), "{}: {} tokens exceed the u32 id range",
                       path, tokens.size());
    return from_tokens(std::move(tokens), path);
}

std::optional<std::uint32_t> Vocabulary::find(std::string_view token) const {
    const auto it = m_ids.find(token);
    if (it == m_ids.end()) return std::nullopt;
    return it->second;
}

std::uint32_t Vocabulary::add(std::string_view token) {
    if (const auto it = m_ids.find(token); it != m_ids.end()) return it->second;
    ensure(!m_fixed, "{}: token '{}' is not in the fixed vocabulary", m_source, token);
    ensure(m_tokens.size() < std::numeric_limits<std::uint32_t>::max(), "vocabulary: more than 2^32-1 tokens");
    const auto id = static_cast<std::uint32_t>(m_tokens.size());
    m_tokens.emplace_back(token);
    m_ids.emplace(m_tokens.back(), id);
    return id;
}

}  // namespace aftershock
