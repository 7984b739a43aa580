#include "aftershock/common/wire/auth.hpp"

#include "aftershock/common/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace aftershock::wire {

namespace {
constexpr std::string_view kContext = "aftershock-worker-auth-v1";
constexpr std::size_t kMinSecretBytes = 16;
}  // namespace

AuthNonce make_auth_nonce() {
    AuthNonce n{};
    ensure(RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size())) == 1,
           "cannot draw a random nonce (OpenSSL RAND_bytes failed)");
    return n;
}

AuthProof auth_proof(std::string_view secret, const AuthNonce& nonce) {
    std::array<unsigned char, kContext.size() + kAuthNonceBytes> message{};
    std::copy(kContext.begin(), kContext.end(), message.begin());
    std::memcpy(message.data() + kContext.size(), nonce.data(), nonce.size());
    AuthProof proof{};
    unsigned length = 0;
    const auto* out = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), message.data(), message.size(),
                           reinterpret_cast<unsigned char*>(proof.data()), &length);
    ensure(out != nullptr && length == proof.size(), "HMAC-SHA256 failed");
    return proof;
}

bool check_auth_proof(std::string_view secret, const AuthNonce& nonce, const AuthProof& proof) {
    const auto want = auth_proof(secret, nonce);
    return CRYPTO_memcmp(want.data(), proof.data(), want.size()) == 0;
}

std::string load_shared_secret(const std::string& file) {
    std::string secret;
    if (!file.empty()) {
        std::ifstream in(file, std::ios::binary);
        ensure<UsageError>(in.good(), "--shared-secret-file {}: cannot read it", file);
        secret.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (secret.ends_with('\n')) secret.pop_back();
        if (secret.ends_with('\r')) secret.pop_back();
    } else if (const char* env = std::getenv("AFTERSHOCK_SHARED_SECRET"); env != nullptr && *env != '\0') {
        secret = env;
    } else {
        return {};
    }
    ensure<UsageError>(secret.size() >= kMinSecretBytes, "the shared secret{}{} has {} bytes; use at least {} (e.g. openssl rand -hex 32)",
                       file.empty() ? " (AFTERSHOCK_SHARED_SECRET)" : " in ", file, secret.size(), kMinSecretBytes);
    return secret;
}

}  // namespace aftershock::wire
