#!/usr/bin/env bash
# Installs everything SessionScribe needs, once: Debian packages for tests/screenshots (when
# run as root with apt-get available), then a virtual environment in .venv with the app.
# Re-running is cheap: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_system=${SESSIONSCRIBE_SYSTEM_PACKAGES:-espeak-ng sox ffmpeg xvfb xauth libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libegl1 libgl1 libfontconfig1 libdbus-1-3 libpulse0 libasound2}
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for package in $want_system; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
  done
  if [ -n "$missing" ]; then
    echo "bootstrap: installing Debian packages:$missing" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
  fi
fi

python=${PYTHON:-python3}
stamp=.venv/.sessionscribe-installed
digest=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  echo "bootstrap: installing Python packages into .venv (a few minutes the first time)" >&2
  # torch 2.13.0: the CPU wheel on these machines; elsewhere pip picks the platform's build.
  # [cluster] (Ray) too, so the cluster tests run here and in CI (+~7 s, +~250 MB).
  packages=("torch==2.13.0" -e ".[gui,test,cluster]")
  if [ -t 2 ]; then
    # On a terminal: pip's own lines and download bars (minutes of silence looked like a hang).
    .venv/bin/python -m pip install --disable-pip-version-check "${packages[@]}" >&2
  else
    # In a log (CI, a pipe): pip stays quiet and one line every 30 s says it is still at work,
    # so the log shows progress without hundreds of pip lines.
    started=$SECONDS
    ( while sleep 30; do echo "bootstrap: still installing Python packages ($((SECONDS - started)) s)" >&2; done ) &
    ticker=$!
    trap 'kill "$ticker" 2>/dev/null || true' EXIT
    .venv/bin/python -m pip install -q --disable-pip-version-check "${packages[@]}"
    kill "$ticker" 2>/dev/null || true
    trap - EXIT
    echo "bootstrap: Python packages installed in $((SECONDS - started)) s" >&2
  fi
  echo "$digest" > "$stamp"
fi
