#!/usr/bin/env bash
# The demo: builds mhs and checks the bundled example results against the Techcyte
# contract, then shows what a broken body looks like to the validator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product mhs >/dev/null
mhs=$(swift build --show-bin-path)/mhs
for f in Examples/results/*.json; do "$mhs" validate --scan-ids 8061860 "$f"; done
echo
echo "A body with the mistakes the platform rejects (exit status 1 expected):"
"$mhs" validate - <<'JSON' || true
{"scanResults":[{"scanId":"8061860","results":{"summary":4},
 "geojson":{"type":"FeatureCollection","features":[
  {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,9]]]},"properties":{}}]},
 "workflow":{"model_name":"demo","provider":"mhs","ruo":"yes","report":{"type":"Fancy"}}}]}
JSON
