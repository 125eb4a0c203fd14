#!/usr/bin/env bash
# Run a command with a real PostgreSQL and a real Redis. Uses the ones on 127.0.0.1 when they answer;
# otherwise starts throwaway ones (a temporary cluster and a non-persisting redis-server) and stops
# exactly what it started when the command ends.
set -uo pipefail

started_pg="" started_redis=""
cleanup() {
  if [ -n "$started_redis" ]; then redis-cli -p "$started_redis" shutdown nosave >/dev/null 2>&1; fi
  if [ -n "$started_pg" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$started_pg/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$started_pg"
  fi
}
trap cleanup EXIT

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -z "${DATABASE_URL:-}" ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/phq9_monitor"
  else
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$PGBIN" ]; then echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; fi
    started_pg=$(mktemp -d /tmp/phq9-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$started_pg"
    port=$(free_port)
    as_pg "$PGBIN/initdb" -D "$started_pg/data" -A trust -U postgres >/dev/null || exit 1
    as_pg "$PGBIN/pg_ctl" -D "$started_pg/data" -l "$started_pg/log" -w \
      -o "-p $port -k $started_pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || exit 1
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/phq9_monitor"
    echo "started a throwaway PostgreSQL on port $port"
  fi
fi

if [ -z "${CELERY_BROKER_URL:-}" ]; then
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    export CELERY_BROKER_URL="redis://127.0.0.1:6379/15"
  else
    port=$(free_port)
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null || exit 1
    started_redis=$port
    export CELERY_BROKER_URL="redis://127.0.0.1:$port/15"
    echo "started a throwaway Redis on port $port"
  fi
fi

"$@"
