#pragma once
// "host:port" strings of the command lines and configs (parsing only: no sockets in common/).
#include <cstdint>
#include <string>
#include <vector>

namespace aftershock {

struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    [[nodiscard]] std::string str() const { return host + ":" + std::to_string(port); }
    friend bool operator==(const HostPort&, const HostPort&) = default;
};

/// "127.0.0.1:7001", "localhost:0", "[::1]:7001". Throws UsageError naming the value.
[[nodiscard]] HostPort parse_host_port(const std::string& text);
/// Writes `port` to `path` atomically (path.tmp, then rename), so a script polling for the file never reads a
/// half-written number. Servers call it once they listen (--port-file).
void write_port_file(const std::string& path, std::uint16_t port);

/// Comma-separated list of host:port.
[[nodiscard]] std::vector<HostPort> parse_host_port_list(const std::string& text);

}  // namespace aftershock
