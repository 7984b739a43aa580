#pragma once
// The shared-secret challenge of the worker protocol (docs/PROTOCOL.md, "Shared secret"): the worker sends a
// fresh random nonce, the client answers HMAC-SHA256(secret, context || nonce), the worker compares in
// constant time. The secret never travels and an answer is worth nothing for another connection's nonce.
// OpenSSL does the cryptography; nothing here is hand-rolled.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace aftershock::wire {

inline constexpr std::size_t kAuthNonceBytes = 32;
inline constexpr std::size_t kAuthProofBytes = 32;  ///< HMAC-SHA256
using AuthNonce = std::array<std::byte, kAuthNonceBytes>;
using AuthProof = std::array<std::byte, kAuthProofBytes>;

/// A fresh nonce from OpenSSL's CSPRNG (throws Error if it cannot produce one).
[[nodiscard]] AuthNonce make_auth_nonce();
/// HMAC-SHA256(secret, "aftershock-worker-auth-v1" || nonce).
[[nodiscard]] AuthProof auth_proof(std::string_view secret, const AuthNonce& nonce);
/// Whether `proof` answers `nonce` for `secret` (constant-time comparison).
[[nodiscard]] bool check_auth_proof(std::string_view secret, const AuthNonce& nonce, const AuthProof& proof);

/// The shared secret: the content of `file` (one trailing newline dropped), or, when `file` is empty, the
/// AFTERSHOCK_SHARED_SECRET environment variable; "" when neither is set. Throws UsageError for an unreadable
/// file or a secret shorter than 16 bytes.
[[nodiscard]] std::string load_shared_secret(const std::string& file);

}  // namespace aftershock::wire
