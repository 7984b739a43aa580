#include "aftershock/common/text/wordpiece.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/text/unicode.hpp"

#include <cstdlib>
#include <filesystem>

namespace aftershock::text {
namespace fs = std::filesystem;

const std::vector<std::string>& english_stopwords() {
    static const std::vector<std::string> words{"a",    "an",    "and",   "are",  "as",   "at",   "be",
                                                "but",  "by",    "for",   "if",   "in",   "into", "is",
                                                "it",   "no",    "not",   "of",   "on",   "or",   "such",
                                                "that", "the",   "their", "then", "there", "these", "they",
                                                "this", "to",    "was",   "will", "with"};
    return words;
}

std::vector<std::string> stopword_list(std::string_view name) {
    if (name.empty() || name == "none") return {};
    if (name == "english") return english_stopwords();
    throw UsageError(fmt::format("unknown stopword list '{}' (expected none or english)", name));
}

std::u32string s_stem(std::u32string w) {
    const auto ends = [&](std::u32string_view suffix) { return w.size() >= suffix.size() && w.ends_with(suffix); };
    if (w.size() <= 3) return w;
    if (ends(U"ies")) {
        if (!ends(U"eies") && !ends(U"aies")) w.replace(w.size() - 3, 3, U"y");
    } else if (ends(U"es")) {
        if (!ends(U"aes") && !ends(U"ees") && !ends(U"oes")) w.pop_back();
    } else if (ends(U"s")) {
        if (!ends(U"us") && !ends(U"ss")) w.pop_back();
    }
    return w;
}

bool parse_stemmer(std::string_view name) {
    if (name.empty() || name == "none") return false;
    if (name == "s") return true;
    throw UsageError(fmt::format("unknown stemmer '{}' (expected none or s)", name));
}

WordPieceTokenizer::WordPieceTokenizer(Vocabulary vocab, TokenizerOptions options)
    : m_vocab(std::move(vocab)), m_options(std::move(options)) {
    const auto unk = m_vocab.find("[UNK]");
    ensure<UsageError>(unk.has_value(), "vocabulary {} has no [UNK] token: not a WordPiece vocabulary",
                       m_vocab.source().empty() ? std::string("(in memory)") : m_vocab.source());
    m_unk = *unk;
    ensure<UsageError>(m_options.max_chars_per_word > 0, "max_chars_per_word must be > 0");
    for (const auto& w : m_options.stopwords) m_stop.insert(decode_utf8(w));
}

WordPieceTokenizer WordPieceTokenizer::load(const std::string& vocab_path, TokenizerOptions options) {
    return WordPieceTokenizer(Vocabulary::load(vocab_path), std::move(options));
}

void WordPieceTokenizer::basic(std::string_view text, std::vector<std::u32string>& words) const {
    words.clear();
    std::u32string raw;
    std::u32string folded;
    const auto flush = [&] {
        if (raw.empty()) return;
        folded.clear();
        for (const char32_t c : raw) append_stripped(folded, to_lower(c));
        raw.clear();
        // Punctuation splits a whitespace token: every mark is a word of its own.
        std::u32string word;
        for (const char32_t c : folded) {
            if (is_punctuation(c)) {
                if (!word.empty()) words.push_back(std::move(word));
                word.clear();
                words.emplace_back(1, c);
            } else {
                word.push_back(c);
            }
        }
        if (!word.empty()) words.push_back(std::move(word));
    };
    for (const char32_t c : decode_utf8(text)) {
        if (c == 0 || c == kReplacement || is_control(c)) continue;  // _clean_text
        if (is_whitespace(c)) {
            flush();
        } else if (is_cjk(c)) {  // _tokenize_chinese_chars: every ideograph is a word
            flush();
            words.emplace_back(1, c);
        } else {
            raw.push_back(c);
        }
    }
    flush();
    if (!m_stop.empty()) std::erase_if(words, [&](const std::u32string& w) { return m_stop.contains(w); });
    if (m_options.s_stem) {
        for (auto& w : words) w = s_stem(std::move(w));
    }
}

void WordPieceTokenizer::wordpiece(const std::u32string& word, std::vector<std::uint32_t>& out) const {
    if (word.size() > m_options.max_chars_per_word) {
        out.push_back(m_unk);
        return;
    }
    // UTF-8 of the word and the byte offset of each code point, so candidates are substrings.
    std::string utf8;
    std::vector<std::size_t> offset;
    offset.reserve(word.size() + 1);
    for (const char32_t c : word) {
        offset.push_back(utf8.size());
        append_utf8(utf8, c);
    }
    offset.push_back(utf8.size());
    const auto first = out.size();
    std::string candidate;
    std::size_t start = 0;
    while (start < word.size()) {
        std::size_t end = word.size();
        bool found = false;
        while (start < end) {
            candidate.assign(start > 0 ? "##" : "");
            candidate.append(utf8, offset[start], offset[end] - offset[start]);
            if (const auto id = m_vocab.find(candidate)) {
                out.push_back(*id);
                found = true;
                break;
            }
            --end;
        }
        if (!found) {  // one unmatched piece makes the whole word unknown
            out.resize(first);
            out.push_back(m_unk);
            return;
        }
        start = end;
    }
}

std::vector<std::uint32_t> WordPieceTokenizer::encode(std::string_view text) const {
    std::vector<std::u32string> words;
    basic(text, words);
    std::vector<std::uint32_t> ids;
    ids.reserve(words.size() * 2);
    for (const auto& w : words) wordpiece(w, ids);
    return ids;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
    std::vector<std::string> out;
    for (const auto id : encode(text)) out.push_back(m_vocab.token(id));
    return out;
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(std::string_view text) const {
    std::vector<std::u32string> words;
    basic(text, words);
    std::vector<std::string> out;
    out.reserve(words.size());
    for (const auto& w : words) {
        std::string s;
        for (const char32_t c : w) append_utf8(s, c);
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<std::string> default_vocab_candidates() {
    const fs::path rel = fs::path("shared") / "data" / "bert_vocab_npm" / "vocab.json";
    std::vector<std::string> out;
    if (const char* env = std::getenv("AFTERSHOCK_BERT_VOCAB"); env != nullptr && *env != '\0') out.emplace_back(env);
    out.push_back((fs::path("..") / rel).string());
    out.push_back(rel.string());
    std::error_code ec;
    auto dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
    for (int up = 0; !ec && up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) out.push_back((dir / rel).string());
    return out;
}

std::string default_vocab_path() {
    const auto candidates = default_vocab_candidates();
    for (const auto& c : candidates) {
        std::error_code ec;
        if (fs::is_regular_file(c, ec)) return c;
    }
    throw UsageError(fmt::format("no BERT vocabulary found (looked for {}); pass --vocab or set AFTERSHOCK_BERT_VOCAB",
                                 fmt::join(candidates, ", ")));
}

}  // namespace aftershock::text
