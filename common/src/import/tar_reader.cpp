#include "aftershock/common/import/tar_reader.hpp"

#include "import_common.hpp"

#include <array>
#include <charconv>

namespace aftershock {
namespace {

using Block = std::array<char, 512>;

bool all_zero(const Block& b) {
    for (const char c : b) {
        if (c != 0) return false;
    }
    return true;
}

/// A NUL- or space-terminated octal field (GNU base-256 sizes, first byte 0x80, are accepted too).
std::optional<std::uint64_t> octal(const char* p, std::size_t n) {
    if ((static_cast<unsigned char>(p[0]) & 0x80U) != 0) {
        std::uint64_t v = static_cast<unsigned char>(p[0]) & 0x7FU;
        for (std::size_t i = 1; i < n; ++i) v = (v << 8U) | static_cast<unsigned char>(p[i]);
        return v;
    }
    std::size_t i = 0;
    while (i < n && p[i] == ' ') ++i;
    std::size_t j = i;
    while (j < n && p[j] >= '0' && p[j] <= '7') ++j;
    for (std::size_t k = j; k < n; ++k) {
        if (p[k] != 0 && p[k] != ' ') return std::nullopt;
    }
    if (j == i) return std::uint64_t{0};
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(p + i, p + j, v, 8);
    if (ec != std::errc() || ptr != p + j) return std::nullopt;
    return v;
}

std::string field(const char* p, std::size_t n) {
    std::size_t len = 0;
    while (len < n && p[len] != 0) ++len;
    return {p, len};
}

bool checksum_ok(const Block& b) {
    const auto stored = octal(b.data() + 148, 8);
    if (!stored) return false;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < b.size(); ++i) sum += (i >= 148 && i < 156) ? 32U : static_cast<unsigned char>(b[i]);
    return sum == *stored;
}

/// The path= record of a pax extended header ("LEN path=VALUE\n" records), empty if none.
std::string pax_path(const std::string& data) {
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t len = 0;
        const auto [ptr, ec] = std::from_chars(data.data() + pos, data.data() + data.size(), len);
        if (ec != std::errc() || len == 0 || pos + len > data.size()) break;
        const std::string_view rec(data.data() + pos, len);
        const auto sp = rec.find(' ');
        if (sp != std::string_view::npos && rec.substr(sp + 1).starts_with("path=")) {
            auto v = rec.substr(sp + 6);
            if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
            return std::string(v);
        }
        pos += len;
    }
    return {};
}

}  // namespace

struct TarReader::Impl {
    explicit Impl(const std::string& path) : in(path) {}
    import_detail::BinaryReader in;
    std::uint64_t offset = 0;  // of the next header
    bool done = false;

    void read_data(std::string& out, std::uint64_t size, const std::string& name) {
        const auto what = fmt::format("member '{}' ({} bytes at offset {})", name, size, offset);
        out.resize(static_cast<std::size_t>(size));
        in.read(out.data(), out.size(), what);
        const auto padded = (size + 511) / 512 * 512;
        std::string pad(static_cast<std::size_t>(padded - size), '\0');
        in.read(pad.data(), pad.size(), what);
        offset += padded;
    }
};

TarReader::TarReader(const std::string& path) : m(std::make_unique<Impl>(path)) {}
TarReader::~TarReader() = default;

bool TarReader::next(TarEntry& entry) {
    const auto& path = m->in.path();
    std::string long_name;
    while (!m->done) {
        Block b{};
        const auto header_at = m->offset;
        if (!m->in.read_or_end(b.data(), b.size(), nullptr, fmt::format("tar header at offset {}", header_at))) {
            throw InputError(fmt::format("{}: truncated tar archive: no end-of-archive blocks after offset {}", path,
                                         header_at));
        }
        m->offset += b.size();
        if (all_zero(b)) {
            m->done = true;  // a second zero block may follow; anything after it is padding
            break;
        }
        ensure<InputError>(checksum_ok(b), "{}: offset {}: bad tar header checksum (not a tar archive, or corrupt)",
                           path, header_at);
        const auto size = octal(b.data() + 124, 12);
        ensure<InputError>(size.has_value(), "{}: offset {}: bad size field in tar header", path, header_at);
        ensure<InputError>(*size <= max_member_bytes, "{}: offset {}: member of {} bytes exceeds the {} byte limit",
                           path, header_at, *size, max_member_bytes);
        std::string name = field(b.data(), 100);
        if (std::string_view(b.data() + 257, 5) == "ustar") {
            const auto prefix = field(b.data() + 345, 155);
            if (!prefix.empty()) name = prefix + "/" + name;
        }
        if (!long_name.empty()) name = std::exchange(long_name, {});
        const char type = b[156];
        std::string data;
        m->read_data(data, *size, name);
        if (type == 'L') {
            long_name = field(data.data(), data.size());
        } else if (type == 'x') {
            long_name = pax_path(data);
        } else if (type == '0' || type == '\0' || type == '7') {
            entry.name = std::move(name);
            entry.data = std::move(data);
            return true;
        }
        // Directories, links, devices and global pax headers carry no document.
    }
    return false;
}

bool TarReader::looks_like_tar(const std::string& path) {
    import_detail::BinaryReader in(path);
    Block b{};
    try {
        in.read(b.data(), b.size(), "tar header");
    } catch (const InputError&) {
        return false;  // shorter than one block (or not gzip data after all)
    }
    return !all_zero(b) && checksum_ok(b);
}

}  // namespace aftershock
