#!/usr/bin/env bash
# Checks a systemd unit of packaging/systemd: `systemd-analyze verify` passes with ExecStart
# pointing at the freshly built binary, and `systemd-analyze security` rates its exposure <= 2.0.
#   systemd_unit_test.sh <source dir> <bin dir> <unit name, e.g. edgesketch-agent>
set -euo pipefail
SRC=$1 BIN=$2 UNIT=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[[ -x "$BIN/$UNIT" ]] || { echo "FAIL: $BIN/$UNIT not built" >&2; exit 1; }
sed "s|/usr/bin/$UNIT|$BIN/$UNIT|" "$SRC/packaging/systemd/$UNIT.service" >"$WORK/$UNIT.service"
if ! out=$(systemd-analyze verify "$WORK/$UNIT.service" 2>&1) || [[ -n "$out" ]]; then
  echo "FAIL: systemd-analyze verify $UNIT.service:" >&2
  echo "$out" >&2
  exit 1
fi
echo "ok: systemd-analyze verify $UNIT.service"
line=$(systemd-analyze security --offline=true "$SRC/packaging/systemd/$UNIT.service" 2>&1 | tail -1)
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$line")
[[ -n "$score" ]] || { echo "FAIL: no exposure level in: $line" >&2; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "FAIL: exposure $score > 2.0" >&2; exit 1; }
echo "ok: exposure level of $UNIT.service is $score (<= 2.0)"
