#pragma once
// Run files: the ranked (query, document, score) lists a search writes and the evaluators read.
// Two layouts are read: our TSV `qid<TAB>docid<TAB>rank<TAB>score` and TREC `qid Q0 docid rank score tag`.
// Only the TSV is written. Ids are external ids (strings), never corpus row numbers.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace aftershock {

/// Layout of a run file.
enum class RunFormat { tsv, trec };
[[nodiscard]] std::string_view to_string(RunFormat f) noexcept;

/// One line of a run. The score is kept as a double, as trec_eval does, so that ties compare the same way.
struct RunEntry {
    std::string qid;
    std::string docid;
    std::int64_t rank = 0;
    double score = 0.0;
};

/// A whole run in file order.
struct Run {
    RunFormat format = RunFormat::tsv;
    std::vector<RunEntry> entries;
};

/// Reads a run file, detecting the layout from its first non-blank line (4 tab-separated columns: TSV;
/// 6 whitespace-separated columns: TREC); every later line must have the same layout. Blank lines are skipped.
/// Throws InputError naming the file and line for a wrong column count, a non-integer rank, a non-numeric or NaN
/// score, or a document listed twice for one query (trec_eval refuses those too); Error if the file cannot be read.
[[nodiscard]] Run read_run(const std::string& path);
/// The same from a stream; `source` names it in error messages.
[[nodiscard]] Run parse_run(std::istream& in, std::string_view source);

/// Writes one TSV line `qid<TAB>docid<TAB>rank<TAB>score`; the score with 9 significant digits, enough to read the
/// same float back. Throws UsageError if an id is empty or contains a tab or a line break (the line would not parse).
void write_run_line(std::FILE* out, std::string_view qid, std::string_view docid, std::size_t rank, float score);
void write_run_line(std::ostream& out, std::string_view qid, std::string_view docid, std::size_t rank, float score);

}  // namespace aftershock
