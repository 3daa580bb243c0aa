#!/usr/bin/env bash
# IMAP rates of Hermod and Dovecot side by side, one workload at a time, with hermod-load:
# append (fills every INBOX), fetch, login, mix. 10 accounts, 10 clients, no TLS.
#
#   loadtest/compare/imap.sh [SECS=10]
#
# Needs release builds (cargo build --release) and ../shared/bench (the Dovecot reference;
# run as root, it starts a private Dovecot on 127.0.0.1:2143). Everything stays on loopback
# and stops at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
secs=${1:-10}
load=$root/target/release/hermod-load
hermod=$root/target/release/hermod
work=$(mktemp -d /tmp/hermod-imap-compare.XXXXXX)
dovecot=/tmp/dv-compare.$$
cleanup() {
  pkill -f "hermod serve --config $work/hermod.toml" || true
  "$bench/dovecot-reference.sh" stop "$dovecot" >/dev/null 2>&1 || true
  rm -rf "$work" "$dovecot"
}
trap cleanup EXIT

cat >"$work/hermod.toml" <<TOML
data_dir = "$work/data"
[listen]
smtp = "127.0.0.1:3525"
submission = ""
submissions = ""
pop3 = ""
pop3s = ""
imap = "127.0.0.1:3143"
imaps = ""
http = "127.0.0.1:3725"
[limits]
max_connections_per_ip = 1000
TOML
for i in $(seq -f %05g 1 10); do
  "$hermod" user add "u$i@example.test" --password pass --config "$work/hermod.toml" >/dev/null
done
"$hermod" serve --config "$work/hermod.toml" >"$work/server.log" 2>&1 &
"$bench/dovecot-reference.sh" start "$dovecot" 2143 2110 >/dev/null
sleep 2

run() { # NAME PORT MODE
  "$load" imap --target "127.0.0.1:$2" --users 'u%05d@example.test' --user-count 10 \
    --password pass --clients 10 --duration "${secs}s" --mode "$3" --json >"$work/$1-$3.json" || true
  python3 - "$1" "$3" "$work/$1-$3.json" <<'PY'
import json, sys
who, mode, path = sys.argv[1:]
r = json.load(open(path))
c = r["commands"]
def rate(k):
    lat = c.get(k, {}).get("latency") or {}
    return lat.get("rate_per_sec", 0.0), lat.get("p50_ms", 0.0)
steps = ("LOGIN", "SELECT", "FETCH", "FETCH_BODY", "STORE", "APPEND", "EXPUNGE", "LOGOUT")
parts = [f"{k}={rate(k)[0]:.0f}/s(p50 {rate(k)[1]:.2f}ms)" for k in steps if k in c]
print(f"{who:8} {mode:7} sessions/s={r['sessions_per_sec']:.1f} errors={r['errors']} "
      f"mailbox={r.get('mailbox_min')}..{r.get('mailbox_max')} " + " ".join(parts))
PY
}
for mode in append fetch login mix; do
  run dovecot 2143 "$mode"
  run hermod 3143 "$mode"
done
