#!/usr/bin/env bash
# Gatehouse benchmark: Gatehouse vs moto server vs cognito-local, side by side, on this machine.
#
#   bench/run.sh                      # full run (~12-15 min on 2 cores), writes bench/results/latest.md
#   ROUNDS=1 DURATION=5 bench/run.sh  # quick look
#   SKIP_BUILD=1 bench/run.sh         # use the binaries already in target/release
#   SERVERS=moto,cognito-local bench/run.sh
#
# Everything it installs stays in bench/ (.venv, .peers) except wrk (apt) and Cargo's target/.
# Load goes to 127.0.0.1 only. See bench/README.md for what the numbers mean.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$BENCH"

say() { printf '\n==> %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_install() {
    say "apt-get install $*"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# --- tools ---------------------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm

# --- Python: driver + moto -----------------------------------------------------------------
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

# --- Node: cognito-local -------------------------------------------------------------------
COGNITO_LOCAL_VERSION=5.3.0
mkdir -p .peers
if [ "$(node -p "try{require('./.peers/node_modules/cognito-local/package.json').version}catch(e){''}")" != "$COGNITO_LOCAL_VERSION" ]; then
    say "npm install cognito-local@$COGNITO_LOCAL_VERSION into bench/.peers"
    printf '{"name":"gatehouse-bench-peers","private":true,"dependencies":{"cognito-local":"%s"}}\n' \
        "$COGNITO_LOCAL_VERSION" > .peers/package.json
    (cd .peers && npm install --no-audit --no-fund --loglevel=error)
fi

# --- Gatehouse -----------------------------------------------------------------------------
export GATEHOUSE_BUILD_ERROR="" RSA_BOUND_BUILD_ERROR=""
if [ "${SKIP_BUILD:-0}" != "1" ]; then
    say "cargo build --release -p gatehouse"
    if ! (cd "$ROOT" && cargo build --release -p gatehouse) >"$BENCH/.build-gatehouse.log" 2>&1; then
        tail -n 30 "$BENCH/.build-gatehouse.log"
        GATEHOUSE_BUILD_ERROR="cargo build --release -p gatehouse failed: $(grep -m1 -E '^error' "$BENCH/.build-gatehouse.log" || tail -n1 "$BENCH/.build-gatehouse.log")"
        echo "!! $GATEHOUSE_BUILD_ERROR — Gatehouse figures will be reported as pending"
    fi
    say "cargo build --release -p gatehouse-core --example rsa_sign_bound"
    if ! (cd "$ROOT" && cargo build --release -p gatehouse-core --example rsa_sign_bound) >"$BENCH/.build-rsa.log" 2>&1; then
        tail -n 30 "$BENCH/.build-rsa.log"
        RSA_BOUND_BUILD_ERROR="cargo build --release -p gatehouse-core --example rsa_sign_bound failed: $(grep -m1 -E '^error' "$BENCH/.build-rsa.log" || tail -n1 "$BENCH/.build-rsa.log")"
        echo "!! $RSA_BOUND_BUILD_ERROR — the signing bound will be reported as pending"
    fi
fi

# --- sign-in storm (bench/storm.py): 200 concurrent wrong passwords vs one legitimate user ----
if [ "${STORM:-1}" != "0" ] && [ -z "$GATEHOUSE_BUILD_ERROR" ]; then
    say "running the sign-in storm (bench/storm.py; STORM=0 skips it)"
    .venv/bin/python storm.py --duration "${STORM_DURATION:-10}" \
        || echo "!! storm: the legitimate user's sign-ins did not all succeed (see bench/results/storm.json)"
fi

# --- USER_SRP_AUTH vs the bound of its modular exponentiations (bench/srp.py) ----------------
if [ "${SRP:-1}" != "0" ] && [ -z "$GATEHOUSE_BUILD_ERROR" ]; then
    if [ "${SKIP_BUILD:-0}" = "1" ] \
        || (cd "$ROOT" && cargo build --release -p gatehouse-core --example srp_bound) >"$BENCH/.build-srp.log" 2>&1; then
        say "running the SRP benchmark (bench/srp.py; SRP=0 skips it)"
        .venv/bin/python srp.py \
            || echo "!! srp: USER_SRP_AUTH is not within 1.5x of its bound (see bench/results/srp.md)"
    else
        tail -n 30 "$BENCH/.build-srp.log"
        echo "!! srp: cargo build --release -p gatehouse-core --example srp_bound failed — SRP figures pending"
    fi
fi

say "running the benchmark (bench/bench.py $*)"
exec .venv/bin/python bench.py "$@"
