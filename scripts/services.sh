#!/usr/bin/env bash
# Install (if missing) and start the real databases the integration tests use: PostgreSQL 15 and MariaDB 10.11
# from Debian's packages, listening on loopback only, and PgBouncer in front of PostgreSQL in transaction and in
# session mode (what users put between their apps and the database). Safe to run any number of times.
set -euo pipefail

DB_USER=${DBMIGRATE_TEST_USER:-dbmigrate}
DB_PASSWORD=${DBMIGRATE_TEST_PASSWORD:-dbmigrate}
DB_NAME=${DBMIGRATE_TEST_DB:-dbmigrate_test}
PG_PORT=${DBMIGRATE_PG_PORT:-5432}
MY_PORT=${DBMIGRATE_MYSQL_PORT:-3306}
BOUNCER_PORT=${DBMIGRATE_PGBOUNCER_PORT:-6442}  # transaction mode; session mode listens on the next port

log() { printf '[services] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    as_root apt-get update -q >/dev/null
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() {  # wait_for DESCRIPTION COMMAND...
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "ERROR: $what did not come up"; return 1
}

start_postgres() {
  ensure_packages postgresql-15 postgresql-client-15
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1,$2}' | grep -qx '15 main'; then
    log "creating PostgreSQL cluster 15/main"
    as_root pg_createcluster 15 main --port "$PG_PORT" >/dev/null
  fi
  local conf=/etc/postgresql/15/main/postgresql.conf
  if ! grep -q '^# dbmigrate test settings' "$conf"; then
    as_root tee -a "$conf" >/dev/null <<CONF
# dbmigrate test settings
listen_addresses = '127.0.0.1'
port = $PG_PORT
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if ! pg_lsclusters -h | awk '$1==15 && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL 15 on 127.0.0.1:$PG_PORT"
    # Right after a server was killed its lock file can still name a dying process; give it a few seconds.
    for attempt in 1 2 3 4 5; do
      as_root pg_ctlcluster 15 main start && break
      [ "$attempt" -eq 5 ] && { log "ERROR: PostgreSQL did not start"; return 1; }
      sleep 2
    done
  fi
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p "$PG_PORT"
  as_root su postgres -c "psql -v ON_ERROR_STOP=1 -q -p $PG_PORT" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE "$DB_USER" LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE "$DB_NAME" OWNER "$DB_USER"'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
  log "PostgreSQL ready: postgresql://$DB_USER:***@127.0.0.1:$PG_PORT/$DB_NAME"
}

start_mariadb() {
  ensure_packages mariadb-server mariadb-client
  local conf=/etc/mysql/mariadb.conf.d/99-dbmigrate-test.cnf
  if [ ! -f "$conf" ]; then
    as_root tee "$conf" >/dev/null <<CONF
[mysqld]
bind-address = 127.0.0.1
port = $MY_PORT
max_connections = 300
innodb_flush_log_at_trx_commit = 0
skip-name-resolve
CONF
  fi
  # A server killed earlier (e.g. when the previous session's processes were ended) leaves its pid file, socket
  # and perhaps a mysqld_safe wrapper behind, and mysqld_safe then refuses with "A mysqld process already exists";
  # a process still exiting (a zombie) looks alive for a moment. So: clean up what is dead, start, retry.
  for attempt in 1 2 3 4 5; do
    mariadb-admin ping --silent >/dev/null 2>&1 && break
    if ! ps -C mariadbd,mysqld -o stat= 2>/dev/null | grep -qv '^Z'; then
      log "starting MariaDB on 127.0.0.1:$MY_PORT"
      as_root pkill -f mysqld_safe >/dev/null 2>&1 || true
      as_root rm -f /run/mysqld/mysqld.pid /run/mysqld/mysqld.sock /run/mysqld/mysqld.sock.lock
      as_root install -d -o mysql -g mysql /run/mysqld
      as_root sh -c 'nohup mysqld_safe >/var/log/dbmigrate-mariadb.log 2>&1 &'
    fi
    for _ in $(seq 1 20); do mariadb-admin ping --silent >/dev/null 2>&1 && break 2; sleep 0.5; done
  done
  wait_for MariaDB mariadb-admin ping --silent
  as_root mariadb -uroot <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
-- a test that makes the server read-only for a moment may have been killed before turning it back off
SET GLOBAL read_only = OFF;
SQL
  log "MariaDB ready: mysql://$DB_USER:***@127.0.0.1:$MY_PORT/$DB_NAME"
}

start_pgbouncer() {  # start_pgbouncer MODE PORT
  local mode=$1 port=$2 dir=/var/lib/postgresql/dbmigrate-pgbouncer
  ensure_packages pgbouncer
  pg_isready -q -h 127.0.0.1 -p "$port" && return 0
  log "starting PgBouncer ($mode pooling) on 127.0.0.1:$port"
  as_root install -d -o postgres -g postgres "$dir"
  printf '"%s" "%s"\n' "$DB_USER" "$DB_PASSWORD" | as_root tee "$dir/userlist.txt" >/dev/null
  as_root tee "$dir/$mode.ini" >/dev/null <<CONF
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = plain
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = 4
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/$mode.log
pidfile = $dir/$mode.pid
CONF
  as_root chown postgres:postgres "$dir/userlist.txt" "$dir/$mode.ini"
  as_root rm -f "$dir/$mode.pid"
  as_root su postgres -s /bin/sh -c "pgbouncer -d -q $dir/$mode.ini"
  wait_for "PgBouncer on port $port" pg_isready -h 127.0.0.1 -p "$port"
}

start_postgres
start_mariadb
start_pgbouncer transaction "$BOUNCER_PORT"
start_pgbouncer session "$((BOUNCER_PORT + 1))"
log "PgBouncer ready: transaction mode on 127.0.0.1:$BOUNCER_PORT, session mode on 127.0.0.1:$((BOUNCER_PORT + 1))"
