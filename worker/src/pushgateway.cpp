#include "aftershock/worker/pushgateway.hpp"

#include "aftershock/common/error.hpp"

#include <prometheus/gateway.h>


#include <cstdlib>
#include <memory>

namespace aftershock::worker {
namespace {

std::string sanitize(const std::string& v) {
    std::string out;
    for (char c : v) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        out.push_back(ok ? c : '_');
    }
    return out.empty() ? std::string("_") : out;
}

}  // namespace

PushTarget parse_push_target(const std::string& address) {
    PushTarget t;
    std::string a = address;
    if (a.rfind("http://", 0) == 0) a = a.substr(7);
    while (!a.empty() && a.back() == '/') a.pop_back();
    ensure<UsageError>(!a.empty() && a.find('/') == std::string::npos,
                       "expected host:port, got '{}'", address);
    if (a.front() == '[') {  // [v6addr]:port
        const auto close = a.find(']');
        ensure<UsageError>(close != std::string::npos, "expected host:port, got '{}'", address);
        t.host = a.substr(1, close - 1);
        const auto rest = a.substr(close + 1);
        if (!rest.empty()) {
            ensure<UsageError>(rest.front() == ':', "expected host:port, got '{}'", address);
            t.port = rest.substr(1);
        }
    } else if (const auto colon = a.rfind(':'); colon == std::string::npos) {
        t.host = a;
    } else {
        t.host = a.substr(0, colon);
        t.port = a.substr(colon + 1);
    }
    ensure<UsageError>(!t.host.empty() && !t.port.empty(), "expected host:port, got '{}'", address);
    return t;
}

std::string push_path(const PushTarget& target) {
    std::string path = "/metrics/job/" + sanitize(target.job);
    for (const auto& [name, value] : target.grouping) path += "/" + sanitize(name) + "/" + sanitize(value);
    return path;
}

void push_metrics(const PushTarget& target, const std::shared_ptr<prometheus::Registry>& registry) {
    prometheus::Labels grouping;
    for (const auto& [name, value] : target.grouping) grouping[name] = sanitize(value);
    // prometheus-cpp's Gateway does the HTTP PUT (curl) and the text exposition.
    prometheus::Gateway gateway("http://" + target.host, target.port, target.job, grouping);
    gateway.RegisterCollectable(registry);
    const int status = gateway.Push();
    ensure(status >= 200 && status < 300, "push to {}:{} failed (HTTP status {})", target.host, target.port, status);
}

}  // namespace aftershock::worker
