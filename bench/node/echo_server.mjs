// Node's echo server, the twin of bench/src/bin/echo_server.rs, same protocol:
//   node echo_server.mjs [HOST:PORT]      (default 127.0.0.1:0)
// Prints the bound port on stdout once listening; when stdin is closed or on
// SIGTERM / SIGINT prints
//   stats connections=N closed=N errors=N peak_buffered=B peak_buffered_socket=B
// and exits. peak_buffered is the largest sum over the open sockets of
// writableLength + readableLength seen by a sampler every ECHO_SAMPLE_MS ms
// (default 20); peak_buffered_socket the largest value of one socket.
import net from 'node:net';

const addr = process.argv[2] ?? '127.0.0.1:0';
const i = addr.lastIndexOf(':');
const host = addr.slice(0, i), port = Number(addr.slice(i + 1));
const every = Math.max(1, Number(process.env.ECHO_SAMPLE_MS ?? 20) || 20);

let connections = 0, closed = 0, errors = 0, peakBuffered = 0, peakSocket = 0;
const open = new Set();

function sample() {
  let total = 0;
  for (const s of open) {
    const b = s.writableLength + s.readableLength;
    total += b;
    if (b > peakSocket) peakSocket = b;
  }
  if (total > peakBuffered) peakBuffered = total;
}

const server = net.createServer((s) => {
  s.pipe(s); // the echo
  connections++;
  open.add(s);
  s.on('error', () => { errors++; });
  s.on('close', () => {
    const b = s.writableLength + s.readableLength;
    if (b > peakSocket) peakSocket = b;
    closed++;
    open.delete(s);
  });
});
server.on('error', (e) => { console.error(`echo_server.mjs: ${e.message}`); errors++; });
server.listen(port, host, () => {
  process.stdout.write(`${server.address().port}\n`);
});
const sampler = setInterval(sample, every);

let stopped = false;
function stop() {
  if (stopped) return;
  stopped = true;
  clearInterval(sampler);
  sample();
  server.close();
  process.stdout.write(
    `stats connections=${connections} closed=${closed} errors=${errors} ` +
    `peak_buffered=${peakBuffered} peak_buffered_socket=${peakSocket}\n`,
    () => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
