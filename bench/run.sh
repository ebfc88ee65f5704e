#!/usr/bin/env bash
# highwater's benchmarks, all in one run, against Node and the usual tools.
#
#   bash bench/run.sh            # 1 GiB file, 5 runs per command
#   SIZE_MIB=256 RUNS=3 bash bench/run.sh
#
# Prints markdown tables: in-memory stream throughput (highwater vs Node,
# same case names, two interleaved rounds of medians of 5, one process per
# case and round, Rust peers without highwater in the same run),
# allocations per operation in steady
# state (bench/src/bin/allocs.rs) and, with CALLGRIND=1, instructions per
# operation (bench/callgrind.sh); whole-process file copies (median, min, max
# wall time over RUNS runs, throughput from the median, peak RSS from
# /usr/bin/time); scaling: highwater copy against dd from 64 MiB to 4 GiB
# (SCALE_MIB="64 256 1024 4096") and writes/s from 10^5 to 10^8 writes on
# one stream; the low-water mark (bench/src/bin/lwm.rs); and the same file
# sent over loopback TCP by a sender process to a receiver process (time
# from the sender's start to the receiver's exit; each side's peak RSS).
# Last, an echo server under load (highwater's bench/src/bin/echo_server.rs
# against Node's bench/node/echo_server.mjs, driven by
# bench/src/bin/echo_load.rs): many small streams at C = 100, 1000, 10000
# connections, C = 10 streams of ECHO_MIB (default 64) MiB, and C = 100 slow
# readers; server CPU, peak RSS, peak buffered bytes and errors.
# Then file → NATS JetStream → file against a plain async-nats loop and
# loopback TCP (bench/nats.sh; skipped where nats-server is missing).
# NATS_ONLY=1 runs only that table, NET_ONLY=1 only the loopback table,
# COPY_ONLY=1 only the file copy table, ECHO_ONLY=1 only the echo table,
# MEM_ONLY=1 only the in-memory tables. The machine is shared and noisy:
# compare the rows of one run with each other, not with another day's.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/highwater-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if [ -n "${NATS_ONLY:-}" ]; then
  exec bash bench/nats.sh
fi
if [ -n "${MEM_ONLY:-}" ]; then
  cargo build -q --release -p highwater-bench
else
  cargo build -q --release -p highwater-bench -p highwater-cli
  cargo build -q --release -p highwater --example seed_copy
fi
BIN=target/release

field() { # a key=value line, a key: the value
  echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

echo_section() {
  # Each mode runs against a fresh server process (so that its peak RSS is
  # the mode's), highwater's first, then Node's. The servers print their
  # port, then their stats line when stdin closes.
  local big=${ECHO_MIB:-64}
  local modes=(
    "C=100 × 1 MiB|--conns 100 --bytes 1MiB"
    "C=1000 × 1 MiB|--conns 1000 --bytes 1MiB"
    "C=10000 × 64 KiB|--conns 10000 --bytes 64KiB"
    "C=10 × ${big} MiB|--conns 10 --bytes ${big}MiB --chunk 256KiB"
    "C=100 × 8 MiB, slow readers (32 KiB per 10 ms)|--conns 100 --bytes 8MiB --slow 32KiB:10"
  )
  echo "## Echo server under load (loopback, one server process per row, buffers sampled every ${ECHO_SAMPLE_MS:-5} ms; the C=10000 streams are only 64 KiB, to keep the section under a minute)"
  echo
  echo "| mode | server | connect | wall | throughput (echoed) | server CPU | server peak RSS | peak buffered, all sockets / one socket | errors (client / server) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  local entry label args server
  for entry in "${modes[@]}"; do
    label=${entry%%|*}; args=${entry#*|}
    for server in highwater node; do
      local cmd name
      if [ "$server" = highwater ]; then cmd=("$BIN/echo_server"); name=highwater; else cmd=(node bench/node/echo_server.mjs); name=Node; fi
      rm -f "$TMP/echo.in" "$TMP/echo.out" "$TMP/load.out" "$TMP/load.err"
      mkfifo "$TMP/echo.in"
      ECHO_SAMPLE_MS=${ECHO_SAMPLE_MS:-5} "${cmd[@]}" < "$TMP/echo.in" > "$TMP/echo.out" 2> "$TMP/echo.err" &
      local spid=$! port=""
      exec 3> "$TMP/echo.in"
      for _ in $(seq 1000); do
        port=$(head -1 "$TMP/echo.out")
        [ -n "$port" ] && break
        sleep 0.01
      done
      if [ -z "$port" ]; then
        echo "| $label | $name | server did not listen | | | | | | |"
        exec 3>&-; kill "$spid" 2> /dev/null; wait "$spid" 2> /dev/null || true; continue
      fi
      # shellcheck disable=SC2086 # args are words
      timeout 300 "$BIN/echo_load" --port "$port" --pid "$spid" $args > "$TMP/load.out" 2> "$TMP/load.err" || true
      exec 3>&-
      wait "$spid" 2> /dev/null || true
      local res stats
      res=$(grep '^result ' "$TMP/load.out" || true)
      stats=$(grep '^stats ' "$TMP/echo.out" || true)
      if [ -z "$res" ]; then
        echo "| $label | $name | load failed: $(head -1 "$TMP/load.err") | | | | | | |"; continue
      fi
      local cs ws bytes cerr cpu rss pb pbs serr
      cs=$(field "$res" connect_s); ws=$(field "$res" wall_s); bytes=$(field "$res" bytes)
      cerr=$(field "$res" errors); cpu=$(field "$res" server_cpu_s); rss=$(field "$res" server_peak_rss_kib)
      pb=$(field "$stats" peak_buffered); pbs=$(field "$stats" peak_buffered_socket); serr=$(field "$stats" errors)
      awk -v l="$label" -v n="$name" -v cs="$cs" -v ws="$ws" -v b="$bytes" -v cpu="$cpu" -v rss="$rss" \
          -v pb="${pb:-?}" -v pbs="${pbs:-?}" -v ce="$cerr" -v se="${serr:-?}" 'BEGIN {
        printf "| %s | %s | %.2f s | %.2f s | %.2f GB/s | %s s | %.1f MiB | %s / %s | %s / %s |\n", \
          l, n, cs, ws, b / ws / 1e9, cpu, rss / 1024, \
          (pb == "?" ? "?" : sprintf("%.0f KiB", pb / 1024)), (pbs == "?" ? "?" : sprintf("%.0f KiB", pbs / 1024)), ce, se }'
      [ -s "$TMP/load.err" ] && sed 's/^/    /' "$TMP/load.err" >&2
    done
  done
  echo
}

if [ -n "${ECHO_ONLY:-}" ]; then
  echo_section
  exit 0
fi

mem_section() {
  # Two rounds of every case, Rust and Node interleaved case by case (Rust,
  # Node, Rust, Node), so a slow spell of the machine hits both sides. Each
  # case runs in a fresh process: Node's JIT then sees only that case's code
  # (in one process, a case's speed depends on the cases before it). Each
  # cell is the two rounds' medians (each a median of 5 runs in one
  # process); the ratio is per round.
  # A Rust peer's ratio is the named highwater case's rate over the peer's.
  echo "## In memory (operations per second: the medians of two interleaved rounds, each a median of 5 runs in a fresh process)"
  echo
  echo "| case | highwater | Node | ratio |"
  echo "|---|---:|---:|---:|"
  local round c
  node bench/node/mem.mjs --list > "$TMP/node-cases.txt"
  : > "$TMP/rust1.txt"; : > "$TMP/rust2.txt"; : > "$TMP/node1.txt"; : > "$TMP/node2.txt"
  for round in 1 2; do
    for c in $("$BIN/mem" --list); do
      "$BIN/mem" --median "$c" >> "$TMP/rust$round.txt"
      if grep -qx "$c" "$TMP/node-cases.txt"; then
        node bench/node/mem.mjs --median "$c" >> "$TMP/node$round.txt"
      fi
    done
  done
  awk '
    function m(x) { return sprintf("%.1f", x / 1e6) }
    function range(a, b) { return (m(a) == m(b)) ? m(a) : (a < b ? m(a) "–" m(b) : m(b) "–" m(a)) }
    function ratio(a, b) { return sprintf("%.2f", a / b) }
    function rr(a1, b1, a2, b2,   x, y) {
      x = ratio(a1, b1); y = ratio(a2, b2)
      return (x == y) ? x : (x + 0 < y + 0 ? x "–" y : y "–" x)
    }
    FNR == 1 { f++ }
    f == 1 { order[++k] = $1; r1[$1] = $2 }
    f == 2 { r2[$1] = $2 }
    f == 3 { n1[$1] = $2 }
    f == 4 { n2[$1] = $2 }
    END {
      # Each Rust peer against the highwater case doing the same work.
      twin["tokio_mpsc_chain3_chunks"] = "chain3_chunks"
      twin["futures_stream_chain3_chunks"] = "chain3_chunks"
      twin["tokio_mpsc_objects"] = "object_mode_writes"
      twin["futures_mpsc_objects"] = "object_mode_writes"
      for (i = 1; i <= k; i++) {
        c = order[i]
        if (c in n1) {
          printf "| %s | %s M | %s M | %s× |\n", c, range(r1[c], r2[c]), range(n1[c], n2[c]), rr(r1[c], n1[c], r2[c], n2[c])
        } else {
          t = twin[c]
          printf "| %s (Rust peer) | %s M | | %s: %s× |\n", c, range(r1[c], r2[c]), t, rr(r1[t], r1[c], r2[t], r2[c])
        }
      }
    }' "$TMP/rust1.txt" "$TMP/rust2.txt" "$TMP/node1.txt" "$TMP/node2.txt"
  echo
  echo "## In memory: allocations per operation in steady state (bench/src/bin/allocs.rs)"
  echo
  echo "| case | allocations per operation |"
  echo "|---|---:|"
  "$BIN/allocs" | while read -r name per _ _; do
    echo "| ${name#allocs_per_op_} | $per |"
  done
  echo
  if [ -n "${CALLGRIND:-}" ]; then
    echo "## In memory: instructions per operation (callgrind, bench/callgrind.sh)"
    echo
    echo "| case | instructions per operation |"
    echo "|---|---:|"
    NOBUILD=1 bash bench/callgrind.sh | while read -r name per; do
      case $name in tokio_* | futures_*) name="$name (Rust peer)" ;; esac
      echo "| $name | $per |"
    done
    echo
  fi
}

if [ -n "${MEM_ONLY:-}" ]; then
  mem_section
  exit 0
fi

if [ -z "${NET_ONLY:-}${COPY_ONLY:-}" ]; then
  mem_section
fi

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$TMP/in.bin"
cat "$TMP/in.bin" > /dev/null   # page cache warm

run() { # name, command... (IN and OUT are substituted)
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -f "$TMP/out.bin"
    local cmd=("${@//IN/$TMP/in.bin}"); cmd=("${cmd[@]//OUT/$TMP/out.bin}")
    /usr/bin/time -f "%e %M" -o "$TMP/time.txt" "${cmd[@]}" > /dev/null 2>&1 || { echo "| $name | failed | | | |"; return; }
    read -r t m < "$TMP/time.txt"
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
    cmp -s "$TMP/in.bin" "$TMP/out.bin" || { echo "| $name | WRONG OUTPUT | | | |"; return; }
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  lo=$(echo "$sorted" | head -1); hi=$(echo "$sorted" | tail -1)
  gbs=$(awk -v s="$SIZE_MIB" -v t="$med" 'BEGIN { printf "%.2f", s * 1048576 / t / 1e9 }')
  printf "| %s | %s s | [%s, %s] | %s GB/s | %.1f MiB |\n" "$name" "$med" "$lo" "$hi" "$gbs" "$(echo "$rss / 1024" | bc -l)"
}

if [ -z "${NET_ONLY:-}" ]; then
echo "## File copy, ${SIZE_MIB} MiB, page cache warm ($RUNS runs)"
echo
echo "| command | median | [min, max] | throughput | peak RSS |"
echo "|---|---:|---|---:|---:|"
run "highwater copy (defaults: 256 KiB reads, 1 MiB mark)" "$BIN/highwater" copy IN OUT
run "highwater copy -c 64KiB -w 256KiB" "$BIN/highwater" copy IN OUT -c 64KiB -w 256KiB
run "highwater copy -c 1MiB -w 4MiB" "$BIN/highwater" copy IN OUT -c 1MiB -w 4MiB
run "highwater seed_copy (seed's shape)" "$BIN/examples/seed_copy" IN OUT
run "highwater seed_copy --idiomatic (Pipeline)" "$BIN/examples/seed_copy" IN OUT --idiomatic
run "Node seed program" node bench/node/seed.mjs IN OUT
run "Node pipe (defaults)" node bench/node/pipe.mjs IN OUT
run "Node pipeline (defaults)" node bench/node/pipeline.mjs IN OUT
run "dd bs=1M" dd if=IN of=OUT bs=1M
run "plain Rust 1 MiB loop" "$BIN/plain_copy" IN OUT
run "tokio::io::copy" "$BIN/tokio_copy" IN OUT
if command -v pv > /dev/null; then run "pv" sh -c "pv -q IN > OUT"; fi
# mbuffer as it is used in a pipeline, with highwater's read size: its own
# -o FILE output was 5-20x slower here (it writes files differently).
if command -v mbuffer > /dev/null; then run "mbuffer -s 256k -m 2M" sh -c "mbuffer -q -s 256k -m 2M < IN > OUT"; fi
run "cat" sh -c "cat IN > OUT"
fi

if [ -z "${NET_ONLY:-}${COPY_ONLY:-}" ]; then

echo
echo "## Scaling: file size (highwater copy and dd bs=1M, median of $RUNS)"
echo
echo "| size | highwater copy | dd bs=1M | ratio | highwater peak RSS |"
echo "|---:|---:|---:|---:|---:|"
best() { # prints "median_seconds max_rss_kib" of RUNS runs of a command
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -f "$TMP/scale-out.bin"
    /usr/bin/time -f "%e %M" -o "$TMP/time.txt" "$@" > /dev/null 2>&1 || { echo "0 0"; return; }
    read -r t m < "$TMP/time.txt"
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  printf '%s\n' "${times[@]}" | sort -g | awk -v r="$rss" '{a[NR]=$1} END {print a[int((NR+1)/2)], r}'
}
for mib in ${SCALE_MIB:-64 256 1024 4096}; do
  rm -f "$TMP/scale-in.bin"
  # Built from the random input, so every size has the same kind of data.
  while [ "$(stat -c %s "$TMP/scale-in.bin" 2>/dev/null || echo 0)" -lt $((mib * 1048576)) ]; do
    cat "$TMP/in.bin" >> "$TMP/scale-in.bin"
  done
  truncate -s $((mib * 1048576)) "$TMP/scale-in.bin"
  cat "$TMP/scale-in.bin" > /dev/null
  read -r hw_t hw_rss < <(best "$BIN/highwater" copy "$TMP/scale-in.bin" "$TMP/scale-out.bin")
  cmp -s "$TMP/scale-in.bin" "$TMP/scale-out.bin" || echo "| $mib MiB | WRONG OUTPUT | | | |"
  read -r dd_t _ < <(best dd if="$TMP/scale-in.bin" of="$TMP/scale-out.bin" bs=1M)
  awk -v m="$mib" -v a="$hw_t" -v b="$dd_t" -v r="$hw_rss" 'BEGIN {
    printf "| %d MiB | %.2f GB/s | %.2f GB/s | %.2f× | %.1f MiB |\n", m, m * 1048576 / a / 1e9, m * 1048576 / b / 1e9, b / a, r / 1024 }'
  rm -f "$TMP/scale-in.bin" "$TMP/scale-out.bin"
done

echo
echo "## Scaling: number of writes (in memory, synchronous sink, one run each)"
echo
echo "| writes | highwater writes/s |"
echo "|---:|---:|"
"$BIN/mem" scale | while read -r n rate; do
  printf "| %s | %.1f M |\n" "$n" "$(echo "$rate / 1000000" | bc -l)"
done

echo
echo "## Low-water mark: a producer that takes 5 ms to resume, a device taking ~1 ms per 64 KiB chunk, mark 16 chunks"
echo
echo "| 'drain' at | chunks/s | device idle |"
echo "|---|---:|---:|"
"$BIN/lwm" | while read -r label rate idle; do
  printf "| %s | %s | %s %% |\n" "${label//_/ }" "$rate" "$idle"
done
echo
fi

net_run() { # name, program... (run as `program recv 127.0.0.1:0 OUT` and `program send ADDR IN`)
  local name=$1; shift
  local times=() srss=0 rrss=0
  for _ in $(seq "$RUNS"); do
    rm -f "$TMP/out.bin"
    : > "$TMP/recv.err"
    /usr/bin/time -f "%M" -o "$TMP/rtime.txt" "$@" recv 127.0.0.1:0 "$TMP/out.bin" > /dev/null 2> "$TMP/recv.err" &
    local rpid=$! addr=""
    for _ in $(seq 1000); do
      addr=$(sed -n 's/^listening on //p' "$TMP/recv.err" | head -1)
      [ -n "$addr" ] && break
      sleep 0.01
    done
    [ -n "$addr" ] || { echo "| $name | receiver did not listen | | | | |"; kill "$rpid" 2> /dev/null; wait "$rpid" 2> /dev/null; return; }
    local t0 t1
    t0=$(date +%s.%N)
    if ! /usr/bin/time -f "%M" -o "$TMP/stime.txt" "$@" send "$addr" "$TMP/in.bin" > /dev/null 2>&1; then
      echo "| $name | sender failed | | | | |"; kill "$rpid" 2> /dev/null; wait "$rpid" 2> /dev/null; return
    fi
    wait "$rpid" || { echo "| $name | receiver failed | | | | |"; return; }
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    read -r m < "$TMP/stime.txt"; [ "$m" -gt "$srss" ] && srss=$m
    m=$(tail -1 "$TMP/rtime.txt"); [ "$m" -gt "$rrss" ] && rrss=$m
    cmp -s "$TMP/in.bin" "$TMP/out.bin" || { echo "| $name | WRONG OUTPUT | | | | |"; return; }
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  lo=$(echo "$sorted" | head -1); hi=$(echo "$sorted" | tail -1)
  gbs=$(awk -v s="$SIZE_MIB" -v t="$med" 'BEGIN { printf "%.2f", s * 1048576 / t / 1e9 }')
  printf "| %s | %s s | [%s, %s] | %s GB/s | %.1f MiB | %.1f MiB |\n" "$name" "$med" "$lo" "$hi" "$gbs" \
    "$(echo "$srss / 1024" | bc -l)" "$(echo "$rrss / 1024" | bc -l)"
}

[ -n "${COPY_ONLY:-}" ] && exit 0
echo "## Loopback TCP, ${SIZE_MIB} MiB file to file, two processes ($RUNS runs)"
echo
echo "| sender / receiver | median | [min, max] | throughput | sender peak RSS | receiver peak RSS |"
echo "|---|---:|---|---:|---:|---:|"
net_run "highwater send / recv (defaults)" "$BIN/highwater"
net_run "tokio::io::copy, tokio::fs + TcpStream" "$BIN/tokio_net"
net_run "tokio::io::copy_buf, 1 MiB BufReader" "$BIN/tokio_net" --buf
net_run "Node net + fs streams, pipeline" node bench/node/net.mjs
echo
[ -n "${NET_ONLY:-}" ] || echo_section
[ -n "${NET_ONLY:-}${COPY_ONLY:-}" ] || bash bench/nats.sh
