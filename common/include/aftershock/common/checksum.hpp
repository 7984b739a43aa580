#pragma once
// Checksums: a fast 64-bit content hash stored inside shard files (verified at every load), and SHA-256 of
// whole files for manifests (OpenSSL).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace aftershock {

/// Streaming 64-bit hash of byte ranges (multiply-xorshift per 8-byte word; not cryptographic).
class ContentHash {
public:
    void update(const void* data, std::size_t bytes) noexcept;
    template <typename T> void update(const std::vector<T>& v) noexcept {
        const std::uint64_t n = v.size();
        update(&n, sizeof n);  // lengths too, so moving bytes between arrays changes the hash
        update(v.data(), v.size() * sizeof(T));
    }
    [[nodiscard]] std::uint64_t digest() const noexcept;
    [[nodiscard]] std::string hex() const;

private:
    std::uint64_t m_state = 0x243F6A8885A308D3ULL;
    std::uint64_t m_length = 0;
};

/// Lower-case hex SHA-256 of a file's bytes; throws Error if it cannot be read.
[[nodiscard]] std::string sha256_file(const std::string& path);
/// Lower-case hex SHA-256 of a byte string.
[[nodiscard]] std::string sha256_hex(std::span<const std::uint8_t> bytes);

}  // namespace aftershock
