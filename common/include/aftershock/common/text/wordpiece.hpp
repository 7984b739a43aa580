#pragma once
// bert-base-uncased tokenization without Python: BasicTokenizer (clean, CJK split, lower-case, strip accents,
// punctuation split) followed by greedy longest-match-first WordPiece with "##" continuations.
//
// Differences from Hugging Face's BertTokenizer, by design or by limitation:
//  - invalid UTF-8 never throws: each ill-formed sequence decodes to U+FFFD, which cleaning drops (as BERT drops a
//    U+FFFD it is given), so "a\xFFb" tokenizes like "ab";
//  - no NFC pass before splitting (inputs in decomposed form still lose their marks in accent stripping);
//  - accent stripping covers the ranges of scripts/gen_unicode_tables.py (Latin, IPA, Greek, Cyrillic, their
//    extended blocks, Hangul); other precomposed letters keep their accents;
//  - optional word-level stopwords (BERT has none), removed after basic tokenization.
#include "aftershock/common/import/vocabulary.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace aftershock::text {

/// Lucene's English stop set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, 33 words), the one Anserini's default
/// analyzer removes.
[[nodiscard]] const std::vector<std::string>& english_stopwords();

/// Named stopword lists: "" or "none" (no list) and "english". Throws UsageError for any other name.
[[nodiscard]] std::vector<std::string> stopword_list(std::string_view name);

/// Harman's S-stemmer (1991), a plural remover whose outputs are mostly words WordPiece knows whole:
/// "-ies" -> "-y" (not "-eies", "-aies"), "-es" -> "-e" (not "-aes", "-ees", "-oes"), "-s" -> "" (not "-us",
/// "-ss"); the first rule whose suffix matches decides; words of 3 characters or fewer are kept.
[[nodiscard]] std::u32string s_stem(std::u32string word);

/// Named stemmers: "" or "none" and "s" (s_stem). UsageError for any other name; returns whether to stem.
[[nodiscard]] bool parse_stemmer(std::string_view name);

struct TokenizerOptions {
    std::size_t max_chars_per_word = 100;  ///< longer basic tokens become [UNK] (BERT's max_input_chars_per_word)
    std::vector<std::string> stopwords;    ///< basic tokens removed before WordPiece (lower-cased, accent-free)
    bool s_stem = false;                   ///< apply s_stem() to basic tokens (after stopword removal)
};

class WordPieceTokenizer {
public:
    /// Needs a vocabulary in WordPiece spelling ("##piece") with an "[UNK]" entry (UsageError otherwise).
    explicit WordPieceTokenizer(Vocabulary vocab, TokenizerOptions options = {});
    /// Loads the vocabulary (a bert vocab.json list or vocab.txt; see Vocabulary::load).
    [[nodiscard]] static WordPieceTokenizer load(const std::string& vocab_path, TokenizerOptions options = {});

    /// BasicTokenizer: the words and punctuation marks of `text`, lower-cased and without accents (UTF-8).
    [[nodiscard]] std::vector<std::string> basic_tokenize(std::string_view text) const;
    /// Vocabulary ids of the WordPieces of `text` (stopwords removed), [UNK] included, in text order.
    [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text) const;
    /// The same as piece strings ("un", "##aff", "##able").
    [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const;

    [[nodiscard]] const Vocabulary& vocab() const noexcept { return m_vocab; }
    [[nodiscard]] std::uint32_t unk_id() const noexcept { return m_unk; }

private:
    /// Appends the pieces of one basic token to `out` (or [UNK]).
    void wordpiece(const std::u32string& word, std::vector<std::uint32_t>& out) const;
    void basic(std::string_view text, std::vector<std::u32string>& words) const;

    Vocabulary m_vocab;
    TokenizerOptions m_options;
    std::unordered_set<std::u32string> m_stop;
    std::uint32_t m_unk = 0;
};

/// Where the BERT vocabulary is looked for when no path is given, first hit wins: $AFTERSHOCK_BERT_VOCAB, then
/// shared/data/bert_vocab_npm/vocab.json under ".." and "." of the working directory (the checkout's sibling
/// `shared`), then under the executable's directory and its three parents (build/bin/ in a checkout).
[[nodiscard]] std::vector<std::string> default_vocab_candidates();
/// The first existing candidate; UsageError listing the candidates if none exists.
[[nodiscard]] std::string default_vocab_path();

}  // namespace aftershock::text
