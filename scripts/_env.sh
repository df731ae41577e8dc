# Shared by the scripts: where the Python 3.14 environments live and how to run inside them.
# shellcheck shell=bash
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${FLATPEAK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flatpeak-ha}
PYTHON_VERSION=3.14
SID_ROOT="$CACHE_DIR/debian-sid-root"
if command -v "python$PYTHON_VERSION" >/dev/null 2>&1 && [ -z "${FLATPEAK_FORCE_CHROOT:-}" ]; then
  USE_CHROOT=""
  VENVS_VISIBLE_DIR="$CACHE_DIR/venvs"
  VENVS_DIR="$VENVS_VISIBLE_DIR"
else
  USE_CHROOT=1
  VENVS_VISIBLE_DIR="/opt/flatpeak-venvs"
  VENVS_DIR="$SID_ROOT$VENVS_VISIBLE_DIR"
fi

# The environments, each from its own requirements file: `test` (Home Assistant as
# pytest-homeassistant-custom-component pins it: unit tests, lint, the end-to-end tests)
# and `newest` (the newest Home Assistant release: the end-to-end tests again).
ENV_NAMES=(test newest)

# Select an environment for in_env: sets ENV_NAME, REQ_FILE, REQ_HASH, VENV_DIR (its path
# here) and VENV_VISIBLE_DIR (its path where commands run). Each is keyed by the hash of
# what it is built from, so a changed requirement makes a new one and other checkouts
# keep theirs.
use_env() {
  ENV_NAME=$1
  case "$ENV_NAME" in
    test | newest) REQ_FILE="$REPO_ROOT/requirements_$ENV_NAME.txt" ;;
    *) echo "unknown environment '$ENV_NAME' (one of: ${ENV_NAMES[*]})" >&2; return 1 ;;
  esac
  REQ_HASH=$(cat "$REQ_FILE" "$REPO_ROOT/requirements_e2e.txt" "$REPO_ROOT/scripts/ha_packages.py" \
    | sha256sum | cut -c1-16)
  VENV_DIR="$VENVS_DIR/$REQ_HASH"
  VENV_VISIBLE_DIR="$VENVS_VISIBLE_DIR/$REQ_HASH"
}
# FLATPEAK_ENV=newest runs scripts/run, scripts/develop and scripts/test with arguments on
# the newest Home Assistant.
use_env "${FLATPEAK_ENV:-test}"

# Run a command with the project's Python 3.14 virtual environment first on PATH, from the
# repository root. Without a native python3.14 the command runs in the Debian sid root,
# in a private mount namespace so no bind mount outlives the command.
in_env() {
  (in_env_exec "$@")
}

# The same, replacing the current (sub)shell, so that `(in_env_exec cmd) &` gives the PID
# of the command itself: stopping it stops the command, not only a wrapper shell.
in_env_exec() {
  local path="$VENV_VISIBLE_DIR/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
  if [ -z "$USE_CHROOT" ]; then
    cd "$REPO_ROOT"
    PATH="$VENV_VISIBLE_DIR/bin:$PATH" VIRTUAL_ENV="$VENV_VISIBLE_DIR" exec "$@"
  fi
  exec unshare --mount --propagation private -- "$REPO_ROOT/scripts/_chroot_exec" \
    "$SID_ROOT" "$REPO_ROOT" "$path" "$VENV_VISIBLE_DIR" "$@"
}
