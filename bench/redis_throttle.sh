#!/usr/bin/env bash
# Shared rate limits' cost on the JWT-authorized gateway path: a throttled stage on a node
# without Redis (local buckets) vs a node with --redis-url (a Lua GCRA per request), plus the
# unthrottled route as the baseline, measured alternately in the same run (bench/redis_throttle.py).
#
#   bench/redis_throttle.sh                 # 3 rounds of 15 s per target (~3 min), writes
#                                           # bench/results/redis_throttle.md and .json
#   bench/redis_throttle.sh --quick         # smoke test: 1 round of 2 s (~30 s)
#   SKIP_BUILD=1 bench/redis_throttle.sh    # use target/release/gatehouse as it is
#                                           # (GATEHOUSE_BIN=... to measure another binary)
#
# Installs what is missing: wrk, nginx, redis-server (apt) and the bench venv (bench/.venv).
# Load goes to 127.0.0.1 only.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$BENCH"

say() { printf '\n==> %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
    say "apt-get install $*"
    if [ "$APT_UPDATED" = 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
export PATH="$PATH:/usr/sbin"
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv

if [ ! -x .venv/bin/python ]; then
    say "creating bench/.venv"
    python3 -m venv .venv || { apt_install python3-venv; python3 -m venv .venv; }
fi
if ! .venv/bin/python -c 'import boto3' 2>/dev/null; then
    say "pip install -r bench/requirements.txt"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
fi

if [ "${SKIP_BUILD:-0}" != "1" ]; then
    say "cargo build --release -p gatehouse"
    if ! (cd "$ROOT" && cargo build --release -p gatehouse) >"$BENCH/.build-redis.log" 2>&1; then
        tail -n 30 "$BENCH/.build-redis.log"
        echo "!! cargo build --release -p gatehouse failed (log: bench/.build-redis.log); not measuring a stale binary" >&2
        exit 1
    fi
fi

say "running the shared rate limit benchmark (bench/redis_throttle.py $*)"
exec .venv/bin/python redis_throttle.py "$@"
