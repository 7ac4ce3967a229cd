#!/usr/bin/env bash
# Starts mosquitto from packaging/mosquitto/edgesketch.conf (TLS, passwords, per-gateway ACL) on a
# free loopback port and checks with the mosquitto clients that a gateway can publish under its
# own prefix and read its own acks, and nothing else.
#   broker_acl_test.sh <source dir>
set -euo pipefail
SRC=${1:?usage: broker_acl_test.sh <source dir>}
WORK=$(mktemp -d)
BROKER_PID=""
cleanup() {
  [[ -n "$BROKER_PID" ]] && kill "$BROKER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $WORK/broker.log ]] && tail -20 "$WORK/broker.log" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# A throwaway CA and a broker certificate for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=edgesketch test CA" \
  -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$WORK/broker.key" \
  -out "$WORK/broker.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/broker.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 2 -extfile "$WORK/san.ext" -out "$WORK/broker.crt" 2>/dev/null

# Credentials as docs/operations.md issues them: "<tenant>/<gateway_id>" per gateway.
touch "$WORK/passwd"
mosquitto_passwd -b "$WORK/passwd" acme/gw-001 pw-gw-001
mosquitto_passwd -b "$WORK/passwd" acme/gw-002 pw-gw-002
mosquitto_passwd -b "$WORK/passwd" other/gw-001 pw-other
mosquitto_passwd -b "$WORK/passwd" edgesketch-collector pw-collector

# The example config with this test's paths and port; everything else unchanged.
mkdir -p "$WORK/data"
sed -e "s|/etc/mosquitto/edgesketch.passwd|$WORK/passwd|" \
    -e "s|/etc/mosquitto/edgesketch.acl|$SRC/packaging/mosquitto/edgesketch.acl|" \
    -e "s|/var/lib/mosquitto/|$WORK/data/|" \
    -e "s|/etc/mosquitto/certs/|$WORK/|" \
    -e "s|^listener 8883$|listener $PORT 127.0.0.1|" \
    "$SRC/packaging/mosquitto/edgesketch.conf" >"$WORK/mosquitto.conf"
grep -q "^listener $PORT 127.0.0.1$" "$WORK/mosquitto.conf" || fail "listener line not rewritten"
# Started as root, mosquitto would switch to the "mosquitto" user, which cannot read $WORK.
echo "user $(id -un)" >>"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
  grep -q "Opening ipv4 listen socket on port $PORT" "$WORK/broker.log" && break
  kill -0 "$BROKER_PID" 2>/dev/null || fail "mosquitto exited"
  sleep 0.1
done

TLS=(-h 127.0.0.1 -p "$PORT" --cafile "$WORK/ca.crt" -V mqttv5)
as() {  # as <user> <password> <client> <args...>
  local user=$1 pass=$2 client=$3
  shift 3
  "$client" "${TLS[@]}" -u "$user" -P "$pass" "$@"
}
# sub <file> <user> <password> <topic>: a background subscriber writing what it receives.
sub() {
  as "$2" "$3" mosquitto_sub -q 1 -t "$4" -v -W 4 >"$1" 2>"$1.err" &
}

sub "$WORK/collector.txt" edgesketch-collector pw-collector 'edgesketch/v1/+/+/windows'
sub "$WORK/own_ack.txt" acme/gw-001 pw-gw-001 'edgesketch/v1/acme/gw-001/ack'
sub "$WORK/other_gw_ack.txt" acme/gw-001 pw-gw-001 'edgesketch/v1/acme/gw-002/ack'
sub "$WORK/other_tenant.txt" acme/gw-001 pw-gw-001 'edgesketch/v1/other/#'
sleep 1

as acme/gw-001 pw-gw-001 mosquitto_pub -q 1 -t edgesketch/v1/acme/gw-001/windows -m own \
  2>"$WORK/pub_own.err"
as acme/gw-001 pw-gw-001 mosquitto_pub -q 1 -t edgesketch/v1/acme/gw-002/windows -m forged \
  2>"$WORK/pub_forged.err" || true
as acme/gw-001 pw-gw-001 mosquitto_pub -q 1 -t edgesketch/v1/acme/gw-001/ack -m fake-ack \
  2>"$WORK/pub_ack.err" || true
as edgesketch-collector pw-collector mosquitto_pub -q 1 -t edgesketch/v1/acme/gw-001/ack -m ack-1
as edgesketch-collector pw-collector mosquitto_pub -q 1 -t edgesketch/v1/acme/gw-002/ack -m ack-2
as edgesketch-collector pw-collector mosquitto_pub -q 1 -t edgesketch/v1/other/gw-001/ack -m ack-o
as other/gw-001 pw-other mosquitto_pub -q 1 -t edgesketch/v1/other/gw-001/windows -m other-own
wait_subs() { sleep 4.5; }
wait_subs

check_eq() {  # check_eq <file> <expected content> <what>
  local got
  got=$(sort "$1")
  [[ "$got" == "$2" ]] || fail "$3: expected [$2], got [$got]"
  echo "ok: $3"
}
check_eq "$WORK/collector.txt" $'edgesketch/v1/acme/gw-001/windows own\nedgesketch/v1/other/gw-001/windows other-own' \
  "collector receives each gateway's own windows and no forged batch"
check_eq "$WORK/own_ack.txt" "edgesketch/v1/acme/gw-001/ack ack-1" \
  "a gateway reads its own acks, and cannot publish acks itself"
check_eq "$WORK/other_gw_ack.txt" "" "a gateway cannot read another gateway's acks"
check_eq "$WORK/other_tenant.txt" "" "a gateway cannot read another tenant's topics"
grep -q "Not authorized" "$WORK/pub_forged.err" || fail "forged publish was not refused"
echo "ok: publishing under another gateway's prefix is refused (Not authorized)"
grep -q "Not authorized" "$WORK/pub_ack.err" || fail "a gateway's ack publish was not refused"
echo "ok: a gateway publishing an ack is refused"

if as acme/gw-001 wrong-password mosquitto_pub -q 1 -t edgesketch/v1/acme/gw-001/windows -m x \
  2>"$WORK/badpw.err"; then
  fail "a wrong password was accepted"
fi
echo "ok: a wrong password is refused"
if mosquitto_pub "${TLS[@]}" -q 1 -t edgesketch/v1/acme/gw-001/windows -m x 2>/dev/null; then
  fail "an anonymous client was accepted"
fi
echo "ok: anonymous clients are refused"
if mosquitto_pub -h 127.0.0.1 -p "$PORT" -u acme/gw-001 -P pw-gw-001 -q 1 -t t -m x \
  2>/dev/null; then
  fail "a plaintext connection was accepted"
fi
echo "ok: plaintext connections are refused"
echo "broker ACL test passed"
