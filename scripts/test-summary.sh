#!/bin/sh
# Prints one closing line "N passed, N failed" from Meson's test log, so
# that CI and people read the outcome of the whole suite at a glance.
set -eu
log="${1:-build}/meson-logs/testlog.json"
[ -f "$log" ] || { echo "test-summary: no $log" >&2; exit 1; }
python3 - "$log" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"check: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
