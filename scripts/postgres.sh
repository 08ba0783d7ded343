#!/usr/bin/env bash
# Helpers to run a throwaway PostgreSQL server for tests (sourced by scripts/test.sh).
# Installs Debian's postgresql package when no server binary is present.

PG_PORT="${PG_PORT:-55432}"
PG_DIR="${PG_DIR:-/tmp/reelhouse-pg-$PG_PORT}"

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}

install_postgres() {
  echo "[postgres.sh] installing PostgreSQL from Debian's packages" >&2
  local SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
}

# Runs a command as the user that owns the cluster (postgres refuses to run as root).
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

start_private_postgres() {
  local bin
  bin="$(find_pg_bin)" || { install_postgres; bin="$(find_pg_bin)"; } || {
    echo "[postgres.sh] no PostgreSQL server after installing; install postgresql and retry" >&2
    return 1
  }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home /var/lib/postgresql postgres
  fi
  if ! as_pg_user "$bin/pg_ctl -D $PG_DIR status" >/dev/null 2>&1; then
    rm -rf "$PG_DIR"
    mkdir -p "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
    as_pg_user "$bin/initdb -D $PG_DIR -A trust -U postgres --no-sync" >/dev/null
    as_pg_user "$bin/pg_ctl -D $PG_DIR -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' -l $PG_DIR/server.log -w start" >/dev/null
  fi
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  PG_BIN="$bin"
  export PG_URL PG_BIN
}

stop_private_postgres() {
  [ -n "${PG_BIN:-}" ] && as_pg_user "$PG_BIN/pg_ctl -D $PG_DIR -m fast stop" >/dev/null 2>&1 || true
}
