#include "aftershock/common/checksum.hpp"

#include "aftershock/common/error.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace aftershock {
namespace {

constexpr std::uint64_t mix(std::uint64_t h, std::uint64_t w) noexcept {
    h ^= w * 0x9E3779B97F4A7C15ULL;
    h = (h << 31) | (h >> 33);
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 29);
}

std::string to_hex(const unsigned char* bytes, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xF];
    }
    return out;
}

using MdContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

}  // namespace

void ContentHash::update(const void* data, std::size_t bytes) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, 8);
        m_state = mix(m_state, w);
    }
    if (i < bytes) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, bytes - i);
        m_state = mix(m_state, w ^ (std::uint64_t{bytes - i} << 56));
    }
    m_length += bytes;
}

std::uint64_t ContentHash::digest() const noexcept { return mix(m_state, m_length); }

std::string ContentHash::hex() const {
    const auto d = digest();
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(d >> (56 - 8 * i));
    return to_hex(b, 8);
}

std::string sha256_hex(std::span<const std::uint8_t> bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ensure(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) == 1, "SHA-256 failed");
    return to_hex(md, len);
}

std::string sha256_file(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    ensure(f != nullptr, "cannot read {} to checksum it", path);
    MdContext ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    ensure(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
    std::vector<unsigned char> buf(1 << 20);
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) EVP_DigestUpdate(ctx.get(), buf.data(), n);
    ensure(std::ferror(f.get()) == 0, "read error while checksumming {}", path);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    return to_hex(md, len);
}

}  // namespace aftershock
