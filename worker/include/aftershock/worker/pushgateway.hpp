#pragma once
// Pushing build metrics to a Prometheus Pushgateway through prometheus-cpp (HTTP PUT to
// /metrics/job/<job>[/<label>/<value>...]). A build job pushes once at its end; a failed push is the
// caller's warning, never a failed build.
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace aftershock::worker {

struct PushTarget {
    std::string host;
    std::string port = "9091";
    std::string job = "aftershock_build";
    std::vector<std::pair<std::string, std::string>> grouping;  ///< extra grouping labels (name, value)
};

/// Parses "host:port" or "host" (port 9091), optionally with a leading "http://"; throws UsageError.
[[nodiscard]] PushTarget parse_push_target(const std::string& address);

/// The URL path for the target: /metrics/job/<job>/<label>/<value>..., values reduced to [A-Za-z0-9_.-].
[[nodiscard]] std::string push_path(const PushTarget& target);

/// Pushes every metric of `registry` to the gateway; throws Error naming the address and the HTTP status
/// (prometheus-cpp reports a failed connection as a non-2xx status).
void push_metrics(const PushTarget& target, const std::shared_ptr<prometheus::Registry>& registry);

}  // namespace aftershock::worker
