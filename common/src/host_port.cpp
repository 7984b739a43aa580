#include "aftershock/common/host_port.hpp"

#include "aftershock/common/error.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>

namespace aftershock {

HostPort parse_host_port(const std::string& text) {
    const auto colon = text.rfind(':');
    ensure<UsageError>(colon != std::string::npos && colon > 0 && colon + 1 < text.size(),
                       "'{}' is not host:port", text);
    HostPort hp;
    hp.host = text.substr(0, colon);
    if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') hp.host = hp.host.substr(1, hp.host.size() - 2);
    unsigned port = 0;
    const auto* first = text.data() + colon + 1;
    const auto* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, port);
    ensure<UsageError>(ec == std::errc{} && ptr == last && port <= 65535, "'{}': port must be a number 0..65535", text);
    hp.port = static_cast<std::uint16_t>(port);
    return hp;
}

void write_port_file(const std::string& path, std::uint16_t port) {
    const auto tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        out << port << "\n";
        ensure(out.good(), "cannot write the port file {}", tmp);
    }
    std::filesystem::rename(tmp, path);
}

std::vector<HostPort> parse_host_port_list(const std::string& text) {
    std::vector<HostPort> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto comma = text.find(',', pos);
        const auto item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!item.empty()) out.push_back(parse_host_port(item));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    ensure<UsageError>(!out.empty(), "'{}': expected a comma-separated list of host:port", text);
    return out;
}

}  // namespace aftershock
