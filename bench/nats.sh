#!/usr/bin/env bash
# File → NATS JetStream → file, two processes against one local nats-server
# (its own store in a temporary folder, loopback, killed at the end):
#
#   * highwater copy FILE nats://… and highwater copy nats://… OUT (the
#     defaults: 256 KiB chunks, a 1 MiB mark, so 4 publishes in flight and
#     fetches of up to 4 messages; framing, checksum, ack after the write);
#   * the plain async-nats loop (bench/src/bin/nats_loop.rs) with the same
#     sizes: 256 KiB chunks, 4 acks outstanding, fetches of 4;
#   * the same loop with wider windows (64 KiB chunks, 64 in flight, fetches
#     of 64), the figures verified on these machines;
#   * highwater send / recv over loopback TCP, for scale.
#
# Each row: the receiver starts first (it waits for the first message),
# then the sender; time from the sender's start until both have exited;
# the peak RSS of each (/usr/bin/time). Run by bench/run.sh (or alone:
# `SIZE_MIB=256 RUNS=3 bash bench/nats.sh`); skipped where nats-server is
# not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
if [ ! -x "$NATS" ]; then
  echo "## File → NATS JetStream → file: skipped (nats-server is not installed)"
  exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/highwater-nats-bench.XXXXXX")
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2> /dev/null && wait "$SERVER" 2> /dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

cargo build -q --release -p highwater-bench -p highwater-cli
BIN=target/release
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$TMP/in.bin"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$TMP/store" > "$TMP/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1000); do
  grep -q "Server is ready" "$TMP/server.log" && break
  sleep 0.01
done
URL="nats://127.0.0.1:$PORT"

# name, receiver command (OUT substituted), sender command (IN substituted)
pair() {
  local name=$1 recv=$2 send=$3
  local times=() srss=0 rrss=0 m
  for _ in $(seq "$RUNS"); do
    rm -f "$TMP/out.bin"
    # shellcheck disable=SC2086 # commands are words
    /usr/bin/time -f "%M" -o "$TMP/rtime.txt" ${recv//OUT/$TMP/out.bin} > /dev/null 2> "$TMP/recv.err" &
    local rpid=$! t0 t1
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    if ! /usr/bin/time -f "%M" -o "$TMP/stime.txt" ${send//IN/$TMP/in.bin} > /dev/null 2> "$TMP/send.err"; then
      echo "| $name | sender failed: $(head -1 "$TMP/send.err") | | | | |"; kill "$rpid" 2> /dev/null; wait "$rpid" 2> /dev/null; return
    fi
    wait "$rpid" || { echo "| $name | receiver failed: $(head -1 "$TMP/recv.err") | | | | |"; return; }
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    m=$(tail -1 "$TMP/stime.txt"); [ "$m" -gt "$srss" ] && srss=$m
    m=$(tail -1 "$TMP/rtime.txt"); [ "$m" -gt "$rrss" ] && rrss=$m
    cmp -s "$TMP/in.bin" "$TMP/out.bin" || { echo "| $name | WRONG OUTPUT | | | | |"; return; }
  done
  local sorted med lo hi
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  lo=$(echo "$sorted" | head -1); hi=$(echo "$sorted" | tail -1)
  awk -v n="$name" -v s="$SIZE_MIB" -v t="$med" -v lo="$lo" -v hi="$hi" -v a="$srss" -v b="$rrss" 'BEGIN {
    printf "| %s | %s s | [%s, %s] | %.0f MB/s | %.1f MiB | %.1f MiB |\n", n, t, lo, hi, s * 1048576 / t / 1e6, a / 1024, b / 1024 }'
}

# The streams exist before the receivers start (receiving from a stream
# that does not exist is an error): one small transfer through each.
head -c 1000 /dev/urandom > "$TMP/small.bin"
"$BIN/highwater" copy "$TMP/small.bin" "$URL/hwbench" 2> /dev/null
"$BIN/highwater" copy "$URL/hwbench" "$TMP/small.out" 2> /dev/null
for s in loop4 loop64; do
  "$BIN/nats_loop" pub "127.0.0.1:$PORT" "$s" "$TMP/small.bin" 1000 1 2> /dev/null
  "$BIN/nats_loop" sub "127.0.0.1:$PORT" "$s" "$TMP/small.out" 1 2> /dev/null
done

echo "## File → NATS JetStream → file, ${SIZE_MIB} MiB, one local nats-server ($("$NATS" --version)), two processes ($RUNS runs)"
echo
echo "| sender / receiver | median | [min, max] | throughput | sender peak RSS | receiver peak RSS |"
echo "|---|---:|---|---:|---:|---:|"
pair "highwater copy → nats:// → highwater copy (defaults: 256 KiB, mark 1 MiB)" \
  "$BIN/highwater copy $URL/hwbench OUT" "$BIN/highwater copy IN $URL/hwbench"
pair "highwater copy, --atomic receiver" \
  "$BIN/highwater copy $URL/hwbench OUT --atomic" "$BIN/highwater copy IN $URL/hwbench"
pair "plain async-nats loop, same sizes (256 KiB, 4 in flight, fetch 4)" \
  "$BIN/nats_loop sub 127.0.0.1:$PORT loop4 OUT 4" "$BIN/nats_loop pub 127.0.0.1:$PORT loop4 IN 262144 4"
pair "plain async-nats loop, wide windows (64 KiB, 64 in flight, fetch 64)" \
  "$BIN/nats_loop sub 127.0.0.1:$PORT loop64 OUT 64" "$BIN/nats_loop pub 127.0.0.1:$PORT loop64 IN 65536 64"
pair "highwater copy, -c 64KiB -w 4MiB (64 in flight, fetch 64)" \
  "$BIN/highwater copy $URL/hwbench OUT -c 64KiB -w 4MiB" "$BIN/highwater copy IN $URL/hwbench -c 64KiB -w 4MiB"

# Loopback TCP for scale: the receiver listens on a free port first; the
# sender retries until it is there (a refused connection sends nothing).
tcp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$TMP/tcp_send.sh" << EOF
until "$BIN/highwater" send 127.0.0.1:$tcp_port "\$1" 2> /dev/null; do sleep 0.01; done
EOF
pair "highwater send / recv over loopback TCP (no server)" \
  "$BIN/highwater recv 127.0.0.1:$tcp_port OUT" "bash $TMP/tcp_send.sh IN"
echo
