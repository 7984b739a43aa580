#include "aftershock/coordinator/auth.hpp"

#include "aftershock/common/checksum.hpp"
#include "aftershock/common/error.hpp"

#include <fstream>

namespace aftershock::coordinator {

namespace {

std::string digest(std::string_view token) {
    return sha256_hex({reinterpret_cast<const std::uint8_t*>(token.data()), token.size()});
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

BearerAuth::BearerAuth(const std::vector<std::string>& tokens) {
    for (const auto& t : tokens) {
        ensure<UsageError>(!t.empty(), "an auth token is empty");
        m_digests.push_back(digest(t));
    }
}

BearerAuth BearerAuth::from_file(const std::string& path) {
    std::ifstream in(path);
    ensure<InputError>(in.good(), "{}: cannot read the auth token file", path);
    std::vector<std::string> tokens;
    std::string line;
    while (std::getline(in, line)) {
        const auto t = trim(line);
        if (!t.empty() && t.front() != '#') tokens.emplace_back(t);
    }
    ensure<InputError>(!tokens.empty(), "{}: no token in the auth token file", path);
    return BearerAuth(tokens);
}

BearerAuth BearerAuth::from_list(std::string_view list) {
    std::vector<std::string> tokens;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto t = trim(list.substr(0, comma));
        if (!t.empty()) tokens.emplace_back(t);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return BearerAuth(tokens);
}

bool BearerAuth::allows(std::string_view authorization) const {
    if (!enabled()) return true;
    constexpr std::string_view scheme = "Bearer ";
    const bool has_scheme = authorization.size() > scheme.size() && authorization.substr(0, scheme.size()) == scheme;
    // Digest whatever was presented, then compare against every configured digest without stopping early.
    const auto got = digest(has_scheme ? trim(authorization.substr(scheme.size())) : std::string_view("\x01"));
    unsigned match = 0;
    for (const auto& want : m_digests) {
        unsigned diff = 0;
        for (std::size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned>(want[i] ^ got[i]);
        match |= static_cast<unsigned>(diff == 0);
    }
    return has_scheme && match != 0;
}

}  // namespace aftershock::coordinator
