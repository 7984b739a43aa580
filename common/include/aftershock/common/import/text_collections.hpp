#pragma once
// Readers of raw text collections and topic files for `aftershock import --format text`. The layout is told
// from the content (the first 512 bytes for tar, else the first non-blank line):
//   tar        tar or tar.gz of documents (CACM's HTML files): one record per regular file, id = the file name's
//              stem ("CACM-0001" for cacm/CACM-0001.html), text = the file with HTML tags, comments, <script> and
//              <style> removed and entities decoded. AppleDouble "._*" members are skipped.
//   jsonl      Anserini JsonCollection lines {"id": .., "contents": ".."} ("docid"/"qid" and "content"/"text"
//              are accepted too).
//   cranfield  SMART/Cranfield ".I n" records with .T .A .B .W fields (text = every field, in order). Query
//              files (Side::queries) are numbered by position 1..n, as cranqrel numbers them; `.I` is ignored.
//   trec       <DOC><DOCNO> id </DOCNO> text </DOC> (topics.cacm.txt) or <top><num> ..<title> ..</top>
//              (TREC topics; text = title).
//   tsv        "id<TAB>text" lines (Anserini's TSV topics).
// Errors (InputError, naming the file and line or member): missing id or text fields, duplicate ids, a truncated
// tar, an unrecognised layout, a file without records. A record whose text is empty is passed on (Cranfield has
// two, 471 and 995): the importer decides.
#include "aftershock/common/corpus.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace aftershock {

enum class TextLayout { tar, jsonl, cranfield, trec, tsv };
[[nodiscard]] std::string_view to_string(TextLayout l) noexcept;

struct TextRecord {
    std::string id;
    std::string text;
    std::string where;  ///< "FILE: line 12" or "FILE: member cacm/CACM-0001.html", for messages
};

/// Detects the layout of `path` (InputError naming it if none fits).
[[nodiscard]] TextLayout detect_text_layout(const std::string& path);
/// Calls `emit` for every record of `path` in file order; returns the number of records.
std::size_t read_text_collection(const std::string& path, Side side, const std::function<void(TextRecord&&)>& emit);

/// Text content of an HTML (or plain text) page: tags, comments, <script>/<style> bodies dropped (a tag becomes
/// a space), the common named entities and numeric character references decoded.
[[nodiscard]] std::string strip_html(std::string_view html);

}  // namespace aftershock
