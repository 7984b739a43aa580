#!/usr/bin/env python3
"""Writes aftershock.json, the Grafana dashboard (classic JSON model). Edit here, then run
`python3 deploy/grafana/gen_dashboard.py`; tests/deploy checks the committed JSON is what this prints.
Panels read the recording rules of deploy/prometheus/rules.yml where one exists, raw series otherwise."""
import json
import pathlib

DS = {"type": "prometheus", "uid": "${datasource}"}
C = 'job="aftershock-coordinator"'
W = 'job="aftershock-worker"'
panels = []


def panel(title, targets, x, y, w=12, h=8, kind="timeseries", unit="short", desc="", **extra):
    p = {
        "id": len(panels) + 1, "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": lf} for i, (e, lf) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    p["fieldConfig"]["defaults"].update(extra.pop("defaults", {}))
    p.update(extra)
    panels.append(p)


# Row 0: headline numbers.
panel("Search QPS", [("aftershock:search_qps:rate1m", "qps")], 0, 0, 6, 4, "stat", "reqps")
panel("Search p99", [('aftershock:request_duration_seconds:p99_1m{endpoint="/v1/search"}', "p99")], 6, 0, 6, 4, "stat", "s")
panel("Recall estimate", [("aftershock:recall_estimate", "{{mode}}")], 12, 0, 6, 4, "stat", "percentunit")
panel("Workers up", [(f"sum(aftershock_worker_up{{{C}}}) / count(aftershock_worker_up{{{C}}})", "up")], 18, 0, 6, 4, "stat",
      "percentunit")
# Traffic and latency.
panel("Requests by endpoint and code", [(f"sum by (endpoint, code) (rate(aftershock_requests_total{{{C}}}[$__rate_interval]))",
                                         "{{endpoint}} {{code}}")], 0, 4, unit="reqps")
panel("Search latency p50 / p95 / p99", [
    ('aftershock:request_duration_seconds:p50_1m{endpoint="/v1/search"}', "p50"),
    ('aftershock:request_duration_seconds:p95_1m{endpoint="/v1/search"}', "p95"),
    ('aftershock:request_duration_seconds:p99_1m{endpoint="/v1/search"}', "p99"),
    ("aftershock:latency_p99_target_seconds", "p99 target")], 12, 4, unit="s")
# Quality and coverage.
panel("Recall estimate vs target", [("aftershock:recall_estimate", "recall@k {{mode}}"), ("aftershock:recall_target", "target")],
      0, 12, unit="percentunit", desc="Online recall@k of served answers against a sampled exact search (--recall-sample)")
panel("Coverage: partial responses and errors", [
    ("aftershock:partial_ratio:rate1m", "partial ratio"), ("aftershock:search_error_ratio:rate1m", "5xx ratio"),
    ("aftershock:partial_ratio_target", "partial target")], 12, 12, unit="percentunit")
panel("Live replicas per shard", [(f"min by (shard) (aftershock_shard_live_replicas{{{C}}})", "shard {{shard}}")], 0, 20)
panel("Hedged and retried shard requests", [
    (f"sum(rate(aftershock_hedged_requests_total{{{C}}}[$__rate_interval]))", "hedged"),
    (f"sum(rate(aftershock_retried_requests_total{{{C}}}[$__rate_interval]))", "retried")], 12, 20, unit="reqps")
# Shards and workers.
panel("Per-shard latency p99", [("aftershock:shard_request_duration_seconds:p99_1m", "shard {{shard}}")], 0, 28, unit="s")
panel("Per-shard errors", [(f"sum by (shard, reason) (rate(aftershock_shard_errors_total{{{C}}}[$__rate_interval]))",
                            "shard {{shard}} {{reason}}")], 12, 28, unit="reqps")
panel("Worker work per query", [("aftershock:worker_work_per_query:rate1m", "{{route}} {{kind}}")], 0, 36,
      desc="Postings read, blocks evaluated and documents scored per query, all shards of a worker together")
panel("Worker search time p99", [(f"histogram_quantile(0.99, sum by (instance, le) (rate(aftershock_worker_search_duration_seconds_bucket{{{W}}}[$__rate_interval])))",
                                  "{{instance}}")], 12, 36, unit="s")
panel("Index documents per shard", [(f"max by (shard) (aftershock_index_documents{{{C}}})", "shard {{shard}}")], 0, 44, 24, 6,
      "bargauge", "short")

dashboard = {
    "uid": "aftershock", "title": "Aftershock", "tags": ["aftershock"], "editable": True, "graphTooltip": 1,
    "timezone": "browser", "refresh": "30s", "schemaVersion": 39, "version": 1,
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
                             "hide": 0, "skipUrlSync": False}]},
    "annotations": {"list": []},
    "panels": panels,
}
out = pathlib.Path(__file__).with_name("aftershock.json")
out.write_text(json.dumps(dashboard, indent=2) + "\n")
