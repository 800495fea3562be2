#!/usr/bin/env bash
# Smoke-test the images made by scripts/build-images.sh against a running
# docker daemon. Everything it creates (containers, one user-defined bridge
# network, one volume, a temp dir) is labelled/named berth-verify-<pid> and
# removed on exit. Traffic goes only to containers it started itself.
#
# Usage: scripts/verify-images.sh [--bench]
#   --bench   also run `wrk -t2 -c20 -d5s` against berth-test/app:v1
set -euo pipefail
export LC_ALL=C
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=0
[[ ${1:-} == --bench ]] && BENCH=1

ID=berth-verify-$$
NET=$ID
VOL=$ID-data
TMP=$(mktemp -d "${TMPDIR:-/tmp}/$ID.XXXXXX")
FAILS=0
PASSES=0

cleanup() {
    local ids
    ids=$(docker ps -aq --filter "label=berth.verify=$ID" 2>/dev/null || true)
    [[ -n $ids ]] && docker rm -f $ids >/dev/null 2>&1
    docker network rm "$NET" >/dev/null 2>&1 || true
    docker volume rm "$VOL" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASSES=$((PASSES + 1)); echo "verify: ok   $*"; }
bad() { FAILS=$((FAILS + 1)); echo "verify: FAIL $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local d=$1
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}

run() { # run NAME [docker run args...] IMAGE [CMD...] -> container id
    local name=$1
    shift
    docker run -d --name "$ID-$name" --label "berth.verify=$ID" "$@"
}
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
http() { # http URL [HOST_HEADER] -> body on stdout, non-zero on error/non-2xx
    # (busybox 1.35's `wget -T` segfaults in the static build: use timeout)
    if [[ -n ${2:-} ]]; then
        timeout 5 busybox wget -q -O - --header "Host: $2" "$1"
    else
        timeout 5 busybox wget -q -O - "$1"
    fi
}
wait_http() { # wait_http URL EXPECTED_BODY [HOST] : up to ~5 s
    local i
    for i in $(seq 50); do
        [[ $(http "$1" "${3:-}" 2>/dev/null) == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}
body_is() { [[ $(http "$1" "${3:-}" 2>/dev/null) == "$2" ]]; }
status_404() { local err; err=$(http "$1" 2>&1 >/dev/null) && return 1; [[ $err == *" 404 "* ]]; }

docker network create "$NET" >/dev/null
docker volume create "$VOL" >/dev/null

# --- images exist, distinct, no built-in HEALTHCHECK --------------------------
declare -A IDS
for tag in v1 v2 v3 never-healthy crash dies-later; do
    img=berth-test/app:$tag
    IDS[$tag]=$(docker image inspect -f '{{.Id}}' "$img")
    check "$img has no HEALTHCHECK" \
        test "$(docker image inspect -f '{{json .Config.Healthcheck}}' "$img")" = null
done
check "v1/v2/v3 have distinct image IDs" \
    test "$(printf '%s\n' "${IDS[v1]}" "${IDS[v2]}" "${IDS[v3]}" | sort -u | wc -l)" = 3

# --- app images ---------------------------------------------------------------
for tag in v1 v2 v3; do
    run "$tag" --network "$NET" "berth-test/app:$tag" >/dev/null
done
run never-healthy --network "$NET" berth-test/app:never-healthy >/dev/null
run dies-later --network "$NET" -e DIES_AFTER=3 berth-test/app:dies-later >/dev/null
for tag in v1 v2 v3; do
    ip=$(ip_of "$ID-$tag")
    check "app:$tag serves 'app $tag' on http://$ip/" wait_http "http://$ip/" "app $tag"
    check "app:$tag /healthz is ok" body_is "http://$ip/healthz" ok
done
ip=$(ip_of "$ID-never-healthy")
check "app:never-healthy serves its index" wait_http "http://$ip/" "app never-healthy"
check "app:never-healthy /healthz is 404" status_404 "http://$ip/healthz"

ip=$(ip_of "$ID-dies-later")
check "app:dies-later is healthy at first" wait_http "http://$ip/healthz" ok
rc=$(timeout 10 docker wait "$ID-dies-later" || echo timeout)
check "app:dies-later exits 1 after DIES_AFTER=3 (got $rc)" test "$rc" = 1

run crash berth-test/app:crash >/dev/null
rc=$(timeout 10 docker wait "$ID-crash" || echo timeout)
check "app:crash exits 1 at once (got $rc)" test "$rc" = 1
check "app:crash logs the fatal error" \
    bash -c "docker logs '$ID-crash' 2>&1 | grep -q 'fatal: cannot start (config missing)'"

start=$(date +%s%N)
docker stop "$ID-v3" >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
rc=$(docker inspect -f '{{.State.ExitCode}}' "$ID-v3")
check "app stops on SIGTERM promptly (${ms} ms, exit $rc)" test "$ms" -lt 3000 -a "$rc" = 0

# Same hardening as examples/shop/compose.yaml (cap_drop ALL, 64M, 0.5 cpu,
# named volume, wget healthcheck with interval 1s / timeout 2s / retries 3).
run hardened --network "$NET" --cap-drop ALL --cap-add NET_BIND_SERVICE \
    --memory 64m --cpus 0.5 -v "$VOL:/data" \
    --health-cmd 'wget -q -O - http://127.0.0.1/healthz' \
    --health-interval 1s --health-timeout 2s --health-retries 3 \
    berth-test/app:v1 >/dev/null
health=starting
for _ in $(seq 100); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$ID-hardened")
    [[ $health == starting ]] || break
    sleep 0.1
done
check "hardened app:v1 (cap_drop ALL + NET_BIND_SERVICE) becomes healthy ($health)" test "$health" = healthy
check "hardened app:v1 can write its /data volume" \
    docker exec "$ID-hardened" sh -c 'echo x >/data/probe && rm /data/probe'

# --- berth-haproxy:local ---------------------------------------------------------
check "haproxy -vv runs in berth-haproxy:local" \
    bash -c "docker run --rm berth-haproxy:local /usr/sbin/haproxy -vv | grep '^HAProxy version' >/dev/null"

# The default config baked into the image: workers drop to user haproxy.
run haproxy-default --network "$NET" berth-haproxy:local >/dev/null
dip=$(ip_of "$ID-haproxy-default")
err=
for _ in $(seq 50); do
    err=$(http "http://$dip/" 2>&1 >/dev/null) || true
    [[ $err == *" 503 "* ]] && break
    sleep 0.1
done
check "default config answers 503 (no routes configured)" test -n "$err" -a -z "${err##* 503 *}"
check "default config: haproxy worker runs as user haproxy (uid 99)" \
    bash -c "docker top '$ID-haproxy-default' -eo pid,uid,args | awk '\$2 == 99' | grep -q haproxy"

# Run it the way berth's edge does (src/proxy/haproxy.ts): config DIRECTORY
# bind-mounted read-only, socket dir bind-mounted, `haproxy` found via PATH,
# cap_drop ALL + NET_BIND_SERVICE, no-new-privileges, no `user` in the config.
# No global `maxconn`: without CAP_SYS_RESOURCE haproxy cannot raise its fd
# limit, and with `maxconn 20000` it needs 40029 fds and exits where the hard
# limit is 20000 ("Cannot raise FD limit"). Left out, it sizes from ulimit -n.
mkdir -p "$TMP/cfg" "$TMP/sock"
write_cfg() { # write_cfg BACKEND_IP (atomic rename, like berth does)
    cat >"$TMP/cfg/haproxy.cfg.new" <<EOF
global
  stats socket /var/run/haproxy/admin.sock mode 600 level admin expose-fd listeners
  stats timeout 30s
  hard-stop-after 60s
  log stdout format raw local0 notice

defaults
  mode http
  log global
  timeout connect 3s
  timeout client 60s
  timeout server 60s

frontend fe_8081
  bind :8081
  http-request set-var(txn.host) req.hdr(host),field(1,:),lower
  use_backend be_web if { var(txn.host) -m str shop.localhost }
  default_backend be_no_route

backend be_web
  server blue $1:80

backend be_no_route
  http-request return status 503
EOF
    mv "$TMP/cfg/haproxy.cfg.new" "$TMP/cfg/haproxy.cfg"
}
write_cfg "$(ip_of "$ID-v1")"
run haproxy --network "$NET" -v "$TMP/cfg:/usr/local/etc/haproxy:ro" \
    -v "$TMP/sock:/var/run/haproxy" --cap-drop ALL --cap-add NET_BIND_SERVICE \
    --security-opt no-new-privileges \
    berth-haproxy:local haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg >/dev/null
hip=$(ip_of "$ID-haproxy")
check "haproxy routes Host: shop.localhost to app:v1" wait_http "http://$hip:8081/" "app v1" shop.localhost
check "admin socket answers 'show info' from the host" \
    bash -c "node '$ROOT/scripts/haproxy-sock.mjs' '$TMP/sock/admin.sock' 'show info' | grep -q '^Name: HAProxy'"
v2ip=$(ip_of "$ID-v2")
node "$ROOT/scripts/haproxy-sock.mjs" "$TMP/sock/admin.sock" "set server be_web/blue addr $v2ip port 80" >/dev/null ||
    bad "runtime API 'set server' command"
check "runtime API 'set server ... addr' switches the route to app:v2" \
    wait_http "http://$hip:8081/" "app v2" shop.localhost
write_cfg "$(ip_of "$ID-v1")"
docker kill -s USR2 "$ID-haproxy" >/dev/null
check "SIGUSR2 reload picks up the rewritten config (back to app:v1)" \
    wait_http "http://$hip:8081/" "app v1" shop.localhost
check "haproxy master still running after reload" \
    test "$(docker inspect -f '{{.State.Running}}' "$ID-haproxy")" = true

# --- optional benchmark -----------------------------------------------------------
if ((BENCH)); then
    if command -v wrk >/dev/null; then
        ip=$(ip_of "$ID-v1")
        out=$(wrk -t2 -c20 -d5s "http://$ip/")
        rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
        echo "verify: bench app:v1 busybox httpd: $rps req/s (wrk -t2 -c20 -d5s http://$ip/)"
        check "app:v1 sustains >= 2000 req/s" awk -v r="$rps" 'BEGIN { exit !(r >= 2000) }'
    else
        echo "verify: wrk not installed, skipping bench"
    fi
fi

echo "$PASSES passed, $FAILS failed"
((FAILS == 0))
