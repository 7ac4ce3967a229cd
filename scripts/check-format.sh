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
# One clang-format process for all files; its diagnostics name each file that differs.
if ! out="$(clang-format --dry-run -Werror "${files[@]}" 2>&1)"; then
  printf 'not formatted (run scripts/check-format.sh --fix):\n' >&2
  grep -oE '^[^:]+:[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u | sed 's/^/  /' >&2
  exit 1
fi
echo "${#files[@]} files formatted"
