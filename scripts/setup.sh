#!/usr/bin/env bash
# Prepares this checkout: Debian packages (when root), the virtualenv, compiled translations.
#   scripts/setup.sh          what the app needs (WeasyPrint's libraries)
#   scripts/setup.sh --test   plus what the test suite needs (Chromium for the browser tests; the validators,
#                             axe-core and the Nu Html Checker, pinned in tests/tools/package-lock.json)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3-venv python3-pip libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core shared-mime-info)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium poppler-utils qpdf)
  packages+=(nodejs openjdk-17-jre-headless)  # the validators: npm for axe-core and vnu.jar, java to run vnu.jar
  # Debian's nodejs comes without npm (NodeSource's includes it): ask for it only when it is missing.
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Some system packages are missing. Run, as root:"
    echo "  apt-get install -y ${missing[*]}"
  fi
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

.venv/bin/pybabel compile -d translations >/dev/null 2>&1

if [[ "${1:-}" == "--test" ]] && command -v npm >/dev/null 2>&1; then
  # The validators the suite runs (tests/test_html_validity.py, tests/browser/test_accessibility.py),
  # at the versions of the lock file; the checker's own Java download is not needed (java is installed above).
  lock=tests/tools/node_modules/.lock.sha256
  want=$(sha256sum tests/tools/package-lock.json | cut -d' ' -f1)
  if [[ ! -f $lock || $(cat "$lock") != "$want" ]]; then
    npm ci --prefix tests/tools --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > "$lock"
  fi
fi
