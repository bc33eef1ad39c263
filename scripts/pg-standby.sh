#!/usr/bin/env bash
# pg-standby.sh start|stop — a hot standby (a streaming read replica) of the PostgreSQL that services.sh runs, on
# 127.0.0.1:5434: what users point a migration at by mistake (a reader endpoint, a replica after a failover).
# The tests start it for the tests that need one and stop it afterwards, so the rest of the suite does not pay for
# its replay. `start` is a no-op while it runs; each start takes a fresh base backup.
set -euo pipefail

DB_USER=${DBMIGRATE_TEST_USER:-dbmigrate}
DB_PASSWORD=${DBMIGRATE_TEST_PASSWORD:-dbmigrate}
PG_PORT=${DBMIGRATE_PG_PORT:-5432}
STANDBY_PORT=${DBMIGRATE_PG_STANDBY_PORT:-5434}
DIR=/var/lib/postgresql/dbmigrate-standby
BIN=/usr/lib/postgresql/15/bin

log() { printf '[pg-standby] %s\n' "$*"; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

stop() {
  [ -f "$DIR/postmaster.pid" ] && as_postgres "$BIN/pg_ctl" -D "$DIR" -m immediate -w stop >/dev/null 2>&1 || true
  as_postgres rm -rf "$DIR"
}

start() {
  pg_isready -q -h 127.0.0.1 -p "$STANDBY_PORT" && return 0
  stop
  log "base backup of 127.0.0.1:$PG_PORT into $DIR"
  as_postgres env PGPASSWORD="$DB_PASSWORD" "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" \
    -D "$DIR" --write-recovery-conf --wal-method=stream --checkpoint=fast
  # Debian keeps the primary's configuration in /etc, outside the data directory: the standby gets its own.
  # max_connections must not be below the primary's (services.sh sets 200), or a standby refuses to start.
  as_postgres tee "$DIR/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $STANDBY_PORT
unix_socket_directories = '$DIR'
max_connections = 200
hot_standby = on
fsync = off
CONF
  printf 'host all all 127.0.0.1/32 scram-sha-256\n' | as_postgres tee "$DIR/pg_hba.conf" >/dev/null
  as_postgres touch "$DIR/pg_ident.conf"
  log "starting the hot standby on 127.0.0.1:$STANDBY_PORT"
  as_postgres "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
