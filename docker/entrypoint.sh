#!/bin/sh
# The images' one entry point. SERVICE (baked in at build) picks the workload; settings come from the
# environment. HTTP services run under gunicorn with uvicorn workers (uvloop, httptools), each worker on its
# own SO_REUSEPORT socket (--reuse-port) so the kernel balances connections over the workers:
#   WEB_CONCURRENCY     worker processes (gunicorn reads it; default 1)
#   GRACEFUL_TIMEOUT_S  how long a worker may finish in-flight requests after SIGTERM (longer than the
#                       longest request: the proxy's `Prefer: wait` is at most 60 s)
#   FORWARDED_ALLOW_IPS addresses trusted for X-Forwarded-* (gunicorn and uvicorn read it, and the proxy
#                       app too); passed explicitly so that, unset, nobody is trusted (gunicorn's own
#                       default would trust any loopback peer)
# `certify-entrypoint healthcheck` probes /healthz of the running service (Docker HEALTHCHECK).
set -eu

case "${SERVICE:?SERVICE is set at build time}" in
  proxy) default_port=8080 ;;
  x402) default_port=8402 ;;
  circular) default_port=8403 ;;
  quote) default_port=8404 ;;
  qr) default_port=8405 ;;
  operator) default_port=8406 ;;
  sandbox) default_port=8499 ;;
  *) echo "unknown SERVICE: $SERVICE" >&2; exit 64 ;;
esac
PORT="${PORT:-$default_port}"
export PORT

if [ "${1:-}" = "healthcheck" ]; then
  exec python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:${PORT}/healthz"
fi

# Metrics of every worker meet in this directory; /tmp is a fresh emptyDir at each start.
mkdir -p "${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"

if [ "$SERVICE" = "operator" ]; then
  exec python -m certify_operator "$@"
fi
exec gunicorn "certify_${SERVICE}.app:create_app()" \
  --bind "${HOST:-0.0.0.0}:${PORT}" \
  --worker-class certify_common.workers.UvicornWorker \
  --reuse-port \
  --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-}" \
  --graceful-timeout "${GRACEFUL_TIMEOUT_S:-30}" \
  --timeout "${WORKER_TIMEOUT_S:-120}" \
  --keep-alive 5 \
  --worker-tmp-dir /tmp \
  "$@"
