#!/usr/bin/env bash
# Set up ganloops on this machine: system libraries, a virtual environment in .venv, and the
# package with the extras asked for. Idempotent: a second run only checks.
#
#   scripts/setup.sh            runtime + training extras (what the quickstart needs)
#   scripts/setup.sh dev        ... plus the test tools
#
# As root (or with passwordless sudo) on Debian/Ubuntu it installs the system packages itself;
# otherwise it names what to install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=0
[ "${1:-}" = "dev" ] && want_dev=1

# --- system packages ---------------------------------------------------------------------
# libportaudio2: audio output; libsndfile1: audio files; jackd2: JACK (also the dummy clock the
# tests use); hydrogen-drumkits: recorded one-shots for the synth datasets; liblo-tools and
# puredata-core: OSC peers for the controller tests.
SYSTEM_PACKAGES=(libportaudio2 libsndfile1 jackd2 hydrogen-drumkits liblo-tools puredata-core python3-venv)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "ganloops setup: missing system packages: ${missing[*]} (install them with: sudo apt-get install ${missing[*]})" >&2
      exit 1
    fi
  fi
  echo "ganloops setup: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- python environment ------------------------------------------------------------------
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "ganloops setup: creating .venv with $($PY --version 2>&1)"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1

extras="train,link"
[ $want_dev -eq 1 ] && extras="train,link,dev"
stamp=".venv/.ganloops-installed-$extras-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  # torch first, pinned, so that the train extra's 'torch>=2.2' is already satisfied and pip
  # does not pull CUDA wheels onto a CPU machine. Set TORCH_INDEX_URL to use another index
  # (e.g. https://download.pytorch.org/whl/cpu or a CUDA index).
  if ! "$VPY" -c "import torch" 2>/dev/null; then
    echo "ganloops setup: installing torch==2.13.0"
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
      "$VPY" -m pip install -q "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
    else
      "$VPY" -m pip install -q "torch==2.13.0"
    fi
  fi
  echo "ganloops setup: installing ganloops[$extras]"
  "$VPY" -m pip install -q -e ".[$extras]" 2>&1 | grep -v "is ignored: it is neither" || true
  "$VPY" -c "import instrument, training" || { echo "ganloops setup: install failed" >&2; exit 1; }
  rm -f .venv/.ganloops-installed-*
  touch "$stamp"
fi
