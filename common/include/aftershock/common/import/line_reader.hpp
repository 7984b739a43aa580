#pragma once
// Streaming line reader for importer inputs: plain or gzip files (detected by content, not by name),
// lines of any length (SPLADE token-repeat lines exceed 100 KB), 1-based line numbers for messages.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aftershock {

class LineReader {
public:
    /// Opens `path`; throws InputError naming the file if it cannot be opened.
    explicit LineReader(std::string path);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;
    LineReader(LineReader&&) noexcept;
    LineReader& operator=(LineReader&&) noexcept;

    /// Reads the next line without its "\n" or "\r\n" into `line` (valid until the next call).
    /// Returns false at the end of the file. Throws InputError on a read error, a truncated gzip
    /// stream or a line longer than max_line_bytes().
    bool next(std::string_view& line);

    /// 1-based number of the line last returned by next() (0 before the first).
    [[nodiscard]] std::uint64_t line_number() const noexcept { return m_line_no; }
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    /// True if the file is gzip-compressed.
    [[nodiscard]] bool compressed() const noexcept { return m_compressed; }
    /// Uncompressed bytes consumed so far (for progress lines).
    [[nodiscard]] std::uint64_t bytes() const noexcept { return m_bytes; }

    /// Guard against reading a binary file as text: longer lines are an error.
    static constexpr std::size_t max_line_bytes() noexcept { return std::size_t{1} << 30; }

private:
    bool fill();
    void close() noexcept;
    std::string m_path;
    void* m_gz = nullptr;  // gzFile; void* keeps <zlib.h> out of the header
    bool m_compressed = false;
    bool m_eof = false;
    std::vector<char> m_buf;
    std::size_t m_pos = 0;
    std::size_t m_end = 0;
    std::string m_long;  // a line that spans buffer refills
    std::uint64_t m_line_no = 0;
    std::uint64_t m_bytes = 0;
};

}  // namespace aftershock
