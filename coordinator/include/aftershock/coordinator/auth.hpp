#pragma once
// Optional bearer-token access control for the HTTP API. Tokens are kept as SHA-256 digests and a presented
// token is compared with every one of them in constant time, so neither timing nor the answer tells which
// part of a wrong token was wrong.
#include <string>
#include <string_view>
#include <vector>

namespace aftershock::coordinator {

class BearerAuth {
public:
    BearerAuth() = default;
    explicit BearerAuth(const std::vector<std::string>& tokens);
    /// One token per line; blank lines and lines starting with '#' are skipped. Throws InputError naming the
    /// file when it cannot be read or holds no token.
    static BearerAuth from_file(const std::string& path);
    /// Comma-separated tokens (the AFTERSHOCK_AUTH_TOKENS environment variable).
    static BearerAuth from_list(std::string_view list);

    [[nodiscard]] bool enabled() const noexcept { return !m_digests.empty(); }
    /// True when auth is off, or `authorization` is "Bearer <token>" for a configured token.
    [[nodiscard]] bool allows(std::string_view authorization) const;

private:
    std::vector<std::string> m_digests;  ///< hex SHA-256 of each token
};

}  // namespace aftershock::coordinator
