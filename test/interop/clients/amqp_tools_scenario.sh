#!/usr/bin/env bash
# Interop scenario for amqp-tools (Debian amqp-tools 0.11: the librabbitmq-c command-line
# tools amqp-declare-queue, amqp-publish, amqp-consume, amqp-get), driven by
# test/interop/amqp-tools.test.ts.
#
# Usage: amqp_tools_scenario.sh <port> <prefix> <body-hex>
#   env TOPIC_BINDINGS="suffix=pattern ..." TOPIC_KEYS="key ..."
# Prints one JSON object per line on stdout. Each tool opens its own connection.
#
# How the tools work, and what they cannot do (see the test for what is checked instead):
# - no tool declares an exchange (the test declares them with amqplib);
# - amqp-declare-queue declares a plain queue (-d: durable) and prints its name only;
# - the only way to bind is amqp-consume -e/-r, which declares the queue auto-delete, binds
#   it and consumes until killed or -c messages: the queue and binding live as long as that
#   consumer, so bound queues are read by a background amqp-consume (one body per line, hex);
# - amqp-publish sets content-type, content-encoding, reply-to, persistent and string headers
#   only; no tool shows the properties of a received message; no confirms; no passive declare.
set -euo pipefail
set -f # routing patterns contain '*' and '#'

port=$1
p=$2
body_hex=$3
url="amqp://guest:guest@127.0.0.1:$port"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

json_str() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
to_hex() { od -An -v -tx1 | tr -d ' \n'; }
from_hex() { printf "$(sed 's/../\\x&/g' <<<"$1")"; }
hex_of() { printf '%s' "$1" | to_hex; }
json_hex_lines() { local out="" l; while read -r l; do out="$out${out:+,}\"$l\""; done <"$1"; printf '[%s]' "$out"; }
json_text_lines() { local out="" l; while read -r l; do out="$out${out:+,}$(json_str "$(from_hex "$l")")"; done <"$1"; printf '[%s]' "$out"; }
# polls (10 ms) until file $1 has a line equal to $2
wait_line() { local i; for i in $(seq 500); do grep -qx "$2" "$1" 2>/dev/null && return 0; sleep 0.01; done; echo "timed out waiting for $2 in $1" >&2; return 1; }

# consume_bound <queue> <exchange> <key>: a background amqp-consume that binds the queue and
# appends each body (hex) to $tmp/<queue>; returns once the binding is in place (a probe sent
# straight to the queue through the default exchange came through the consumer)
consume_bound() {
  local q=$1 out="$tmp/$1"
  : >"$out"
  amqp-consume --url "$url" -q "$q" -e "$2" -r "$3" -- sh -c 'od -An -v -tx1 | tr -d " \n"; echo' >>"$out" &
  echo $! >"$out.pid"
  local i rc
  for i in $(seq 500); do # amqp-get: 1 while the queue does not exist, 2 once it exists (empty)
    rc=0; amqp-get --url "$url" -q "$q" >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] && break
    sleep 0.01
  done
  amqp-publish --url "$url" -r "$q" -b bind-probe
  wait_line "$out" "$(hex_of bind-probe)"
}
# finish_bound <queue>: an end marker straight to the queue, then stops the consumer; leaves the
# bodies received between the probe and the marker in $tmp/<queue>.bodies
finish_bound() {
  local q=$1 out="$tmp/$1"
  amqp-publish --url "$url" -r "$q" -b end-marker
  wait_line "$out" "$(hex_of end-marker)"
  kill "$(cat "$out.pid")" 2>/dev/null || true
  grep -vx -e "$(hex_of bind-probe)" -e "$(hex_of end-marker)" "$out" >"$out.bodies" || true
}

# declare (a durable plain queue), publish straight to it, consume it (acked: no -A)
name=$(amqp-declare-queue --url "$url" -q "$p.declared" -d)
echo '{"step":"connect"}'
echo "{\"step\":\"declare\",\"queue\":$(json_str "$name")}"
amqp-publish --url "$url" -r "$p.declared" -p -b plain-body
got=$(amqp-consume --url "$url" -q "$p.declared" -c 1 -- sh -c 'od -An -v -tx1 | tr -d " \n"')
echo "{\"step\":\"consume_plain\",\"body_hex\":\"$got\"}"

# publish with every property amqp-publish has, through an exchange and a binding
consume_bound "$p.props" "$p.direct" props
from_hex "$body_hex" | amqp-publish --url "$url" -e "$p.direct" -r props -p \
  -C application/x-warren-interop -E utf-8 -t "$p.replies" \
  -H "x-string: héllo ✓ wörld" -H "x-int: 42" -H "x-colon: a: b"
finish_bound "$p.props"
echo "{\"step\":\"consume\",\"bodies_hex\":$(json_hex_lines "$tmp/$p.props.bodies")}"

# basic.get (amqp-get uses no-ack), then again on the empty queue (exit code 2)
rc=0
got=$(amqp-get --url "$url" -q "$p.from-js" | to_hex; exit "${PIPESTATUS[0]}") || rc=$?
echo "{\"step\":\"get\",\"body_hex\":\"$got\",\"exit_code\":$rc}"
rc=0
amqp-get --url "$url" -q "$p.from-js" >/dev/null || rc=$?
echo "{\"step\":\"get_empty\",\"empty\":$([ $rc -eq 2 ] && echo true || echo false),\"exit_code\":$rc}"

# topic pub/sub
for b in $TOPIC_BINDINGS; do consume_bound "$p.${b%%=*}" "$p.topic" "${b#*=}"; done
for rk in $TOPIC_KEYS; do amqp-publish --url "$url" -e "$p.topic" -r "$rk" -b "$rk"; done
for b in $TOPIC_BINDINGS; do
  finish_bound "$p.${b%%=*}"
  echo "{\"step\":\"topic\",\"queue\":$(json_str "${b%%=*}"),\"routing_keys\":$(json_text_lines "$tmp/$p.${b%%=*}.bodies")}"
done

# error: basic.get of a missing queue (amqp-tools has no passive declare)
rc=0
err=$(amqp-get --url "$url" -q "$p.missing" 2>&1 >/dev/null) || rc=$?
code=$(sed -n 's/.*server channel error \([0-9]*\), message: .*/\1/p' <<<"$err")
text=$(sed -n 's/.*server channel error [0-9]*, message: //p' <<<"$err")
echo "{\"step\":\"error\",\"code\":${code:-null},\"text\":$(json_str "$text"),\"stderr\":$(json_str "$err"),\"exit_code\":$rc}"
echo '{"step":"done"}'
