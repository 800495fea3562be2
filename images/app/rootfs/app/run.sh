#!/bin/sh
# berth-test/app entrypoint (PID 1). Behaviour is baked into each image tag
# through APP_MODE / APP_VERSION (see scripts/build-images.sh):
#   serve        healthy: busybox httpd on :80 serving /www (index + /healthz)
#   crash        print a fatal error to stderr and exit 1 immediately
#   dies-later   healthy for $DIES_AFTER seconds (default 5), then exit 1
# The script stays PID 1 so SIGTERM/SIGINT (docker stop) end it promptly:
# a PID 1 without handlers would ignore them and wait for SIGKILL.
set -u
mode="${APP_MODE:-serve}"
port="${APP_PORT:-80}"

log() { echo "app[${APP_VERSION:-?}]: $*" >&2; }

if [ "$mode" = crash ]; then
    echo "fatal: cannot start (config missing)" >&2
    exit 1
fi

httpd -f -v -p "$port" -h /www &
httpd_pid=$!
child=$httpd_pid

stop() {
    log "received $1, stopping"
    kill -TERM "$httpd_pid" "$child" 2>/dev/null
    wait "$httpd_pid" 2>/dev/null
    exit 0
}
trap 'stop SIGTERM' TERM
trap 'stop SIGINT' INT

log "mode=$mode listening on :$port"

if [ "$mode" = dies-later ]; then
    after="${DIES_AFTER:-5}"
    sleep "$after" &
    child=$!
    wait "$child"
    log "fatal: dying after ${after}s as configured (DIES_AFTER)"
    kill -TERM "$httpd_pid" 2>/dev/null
    wait "$httpd_pid" 2>/dev/null
    exit 1
fi

wait "$httpd_pid"
rc=$?
log "httpd exited with status $rc"
exit "$rc"
