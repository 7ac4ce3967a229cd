#!/usr/bin/env bash
# Builds the .deb packages with CPack and checks them: expected files and conffiles, no lintian
# errors, and on this machine `dpkg -i` puts working binaries on the PATH and `dpkg --purge`
# removes them again. Needs root for the install step (CI runs as root).
#   deb_test.sh <build dir> <package>...
set -euo pipefail
BUILD=$1
shift
PACKAGES=("$@")
WORK=$(mktemp -d)
INSTALLED=()
cleanup() {
  for p in "${INSTALLED[@]}"; do dpkg --purge "$p" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$WORK" && cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/out" >"$WORK/cpack.log" 2>&1) ||
  { cat "$WORK/cpack.log" >&2; fail "cpack failed"; }

debs=()
for p in "${PACKAGES[@]}"; do
  deb=$(ls "$WORK/out/${p}"_*.deb 2>/dev/null | head -1)
  [[ -n "$deb" ]] || fail "no package $p was built (cpack output: $(ls "$WORK/out"))"
  debs+=("$deb")
  contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
  expect=("./usr/bin/$p" "./usr/share/doc/$p/copyright" "./usr/share/doc/$p/changelog.Debian.gz")
  conffiles=""
  if [[ $p != edgesketch-sim ]]; then
    daemon=${p#edgesketch-}
    expect+=("./lib/systemd/system/$p.service" "./usr/lib/sysusers.d/$p.conf"
             "./etc/edgesketch/$daemon.toml")
    conffiles="/etc/edgesketch/$daemon.toml"
  fi
  for f in "${expect[@]}"; do
    grep -qxF "$f" <<<"$contents" || fail "$p: $f is not in the package"
  done
  got_conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null || true)
  [[ "$got_conffiles" == "$conffiles" ]] || fail "$p: conffiles [$got_conffiles], expected [$conffiles]"
  echo "ok: $p contains ${#expect[@]} expected files; conffiles: ${conffiles:-none}"
  echo "    depends: $(dpkg-deb -f "$deb" Depends)"
  if lintian --version >/dev/null 2>&1; then
    lintian --no-tag-display-limit "$deb" >"$WORK/lintian.txt" 2>&1 || true
    if grep -q '^E:' "$WORK/lintian.txt"; then
      cat "$WORK/lintian.txt" >&2
      fail "$p: lintian reports errors"
    fi
    echo "ok: lintian reports no errors for $p ($(grep -c '^W:' "$WORK/lintian.txt" || true) warnings)"
  else
    fail "lintian is not installed (scripts/setup.sh installs it)"
  fi
done

[[ $(id -u) -eq 0 ]] || fail "the install check needs root (dpkg -i)"
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" &&
    fail "$p is already installed on this machine; refusing to touch it"
done
INSTALLED=("${PACKAGES[@]}")
dpkg -i "${debs[@]}" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i failed"; }
for p in "${PACKAGES[@]}"; do
  path=$(command -v "$p") || fail "$p is not on the PATH after dpkg -i"
  [[ $path == /usr/bin/$p ]] || fail "$p resolves to $path, not /usr/bin/$p"
  version=$("$p" --version) || fail "$p --version failed"
  echo "ok: installed $p: $version"
done
if [[ " ${PACKAGES[*]} " == *" edgesketch-agent "* || " ${PACKAGES[*]} " == *" edgesketch-collector "* ]]; then
  getent passwd edgesketch >/dev/null || fail "the edgesketch system user was not created"
  echo "ok: the edgesketch system user exists"
fi
dpkg --purge "${PACKAGES[@]}" >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "purge failed"; }
INSTALLED=()
for p in "${PACKAGES[@]}"; do
  [[ ! -e /usr/bin/$p ]] || fail "/usr/bin/$p is still there after purge"
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed" && fail "$p still installed"
done
[[ ! -e /etc/edgesketch/agent.toml && ! -e /etc/edgesketch/collector.toml ]] ||
  fail "conffiles remain after purge"
echo "ok: purge removed ${PACKAGES[*]}"
