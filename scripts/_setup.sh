# Shared set-up for scripts/run and scripts/test (sourced, not executed).
# Creates .venv when missing, (re)installs the package when pyproject.toml changed, and provisions
# the pose model (verified cache -> checksum-pinned download -> offline build from PyPI).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${POSTURE_EXTRAS:-}"

pick_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "posture: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  echo "posture: creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.posture-installed"
WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-${EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "posture: installing into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
  TARGET="$ROOT"
  [ -n "$EXTRAS" ] && TARGET="$ROOT[$EXTRAS]"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$TARGET" >&2
  echo "$WANT" > "$STAMP"
fi

if [ -n "${POSTURE_SETUP_MODEL:-}" ]; then  # the tests ask for the model they run on
  "$VENV/bin/posture" models fetch "$POSTURE_SETUP_MODEL" >&2
elif ! "$VENV/bin/posture" models fetch >&2; then
  # The model the config names (else full). Not fatal: scripts/run may be given its own --config
  # or --model, and the monitor provisions on first use and says what is wrong with its own.
  echo "posture: set-up did not provision the configured model (above); starting anyway" >&2
fi
