#include "aftershock/common/text/unicode.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace aftershock::text {
namespace {

struct CodeRange {
    char32_t first;
    char32_t last;
};
struct CodeMap {
    char32_t from;
    char32_t to;
};

#include "unicode_tables.inc"

template <std::size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t cp) noexcept {
    const auto* it = std::upper_bound(std::begin(table), std::end(table), cp,
                                      [](char32_t c, const CodeRange& r) { return c < r.first; });
    return it != std::begin(table) && cp <= std::prev(it)->last;
}

template <std::size_t N>
const CodeMap* find_map(const CodeMap (&table)[N], char32_t cp) noexcept {
    const auto* it = std::lower_bound(std::begin(table), std::end(table), cp,
                                      [](const CodeMap& m, char32_t c) { return m.from < c; });
    return it != std::end(table) && it->from == cp ? it : nullptr;
}

bool is_continuation(unsigned char b) noexcept { return (b & 0xC0U) == 0x80U; }

}  // namespace

std::u32string decode_utf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        if (b0 < 0x80U) {
            out.push_back(b0);
            ++i;
            continue;
        }
        std::size_t len = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if ((b0 & 0xE0U) == 0xC0U) {
            len = 2, cp = b0 & 0x1FU, min = 0x80;
        } else if ((b0 & 0xF0U) == 0xE0U) {
            len = 3, cp = b0 & 0x0FU, min = 0x800;
        } else if ((b0 & 0xF8U) == 0xF0U) {
            len = 4, cp = b0 & 0x07U, min = 0x10000;
        }
        std::size_t got = 1;
        while (len != 0 && got < len && i + got < s.size() && is_continuation(static_cast<unsigned char>(s[i + got]))) {
            cp = (cp << 6U) | (static_cast<unsigned char>(s[i + got]) & 0x3FU);
            ++got;
        }
        const bool ok = len != 0 && got == len && cp >= min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        out.push_back(ok ? cp : kReplacement);
        i += got;  // a bad sequence is skipped up to the first byte that is not its continuation
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    const auto c = static_cast<std::uint32_t>(cp);
    if (c < 0x80U) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800U) {
        out.push_back(static_cast<char>(0xC0U | (c >> 6U)));
        out.push_back(static_cast<char>(0x80U | (c & 0x3FU)));
    } else if (c < 0x10000U) {
        out.push_back(static_cast<char>(0xE0U | (c >> 12U)));
        out.push_back(static_cast<char>(0x80U | ((c >> 6U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | (c & 0x3FU)));
    } else {
        out.push_back(static_cast<char>(0xF0U | (c >> 18U)));
        out.push_back(static_cast<char>(0x80U | ((c >> 12U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | ((c >> 6U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | (c & 0x3FU)));
    }
}

bool is_whitespace(char32_t cp) noexcept {
    if (cp == U' ' || cp == U'\t' || cp == U'\n' || cp == U'\r') return true;
    return in_ranges(kWhitespace, cp);
}

bool is_control(char32_t cp) noexcept {
    if (cp == U'\t' || cp == U'\n' || cp == U'\r') return false;
    return in_ranges(kControl, cp);
}

bool is_punctuation(char32_t cp) noexcept {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
        return true;
    }
    return in_ranges(kPunctuation, cp);
}

bool is_cjk(char32_t cp) noexcept {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_combining_mark(char32_t cp) noexcept { return in_ranges(kMark, cp); }

char32_t to_lower(char32_t cp) noexcept {
    if (cp < 0x80) return cp >= U'A' && cp <= U'Z' ? cp + 32 : cp;
    if (cp == 0x130) return U'i';
    const auto* m = find_map(kLower, cp);
    return m != nullptr ? m->to : cp;
}

void append_stripped(std::u32string& out, char32_t cp) {
    if (cp < 0xC0) {
        out.push_back(cp);
        return;
    }
    if (cp >= 0xAC00 && cp <= 0xD7A3) {  // Hangul syllable: the algorithmic NFD (Unicode §3.12)
        const char32_t s = cp - 0xAC00;
        out.push_back(0x1100 + s / (21 * 28));
        out.push_back(0x1161 + (s % (21 * 28)) / 28);
        if (s % 28 != 0) out.push_back(0x11A7 + s % 28);
        return;
    }
    if (is_combining_mark(cp)) return;
    const auto* m = find_map(kStripAccent, cp);
    out.push_back(m != nullptr ? m->to : cp);
}

}  // namespace aftershock::text
