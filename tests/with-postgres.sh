#!/usr/bin/env bash
# Run a command with VAFA_TEST_DATABASE_URL pointing at a throwaway PostgreSQL server on
# loopback. A server already named by VAFA_TEST_DATABASE_URL is used as it is. Tests run in
# parallel (pytest -n) each create a database of their own beside it (tests/conftest.py).
set -euo pipefail
if [ -n "${VAFA_TEST_DATABASE_URL:-}" ]; then exec "$@"; fi

bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
data=$(mktemp -d /tmp/vafa-pg.XXXXXX)
# A free loopback port, so several runs (or developers) can test at once.
port=${VAFA_TEST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
as_owner=()
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
  chown postgres "$data"
  as_owner=(runuser -u postgres --)
fi
cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT
"${as_owner[@]}" "$bindir/initdb" -D "$data/db" -U vafa --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# No autovacuum: the plan tests (tests/integration/*_plans.py) ask the planner about
# near-empty tables, and statistics gathered in the background while earlier tests filled
# them changed its answers from one run to the next.
"${as_owner[@]}" "$bindir/pg_ctl" -D "$data/db" -l "$data/server.log" -w \
  -o "-h 127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off -c max_connections=300" start >/dev/null
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U vafa vafa_test
export VAFA_TEST_DATABASE_URL="postgresql+psycopg://vafa@127.0.0.1:$port/vafa_test"
echo "PostgreSQL test server on 127.0.0.1:$port"
"$@"
