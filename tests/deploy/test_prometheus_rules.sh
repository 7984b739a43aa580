#!/usr/bin/env bash
# deploy/prometheus: the scrape config and rules load (promtool check), the rule unit tests pass (promtool test
# rules), and a rule mutation makes them fail. Usage: test_prometheus_rules.sh
source "$(dirname "$0")/lib.sh" unused
command -v promtool >/dev/null || { echo "SKIP: promtool not found (Debian package prometheus)"; exit 77; }
P="$SRC/deploy/prometheus"
cp -r "$P"/. "$WORK/"
promtool check config "$WORK/prometheus.yml" || fail "promtool check config"
promtool check rules "$WORK/rules.yml" || fail "promtool check rules"
promtool test rules "$WORK/rules_test.yml" || fail "promtool test rules"
# The unit tests must notice a wrong quantile and a wrong target.
sed -i 's/histogram_quantile(0.99, sum by (endpoint, le)/histogram_quantile(0.95, sum by (endpoint, le)/; s/vector(0.9)$/vector(0.8)/' "$WORK/rules.yml"
expect_fail "mutated p99 rule and recall target" "FAILED" promtool test rules "$WORK/rules_test.yml"
echo "prometheus: config, rules and rule tests pass"
