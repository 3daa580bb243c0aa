#!/usr/bin/env bash
# Relay throughput of Hermod and Postfix to the same smtp-sink, rounds alternating:
# smtp-source (20 sessions, 1 KiB) -> server on loopback -> smtp-sink counting what it
# accepts (-c); "delivered" is when the sink has accepted all N.
#
# The sink counts rather than writing each message to a file (-d): on a 2-core machine a
# file per message holds smtp-sink to about 1,000 msg/s, which would measure the sink.
#
#   loadtest/compare/relay.sh [N=10000] [ROUNDS=3] [--reuse]
#
# Needs a release build (cargo build --release) and ../shared/bench (the Postfix reference
# and smtp-rate.sh; run as root). Everything stays on loopback and stops at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
n=${1:-10000}
rounds=${2:-3}
reuse=${3:-}
hermod=$root/target/release/hermod
work=$(mktemp -d /tmp/hermod-relay-compare.XXXXXX)
sink_out=$work/sink.out
postfix=/tmp/pf-relay-compare.$$
cleanup() {
  pkill -f "hermod serve --config $work/hermod.toml" || true
  [ -n "${sink:-}" ] && kill "$sink" 2>/dev/null || true
  "$bench/postfix-reference.sh" stop "$postfix" >/dev/null 2>&1 || true
  rm -rf "$work" "$postfix"
}
trap cleanup EXIT

# -c prints "sess=S quit=Q mesg=M" and a carriage return after every message.
/usr/sbin/smtp-sink -u nobody -c 127.0.0.1:2727 1024 >"$sink_out" 2>&1 &
sink=$!
cat >"$work/count.py" <<'PY'
import re, sys
tail = open(sys.argv[1], "rb").read()[-400:]
done = re.findall(rb"mesg=(\d+)\r", tail)
print(done[-1].decode() if done else 0)
PY
cat >"$work/hermod.toml" <<TOML
hostname = "relay.hermod.test"
data_dir = "$work/data"
domains = ["hermod.test"]
[listen]
smtp = "127.0.0.1:2525"
submission = ""
submissions = ""
pop3 = ""
pop3s = ""
imap = ""
imaps = ""
http = "127.0.0.1:9726"
[limits]
max_connections_per_ip = 1000
[relay]
trusted_networks = ["127.0.0.0/8"]
[delivery]
smarthost = "127.0.0.1:2727"
connections_per_destination = 20
TOML
"$hermod" serve --config "$work/hermod.toml" >"$work/server.log" 2>&1 &
"$bench/postfix-reference.sh" start "$postfix" 2628 --relay-to 127.0.0.1:2727 >/dev/null
sleep 2
count="python3 $work/count.py $sink_out"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="postfix hermod"; else order="hermod postfix"; fi
  for who in $order; do
    port=2628
    [ "$who" = hermod ] && port=2525
    echo "$who $("$bench/smtp-rate.sh" "127.0.0.1:$port" "$count" "$n" 1024 20 $reuse 2>&1 | tail -1)"
  done
done
