#!/usr/bin/env bash
# The README's test command: install what the suite needs on a fresh Debian/Ubuntu machine, then run it.
# - Prometheus and promtool (Debian's `prometheus`): the end-to-end test and the alert-rule tests use the real ones.
# - Chromium and its driver (Debian's `chromium`, `chromium-driver`): the status page is tested in a real browser.
# - The package with its test extras (pytest, hypothesis, jsonschema, selenium, mypy, ruff), in the active Python
#   environment (a venv is recommended); mypy and ruff run before the suite.
# Exits non-zero on any failure; "no tests collected" (pytest's 5) counts as one.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python -m pip install -q -e '.[test]'
python -m mypy        # type check (config in pyproject.toml)
python -m ruff check . # lint (config in pyproject.toml)
set +e
python -m pytest -q "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
