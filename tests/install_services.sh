#!/usr/bin/env bash
# `make test` on a fresh Debian machine: install the PostgreSQL and Redis server packages when they are
# missing (apt, as root), as `make browser` does for Chromium; otherwise name the packages and stop.
# tests/with_services.sh then uses running servers or starts throwaway ones.
set -uo pipefail

missing=()
{ ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 && command -v pg_isready >/dev/null; } || missing+=(postgresql)
{ command -v redis-server >/dev/null && command -v redis-cli >/dev/null; } || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (Debian packages) for the test suite"
  if apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "error: apt-get could not install ${missing[*]}; install them yourself, then run make test again" >&2
  exit 1
fi
echo "error: the tests need PostgreSQL and Redis servers; install the Debian packages: apt-get install ${missing[*]} (as root), then run make test again" >&2
exit 1
