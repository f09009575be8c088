#!/usr/bin/env bash
# The candidate wrapper for ../shared/bench (see bench/README.md): writes a Squall config that
# proxies every request on $BENCH_P to the origin at 127.0.0.1:$BENCH_O over HTTP/1.1, with the
# same fairness as the nginx and HAProxy baselines (one worker, a large keep-alive pool, no
# per-connection request cap, no access log), then runs Squall in the foreground.
#   ../shared/bench/run.sh --candidate bench/candidate.sh --candidate-name squall
# WebSocket upgrades (/ws) are tunnelled and text/event-stream responses (/sse) streamed by the
# proxy's defaults. Reads BENCH_P, BENCH_TP, BENCH_O, BENCH_CERT, BENCH_KEY and BENCH_RUN. TLS on $BENCH_TP
# needs TLS listeners, which Squall does not have yet: the h2 test is skipped for now.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
squall="${SQUALL_BIN:-$here/build/squall}"
: "${BENCH_P:?}" "${BENCH_O:?}" "${BENCH_RUN:?}"
mkdir -p "$BENCH_RUN"
cat > "$BENCH_RUN/squall.toml" <<TOML
[server]
workers = 1
[server.limits]
max_requests_per_connection = 0
max_body_size = 0
[server.timeouts]
keepalive = "300s"

[log]
access = "off"
level = "warn"

[[listener]]
name = "web"
address = "127.0.0.1:${BENCH_P}"

[upstream.origin]
endpoints = ["127.0.0.1:${BENCH_O}"]
pool = { max_idle = 512, idle_timeout = "300s" }
timeouts = { response_header = "1h", idle = "1h" }

[[route]]
proxy = { upstream = "origin" }
TOML
exec "$squall" run "$BENCH_RUN/squall.toml"
