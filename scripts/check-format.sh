#!/usr/bin/env bash
# Fails, listing the files, when a C or C++ source file of the project does not match
# .clang-format. Usage: scripts/check-format.sh [--fix]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mapfile -d '' files < <(find agent bench collector common firmware-sim proto sketch tests \
  -type f \( -name '*.cc' -o -name '*.h' -o -name '*.c' \) -print0 | sort -z)
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'not formatted (run scripts/check-format.sh --fix):\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "${#files[@]} files formatted"
