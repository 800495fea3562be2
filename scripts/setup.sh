#!/usr/bin/env bash
# Prepare a machine (fresh Debian 12, root, no systemd, no stdin; CI runs it)
# for berth's development, tests and example. Idempotent: a second run only
# checks and changes nothing.
#
#   1. apt-get install whatever is missing of: docker.io haproxy wrk
#      busybox-static iproute2 procps ca-certificates openssl redis-server (apt is skipped entirely
#      when nothing is missing)
#   2. start dockerd in the background if `docker info` fails
#      (log: /var/log/berth-dockerd.log) and wait up to 60 s for it
#   3. npm ci when node_modules is missing or older than package-lock.json (install scripts
#      of better-sqlite3 and esbuild only; SQLite compiled at -O1)
#   4. scripts/build-images.sh: local images, rebuilt only when their inputs
#      changed (label berth.build-hash)
#   5. scripts/setup-databases.sh: restic, MariaDB, PostgreSQL, Redis on
#      127.0.0.1 for the backup tests
#
# Usage: scripts/setup.sh [--verify]
#   --verify   afterwards run scripts/verify-images.sh (smoke tests, ~15 s)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKERD_LOG=${BERTH_DOCKERD_LOG:-/var/log/berth-dockerd.log}
DOCKERD_WAIT=${BERTH_DOCKERD_WAIT:-60}
VERIFY=0
for arg in "$@"; do
    case $arg in
        --verify) VERIFY=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup: error: unknown argument $arg" >&2; exit 2 ;;
    esac
done

log() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }
is_root() { [[ $(id -u) == 0 ]]; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
started=$SECONDS

# --- 1. system packages --------------------------------------------------------
# package -> is it (or an equivalent) already there?
have() {
    case $1 in
        docker.io) pkg_installed docker.io || command -v dockerd >/dev/null ;; # docker-ce counts
        haproxy) pkg_installed haproxy || [[ -x /usr/sbin/haproxy ]] ;;
        wrk) command -v wrk >/dev/null ;;
        busybox-static) pkg_installed busybox-static ;; # must be the static build
        iproute2) command -v ip >/dev/null ;;
        procps) command -v ps >/dev/null && command -v pgrep >/dev/null ;;
        ca-certificates) pkg_installed ca-certificates ;;
        openssl) command -v openssl >/dev/null ;; # the notify tests make a TLS certificate with it
        redis-server) command -v redis-server >/dev/null ;; # the agent's Redis ping test starts its own
        *) pkg_installed "$1" ;;
    esac
}

missing=()
for pkg in docker.io haproxy wrk busybox-static iproute2 procps ca-certificates openssl redis-server; do
    have "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    log "packages ok"
else
    is_root || die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
    for pkg in "${missing[@]}"; do
        have "$pkg" || die "$pkg still missing after apt-get install"
    done
    log "packages installed"
fi

# restic + openssh for pull replication (and the tests' loopback sshd)
bash "$ROOT/scripts/setup-ssh.sh"

# --- 2. docker daemon -------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    log "docker ok"
else
    is_root || die "docker daemon not reachable and not root: start dockerd, or add this user to the docker group"
    command -v dockerd >/dev/null || die "dockerd not found (docker.io not installed?)"
    if pgrep -x dockerd >/dev/null; then
        log "dockerd already running, waiting for it"
    else
        # A dockerd that died leaves its pid file behind and the next one refuses
        # to start ("pid file found, ensure docker is not running").
        if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
            rm -f /var/run/docker.pid
        fi
        log "starting dockerd (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        # setsid: own session, so it outlives this script and its process group.
        setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    deadline=$((SECONDS + DOCKERD_WAIT))
    until docker info >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "setup: error: docker daemon not ready after ${DOCKERD_WAIT}s; last lines of $DOCKERD_LOG:" >&2
            tail -n 25 "$DOCKERD_LOG" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.5
    done
    log "docker ok (dockerd started, $(docker version -f '{{.Server.Version}}' 2>/dev/null))"
fi

# --- 3. node modules ------------------------------------------------------------------
command -v npm >/dev/null || die "npm not found: install Node.js >= 20 first"
if [[ ! -f $ROOT/package.json ]]; then
    log "no package.json, skipping npm"
elif [[ ! -f $ROOT/package-lock.json ]]; then
    log "no package-lock.json: npm install"
    (cd "$ROOT" && npm install --no-audit --no-fund </dev/null)
elif [[ ! -d $ROOT/node_modules || ! -f $ROOT/node_modules/.package-lock.json ||
    $ROOT/package-lock.json -nt $ROOT/node_modules/.package-lock.json ]]; then
    # Install scripts only where they are needed. Offline, better-sqlite3 has no prebuilt binary
    # and compiles SQLite from source: at -O1 (CFLAGS, unless set) about 20 s instead of 55 s on
    # two cores, for a state database that sees a few writes a second. dockerode's ssh2 and
    # cpu-features bindings (for ssh:// docker hosts, which berth does not use; ssh2 falls back
    # to JavaScript) are not compiled at all.
    log "npm ci (native: better-sqlite3, esbuild)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --ignore-scripts </dev/null &&
        CFLAGS=${CFLAGS:--O1} npm rebuild better-sqlite3 esbuild </dev/null)
else
    log "node_modules up to date"
fi

# --- 4. local images --------------------------------------------------------------------
BERTH_LOG_PREFIX=setup bash "$ROOT/scripts/build-images.sh"

# --- 5. databases and restic for the backup tests --------------------------------------------
bash "$ROOT/scripts/setup-databases.sh"

if ((VERIFY)); then
    bash "$ROOT/scripts/verify-images.sh"
fi

log "done in $((SECONDS - started))s"
