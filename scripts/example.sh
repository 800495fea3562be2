#!/usr/bin/env bash
# The main job on the bundled example stack: bring examples/shop up, then blue-green deploy a new
# version of `web` while a client keeps requesting through the edge, showing progress.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
berth() { node bin/berth.js -C examples/shop "$@"; }
echo "== berth up"
berth up
berth status
current=$(berth status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const w=JSON.parse(s).services.find(x=>x.service==="web");console.log(w.image)})')
next=berth-test/app:v2
[ "$current" = "$next" ] && next=berth-test/app:v1
echo "== serving: $(curl -s -H 'Host: shop.localhost' http://127.0.0.1:8081/)"
echo "== berth deploy web --image $next (requests keep flowing through the edge meanwhile)"
( end=$((SECONDS + 25)); ok=0; bad=0
  while [ $SECONDS -lt $end ] && [ ! -e /tmp/berth-example.stop ]; do
    if curl -sf -m 2 -H 'Host: shop.localhost' http://127.0.0.1:8081/ >/dev/null; then ok=$((ok+1)); else bad=$((bad+1)); fi
  done
  echo "== client during the deploy: $ok ok, $bad failed" ) &
client=$!
rm -f /tmp/berth-example.stop
berth deploy web --image "$next"
touch /tmp/berth-example.stop
wait $client
rm -f /tmp/berth-example.stop
echo "== serving: $(curl -s -H 'Host: shop.localhost' http://127.0.0.1:8081/)"
berth status
berth history web -n 5
