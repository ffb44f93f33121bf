#!/usr/bin/env bash
# Gatehouse on its embedded SQLite store vs on PostgreSQL 15, side by side in one run on this
# machine (issue 7's "within 2x"): GetUser and REFRESH_TOKEN_AUTH on a 100k-user pool
# (bench/bench.py), then the JWT-authorized gateway path (bench/gateway.py). PostgreSQL is a
# throwaway cluster (scripts/pg-test-cluster) with its default durability, fsync on, as the
# embedded store's synchronous=FULL.
#
#   bench/stores.sh                       # writes bench/results/stores.md and stores-gateway.md
#   ROUNDS=1 DURATION=5 bench/stores.sh   # quick look
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SERVERS=gatehouse,gatehouse-pg SCENARIOS=getuser,refresh STORM=0 SRP=0
"$BENCH/run.sh" --out "$BENCH/results/stores.md" "$@"
SKIP_BUILD=1 TARGETS=direct,gatehouse,gatehouse-pg "$BENCH/gateway.sh" --soak 0 --out "$BENCH/results/stores-gateway.md"
