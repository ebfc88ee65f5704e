#!/usr/bin/env bash
# Regenerates conformance/scenarios/NAME.trace.jsonl beside every
# conformance/scenarios/NAME.json by running the Node reference runner.
# Run from the repository root:  bash conformance/node/regen.sh
# Optional arguments: only these scenario files (e.g. conformance/scenarios/x.json).
set -euo pipefail

if [ ! -f conformance/node/runner.mjs ]; then
  echo "regen.sh: run me from the repository root" >&2
  exit 2
fi

echo "node $(node --version)" >&2
if [ "$#" -gt 0 ]; then files=("$@"); else files=(conformance/scenarios/*.json); fi

failed=0
for json in "${files[@]}"; do
  trace="${json%.json}.trace.jsonl"
  tmp="${trace}.tmp"
  if node conformance/node/runner.mjs "$json" > "$tmp"; then
    mv "$tmp" "$trace"
    echo "ok    $trace" >&2
  else
    rm -f "$tmp"
    echo "FAIL  $json (trace not written)" >&2
    failed=1
  fi
done
exit "$failed"
