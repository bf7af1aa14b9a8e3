#!/usr/bin/env bash
# Installs the console's front-end assets (the DSFR, htmx, and axe-core for the accessibility tests) from
# the npm registry into services/console/assets/node_modules (git-ignored), as pinned by its
# package-lock.json; again only when the lock changed. The console serves them itself at run time.
# Sourced by python-env.sh (so by run-tests and run-academie); run it alone after a fresh clone.
set -euo pipefail
ASSETS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/services/console/assets"
stamp="$ASSETS/node_modules/.certibus-installed"
want="$(sha256sum "$ASSETS/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if ! command -v npm >/dev/null && { [ "${CI:-}" = "true" ] || [ "$(id -u)" = "0" ]; }; then
    echo "== installing npm (Debian's package) for the console's assets"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null; } || true
  fi
  if ! command -v npm >/dev/null; then
    echo "the console's assets need npm (Debian: apt-get install -y npm), then: $0" >&2
    exit 1
  fi
  echo "== installing the console's assets (DSFR, htmx, axe-core) with npm into $ASSETS/node_modules"
  # --ignore-scripts: the DSFR's preinstall script is for projects built with its own tooling
  (cd "$ASSETS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
