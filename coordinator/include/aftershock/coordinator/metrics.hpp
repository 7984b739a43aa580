#pragma once
// The coordinator's Prometheus metrics (DESIGN.md §8). Base units, low-cardinality labels: endpoint, code,
// shard, reason, mode.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>

namespace aftershock::coordinator {

struct CoordinatorMetrics {
    explicit CoordinatorMetrics(prometheus::Registry& registry);

    void request(const std::string& endpoint, int code, double seconds);
    void shard_request(std::uint32_t shard, double seconds);
    void shard_error(std::uint32_t shard, const std::string& reason);

    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& request_duration;
    prometheus::Family<prometheus::Histogram>& shard_duration;
    prometheus::Family<prometheus::Counter>& shard_errors;
    prometheus::Counter& partial_responses;
    prometheus::Counter& hedged_requests;
    prometheus::Counter& retries;
    prometheus::Counter& shard_k_refetches;
    prometheus::Family<prometheus::Gauge>& recall_estimate;
    prometheus::Family<prometheus::Counter>& recall_samples;
    prometheus::Family<prometheus::Gauge>& index_documents;
    prometheus::Family<prometheus::Gauge>& live_replicas;
    prometheus::Family<prometheus::Gauge>& worker_up;
    prometheus::Gauge& http_connections;
    prometheus::Counter& http_rejected_connections;
    prometheus::Counter& tls_handshake_failures;

    static prometheus::Histogram::BucketBoundaries latency_buckets();
};

}  // namespace aftershock::coordinator
