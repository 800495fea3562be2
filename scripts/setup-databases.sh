#!/usr/bin/env bash
# Databases and restic for berth's backup tests (fresh Debian 12, root, no systemd).
# Idempotent and fast when everything already answers:
#
#   1. apt-get install whatever is missing of: restic mariadb-server postgresql redis-server
#   2. MariaDB on 127.0.0.1:3306   (user berth / berth-test, all privileges)
#   3. PostgreSQL on 127.0.0.1:5432 (pg_ctlcluster; superuser berth / berth-test)
#   4. Redis on 127.0.0.1:6379     (no password, dir /var/lib/redis)
#
# Each daemon is started only when it does not answer, then waited for (up to 60 s).
# Logs: /var/log/berth-mariadb.log, the cluster's log, /var/log/berth-redis.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive

WAIT=${BERTH_DB_WAIT:-60}
DB_USER=berth
DB_PASS=berth-test
log() { echo "setup-databases: $*"; }
die() { echo "setup-databases: error: $*" >&2; exit 1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

wait_for() { # name command...
    local name=$1 deadline=$((SECONDS + WAIT))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$name does not answer after ${WAIT}s"
        sleep 0.3
    done
}

# --- 1. packages ---------------------------------------------------------------------
missing=()
for pkg in restic mariadb-server postgresql redis-server; do
    pkg_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "missing packages: ${missing[*]} (run as root)"
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

# --- 2. MariaDB ------------------------------------------------------------------------
maria_ok() { mariadb -h127.0.0.1 -P3306 -u"$DB_USER" -p"$DB_PASS" -e 'SELECT 1'; }
if maria_ok >/dev/null 2>&1; then
    log "mariadb ok"
else
    if ! mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then
        [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
        install -d -o mysql -g mysql /run/mysqld
        log "starting mariadbd (log: /var/log/berth-mariadb.log)"
        setsid nohup mariadbd --user=mysql --bind-address=127.0.0.1 --port=3306 \
            --socket=/run/mysqld/mysqld.sock >/var/log/berth-mariadb.log 2>&1 </dev/null &
        wait_for mariadb mariadb -uroot -e 'SELECT 1'
    fi
    mariadb -uroot <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
SQL
    wait_for "mariadb (tcp)" maria_ok
    log "mariadb ok (started)"
fi

# --- 3. PostgreSQL ---------------------------------------------------------------------
pg_ok() { PGPASSWORD=$DB_PASS psql -h 127.0.0.1 -p 5432 -U "$DB_USER" -d postgres -Atc 'SELECT 1'; }
if pg_ok >/dev/null 2>&1; then
    log "postgresql ok"
else
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    [[ -n $version ]] || die "no PostgreSQL server under /usr/lib/postgresql"
    pg_lsclusters -h | awk '{print $2}' | grep -qx main || pg_createcluster "$version" main >/dev/null
    if ! pg_lsclusters -h | awk '$2 == "main" {print $4}' | grep -qx online; then
        log "starting postgresql $version/main"
        pg_ctlcluster "$version" main start
    fi
    wait_for postgresql su postgres -c "psql -Atc 'SELECT 1'"
    su postgres -c "psql -q" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN CREATE ROLE $DB_USER LOGIN SUPERUSER; END IF;
END \$\$;
ALTER ROLE $DB_USER WITH LOGIN SUPERUSER PASSWORD '$DB_PASS';
SQL
    wait_for "postgresql (tcp)" pg_ok
    log "postgresql ok (started)"
fi

# PostgreSQL's Unix socket for $DB_USER with its password (Debian's pg_hba.conf has `peer` for
# local connections, which root cannot pass as $DB_USER): the backup tests reach it that way too.
pg_sock_ok() { PGPASSWORD=$DB_PASS psql -h /var/run/postgresql -p 5432 -U "$DB_USER" -d postgres -Atc 'SELECT 1'; }
if ! pg_sock_ok >/dev/null 2>&1; then
    hba=$(su postgres -c "psql -Atc 'SHOW hba_file'")
    grep -q "^local all $DB_USER scram-sha-256" "$hba" || sed -i "1i local all $DB_USER scram-sha-256" "$hba"
    su postgres -c "psql -Atc 'SELECT pg_reload_conf()'" >/dev/null
    wait_for "postgresql (socket)" pg_sock_ok
    log "postgresql socket login for $DB_USER enabled"
fi

# --- 4. Redis ---------------------------------------------------------------------------
redis_ok() { [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]; }
if redis_ok; then
    log "redis ok"
else
    install -d -o redis -g redis /var/lib/redis 2>/dev/null || mkdir -p /var/lib/redis
    log "starting redis-server (log: /var/log/berth-redis.log)"
    redis-server --bind 127.0.0.1 --port 6379 --dir /var/lib/redis --daemonize yes \
        --logfile /var/log/berth-redis.log --save '' --appendonly no
    wait_for redis redis_ok
    log "redis ok (started)"
fi
