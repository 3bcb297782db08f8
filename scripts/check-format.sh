#!/usr/bin/env bash
# The Swift code is formatted as .swift-format says (4 spaces, 120 columns): `swift format lint --strict`, plus no
# line over 120 columns, which the linter lets through inside string literals and comments. Fix with
# `swift format format -i FILE...`, and wrap long strings and comments by hand. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
while IFS= read -r file; do
    [ -f "$file" ] && files+=("$file")  # tracked files deleted in the work tree are not there to lint
done < <(git ls-files --cached --others --exclude-standard '*.swift')
swift format lint --strict --parallel "${files[@]}"
python3 - "${files[@]}" <<'PY'
import sys

long = [f"{path}:{number}: {len(line)} columns" for path in sys.argv[1:]
        for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1) if len(line) > 120]
if long:
    sys.exit("check-format: lines over 120 columns:\n" + "\n".join(long))
PY
