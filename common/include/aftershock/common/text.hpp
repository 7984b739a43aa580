#pragma once
// Small text helpers shared by the line-oriented readers (run files, qrels).
#include <string_view>
#include <vector>

namespace aftershock {

[[nodiscard]] constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/// Fields of a line separated by runs of whitespace (views into `line`).
[[nodiscard]] inline std::vector<std::string_view> split_whitespace(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        const auto start = i;
        while (i < line.size() && !is_space(line[i])) ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

}  // namespace aftershock
