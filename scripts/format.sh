#!/usr/bin/env bash
# The one format (.swift-format, swift-format from the Swift toolchain: 4 spaces, 120 columns, ordered imports).
#   scripts/format.sh           formats every Swift file in place
#   scripts/format.sh --check   changes nothing; lists the files the formatter would change, and the lint rules'
#                               findings, and fails on any
# scripts/test.sh runs the check, so the tree stays formatted.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every tracked Swift file but the fuzz package's links to the main package's own directories and files.
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.swift' | while read -r f; do [ -L "$f" ] || [ ! -f "$f" ] || echo "$f"; done \
  | grep -vE '^Fuzz/Sources/(ChatCore|CICU|CHiredis)/')
if [ "${1:-}" = "--check" ]; then
  unformatted=()
  for f in "${files[@]}"; do
    swift format "$f" | cmp -s - "$f" || unformatted+=("$f")
  done
  if [ ${#unformatted[@]} -gt 0 ]; then
    printf 'not formatted (scripts/format.sh fixes it): %s\n' "${unformatted[@]}" >&2
    exit 1
  fi
  # The configuration's lint rules too (one case per line, ASCII identifiers...): warnings fail the check.
  swift format lint --strict --parallel "${files[@]}"
  echo "format: ${#files[@]} files as .swift-format has them, lint clean"
else
  swift format --in-place --parallel "${files[@]}"
fi
