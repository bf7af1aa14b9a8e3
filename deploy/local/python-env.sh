#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs certibus with its test tools; re-installs only when
# pyproject.toml changed. Sourced by run-tests and run-academie.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${CERTIBUS_PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "certibus needs Python >= 3.11 (set CERTIBUS_PYTHON)"; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
if [ ! -x "$REPO/.venv/bin/python" ]; then
  echo "== creating $REPO/.venv"
  "$PYTHON" -m venv "$REPO/.venv"
fi
stamp="$REPO/.venv/.certibus-installed"
want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== installing certibus and its test tools into .venv"
  "$REPO/.venv/bin/python" -m pip install -q --upgrade pip
  "$REPO/.venv/bin/python" -m pip install -q -e "$REPO[test]"
  echo "$want" > "$stamp"
fi
# the console's DSFR assets (npm, into a git-ignored folder)
bash "$REPO/deploy/local/console-assets.sh"
