#include "aftershock/common/run_file.hpp"
#include "aftershock/common/text.hpp"

#include "aftershock/common/error.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <ostream>
#include <unordered_map>

namespace aftershock {

std::string_view to_string(RunFormat f) noexcept { return f == RunFormat::tsv ? "tsv" : "trec"; }

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        const auto tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
        if (tab == std::string_view::npos) return out;
        start = tab + 1;
    }
}

bool is_blank(std::string_view line) noexcept {
    for (char c : line) {
        if (!is_space(c)) return false;
    }
    return true;
}

template <typename T>
bool parse_number(std::string_view s, T& value) {
    if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);  // atof/atol accept a plus sign
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, value);
    return ec == std::errc() && ptr == end;
}

void check_id(std::string_view id, std::string_view what) {
    ensure<UsageError>(!id.empty(), "run line: empty {}", what);
    ensure<UsageError>(id.find_first_of("\t\r\n") == std::string_view::npos,
                       "run line: {} '{}' contains a tab or line break, which the TSV layout cannot hold", what, id);
}

std::string format_run_line(std::string_view qid, std::string_view docid, std::size_t rank, float score) {
    check_id(qid, "query id");
    check_id(docid, "document id");
    return fmt::format("{}\t{}\t{}\t{:.9g}\n", qid, docid, rank, score);
}

}  // namespace

Run parse_run(std::istream& in, std::string_view source) {
    Run run;
    bool detected = false;
    // Key "qid\ndocid": neither layout lets an id contain a line break.
    std::unordered_map<std::string, std::size_t> first_line;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        std::string_view text(line);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (is_blank(text)) continue;
        if (!detected) {
            if (split_tabs(text).size() == 4) {
                run.format = RunFormat::tsv;
            } else {
                const auto n = split_whitespace(text).size();
                ensure<InputError>(n == 6,
                                   "{}:{}: not a run line: expected 4 tab-separated columns (qid docid rank score) or 6 "
                                   "TREC columns (qid Q0 docid rank score tag), found {} columns",
                                   source, line_no, n);
                run.format = RunFormat::trec;
            }
            detected = true;
        }
        RunEntry e;
        std::string_view rank_text;
        std::string_view score_text;
        if (run.format == RunFormat::tsv) {
            const auto f = split_tabs(text);
            ensure<InputError>(f.size() == 4,
                               "{}:{}: expected 4 tab-separated columns (qid docid rank score) like the first line, found {}",
                               source, line_no, f.size());
            ensure<InputError>(!f[0].empty() && !f[1].empty(), "{}:{}: empty {}", source, line_no,
                               f[0].empty() ? "query id" : "document id");
            e.qid = f[0];
            e.docid = f[1];
            rank_text = f[2];
            score_text = f[3];
        } else {
            const auto f = split_whitespace(text);
            ensure<InputError>(f.size() == 6,
                               "{}:{}: expected 6 TREC columns (qid Q0 docid rank score tag) like the first line, found {}",
                               source, line_no, f.size());
            e.qid = f[0];
            e.docid = f[2];
            rank_text = f[3];
            score_text = f[4];
        }
        ensure<InputError>(parse_number(rank_text, e.rank), "{}:{}: rank '{}' is not an integer", source, line_no,
                           rank_text);
        ensure<InputError>(parse_number(score_text, e.score), "{}:{}: score '{}' is not a number", source, line_no,
                           score_text);
        ensure<InputError>(!std::isnan(e.score), "{}:{}: score is NaN", source, line_no);
        const auto [it, inserted] = first_line.try_emplace(e.qid + '\n' + e.docid, line_no);
        ensure<InputError>(inserted, "{}:{}: document '{}' listed twice for query '{}' (first at line {})", source,
                           line_no, e.docid, e.qid, it->second);
        run.entries.push_back(std::move(e));
    }
    ensure(!in.bad(), "{}: read error after line {}", source, line_no);
    return run;
}

Run read_run(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    ensure<InputError>(in.is_open(), "{}: cannot open run file", path);
    return parse_run(in, path);
}

void write_run_line(std::FILE* out, std::string_view qid, std::string_view docid, std::size_t rank, float score) {
    const auto text = format_run_line(qid, docid, rank, score);
    ensure(std::fwrite(text.data(), 1, text.size(), out) == text.size(), "run file: write failed");
}

void write_run_line(std::ostream& out, std::string_view qid, std::string_view docid, std::size_t rank, float score) {
    out << format_run_line(qid, docid, rank, score);
    ensure(out.good(), "run file: write failed");
}

}  // namespace aftershock
