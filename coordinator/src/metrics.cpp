#include "aftershock/coordinator/metrics.hpp"

namespace aftershock::coordinator {

using namespace prometheus;

CoordinatorMetrics::CoordinatorMetrics(Registry& r)
    : requests(BuildCounter().Name("aftershock_requests_total").Help("HTTP requests by endpoint and status code").Register(r)),
      request_duration(BuildHistogram().Name("aftershock_request_duration_seconds")
                           .Help("HTTP request latency by endpoint, from the parsed request to the written response").Register(r)),
      shard_duration(BuildHistogram().Name("aftershock_shard_request_duration_seconds")
                         .Help("Round trip of one shard request to the replica that answered it").Register(r)),
      shard_errors(BuildCounter().Name("aftershock_shard_errors_total")
                       .Help("Failed shard requests by shard and reason (connection, timeout, worker error codes)").Register(r)),
      partial_responses(BuildCounter().Name("aftershock_partial_responses_total")
                            .Help("Search responses answered with fewer than all shards").Register(r).Add({})),
      hedged_requests(BuildCounter().Name("aftershock_hedged_requests_total")
                          .Help("Shard requests duplicated to a second replica after the hedge delay").Register(r).Add({})),
      retries(BuildCounter().Name("aftershock_retried_requests_total")
                  .Help("Shard requests sent to another replica after a failure").Register(r).Add({})),
      shard_k_refetches(BuildCounter().Name("aftershock_shard_k_refetches_total")
                            .Help("Shards asked again for the full depth because a reduced per-shard k may have hidden hits").Register(r).Add({})),
      recall_estimate(BuildGauge().Name("aftershock_recall_estimate")
                          .Help("Online recall@k of served answers against a sampled shadow exact search, sliding window").Register(r)),
      recall_samples(BuildCounter().Name("aftershock_recall_samples_total")
                         .Help("Queries re-run exactly for the online recall estimate").Register(r)),
      index_documents(BuildGauge().Name("aftershock_index_documents").Help("Documents per shard of the served index").Register(r)),
      live_replicas(BuildGauge().Name("aftershock_shard_live_replicas").Help("Healthy replicas per shard").Register(r)),
      worker_up(BuildGauge().Name("aftershock_worker_up").Help("1 when the worker answers health checks").Register(r)),
      http_connections(BuildGauge().Name("aftershock_http_connections").Help("Open HTTP connections").Register(r).Add({})),
      http_rejected_connections(BuildCounter().Name("aftershock_http_rejected_connections_total")
                                    .Help("HTTP connections closed at once because the connection cap was reached").Register(r).Add({})),
      tls_handshake_failures(BuildCounter().Name("aftershock_http_tls_handshake_failures_total")
                                 .Help("HTTPS connections closed because the TLS handshake failed or timed out").Register(r).Add({})) {}

Histogram::BucketBoundaries CoordinatorMetrics::latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};
}

void CoordinatorMetrics::request(const std::string& endpoint, int code, double seconds) {
    requests.Add({{"endpoint", endpoint}, {"code", std::to_string(code)}}).Increment();
    request_duration.Add({{"endpoint", endpoint}}, latency_buckets()).Observe(seconds);
}

void CoordinatorMetrics::shard_request(std::uint32_t shard, double seconds) {
    shard_duration.Add({{"shard", std::to_string(shard)}}, latency_buckets()).Observe(seconds);
}

void CoordinatorMetrics::shard_error(std::uint32_t shard, const std::string& reason) {
    shard_errors.Add({{"shard", std::to_string(shard)}, {"reason", reason}}).Increment();
}

}  // namespace aftershock::coordinator
