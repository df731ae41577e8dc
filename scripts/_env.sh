# Shared by the scripts: where the Python 3.14 environment lives and how to run inside it.
# shellcheck shell=bash
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${FLATPEAK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flatpeak-ha}
PYTHON_VERSION=3.14
SID_ROOT="$CACHE_DIR/debian-sid-root"
REQUIREMENTS=("$REPO_ROOT/requirements_test.txt")
REQ_HASH=$(cat "${REQUIREMENTS[@]}" | sha256sum | cut -c1-16)

if command -v "python$PYTHON_VERSION" >/dev/null 2>&1 && [ -z "${FLATPEAK_FORCE_CHROOT:-}" ]; then
  USE_CHROOT=""
  VENV_DIR="$CACHE_DIR/venvs/$REQ_HASH"
  VENV_VISIBLE_DIR="$VENV_DIR"
else
  USE_CHROOT=1
  VENV_VISIBLE_DIR="/opt/flatpeak-venvs/$REQ_HASH"
  VENV_DIR="$SID_ROOT$VENV_VISIBLE_DIR"
fi

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
