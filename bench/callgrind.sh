#!/usr/bin/env bash
# Instructions per operation of every highwater in-memory case
# (bench/src/cases.rs), counted by callgrind, which is stable where wall
# times are not. Each case runs twice under valgrind, as
# `target/release/mem CASE N` and `target/release/mem CASE 2N`; the line
# `CASE INSTR_PER_OP` gives (Ir(2N) - Ir(N)) / N, so setup and teardown
# (runtime, streams, process start) cancel out. The Rust peers (no
# highwater) follow, for reference, unless NOPEERS=1.
#
#   bash bench/callgrind.sh              # every case (about a minute)
#   bash bench/callgrind.sh CASE...      # some cases
#   NOBUILD=1 bash bench/callgrind.sh    # use target/release/mem as it is
#   NODE=1 bash bench/callgrind.sh CASE... # Node's twin (bench/node/mem.mjs)
#
# With NODE=1 the same difference is taken for `node bench/node/mem.mjs
# CASE N` (callgrind follows V8's generated code with --smc-check), with N
# 20 times larger: V8 keeps tiering up well past the first million writes
# under valgrind (sync_sink_fn_writes: 1,179 instructions per write between
# 1 M and 2 M, 378 between 2 M and 4 M, 356 between 4 M and 8 M), and the
# difference only cancels the warm-up once both runs are past it. Slow
# (minutes per case); no Rust peers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${NOBUILD:-}${NODE:-}" ] || cargo build -q --release -p highwater-bench --bin mem
TMP=$(mktemp -d "${TMPDIR:-/tmp}/highwater-callgrind.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# N per case: enough operations that the difference dwarfs any noise of
# the setup, few enough that the whole script stays short.
declare -A COUNT=(
  [sync_sink_fn_writes]=200000
  [sync_sink_impl_writes]=200000
  [later_sink_writes]=200000
  [next_turn_sink_writes]=20000
  [object_mode_writes]=200000
  [pipe_chunks]=20000
  [chain3_chunks]=20000
  [fanout3_chunks]=20000
  [object_pipeline_items]=100000
  [tokio_mpsc_chain3_chunks]=20000
  [tokio_mpsc_objects]=200000
  [futures_mpsc_objects]=200000
  [futures_stream_chain3_chunks]=20000
)
ORDER=(sync_sink_fn_writes sync_sink_impl_writes later_sink_writes next_turn_sink_writes
  object_mode_writes pipe_chunks chain3_chunks fanout3_chunks object_pipeline_items)
[ -n "${NOPEERS:-}${NODE:-}" ] || ORDER+=(tokio_mpsc_chain3_chunks tokio_mpsc_objects futures_mpsc_objects
  futures_stream_chain3_chunks)
[ $# -gt 0 ] && ORDER=("$@")

ir() { # case, n: the total instructions of one run
  if [ -n "${NODE:-}" ]; then
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$TMP/cg.out" \
      node bench/node/mem.mjs "$1" "$2" > /dev/null 2>&1
  else
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
      target/release/mem "$1" "$2" > /dev/null 2>&1
  fi
  sed -n 's/^summary: //p; s/^totals: //p' "$TMP/cg.out" | head -1 | awk '{print $1}'
}

for c in "${ORDER[@]}"; do
  n=${COUNT[$c]:-20000}
  [ -z "${NODE:-}" ] || n=$((20 * n))
  one=$(ir "$c" "$n")
  two=$(ir "$c" $((2 * n)))
  awk -v c="$c" -v a="$one" -v b="$two" -v n="$n" 'BEGIN { printf "%s %.1f\n", c, (b - a) / n }'
done
