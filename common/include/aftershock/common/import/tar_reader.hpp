#pragma once
// Sequential reader of a tar archive (plain or gzip-compressed, detected from the data): POSIX ustar and GNU
// headers, GNU long names ('L') and pax headers ('x', 'g'; their path= record is honoured). Every header's checksum
// is verified; a short header or member data is an InputError "truncated", never a partial member.
#include <cstdint>
#include <memory>
#include <string>

namespace aftershock {

struct TarEntry {
    std::string name;  ///< path inside the archive
    std::string data;  ///< contents of a regular file
};

class TarReader {
public:
    /// Opens `path`; InputError if it cannot be opened.
    explicit TarReader(const std::string& path);
    ~TarReader();
    TarReader(const TarReader&) = delete;
    TarReader& operator=(const TarReader&) = delete;
    /// The next regular file (directories, links and other entries are skipped); false at the end of the archive
    /// (two zero blocks, or one followed by the end of the data). Members above `max_member_bytes` are refused.
    bool next(TarEntry& entry);
    /// True if the file's first 512 bytes (after gunzip) are a tar header with a valid checksum.
    [[nodiscard]] static bool looks_like_tar(const std::string& path);

    static constexpr std::uint64_t max_member_bytes = std::uint64_t{1} << 30;

private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

}  // namespace aftershock
