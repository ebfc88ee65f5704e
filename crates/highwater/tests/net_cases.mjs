// The socket cases of tests/net.rs, run by Node: prints, per case, the
// events of the client socket and then those of the server's socket, in
// order, for the Rust test to compare with. (Events of different sockets
// are kept apart: how they interleave depends on the kernel's timing.)
// Usage: node net_cases.mjs
import net from 'node:net';

const out = [];
let port = 0;
const fmt = (s) => s.replaceAll(`:${port}`, ':PORT');
const err = (e) => `error ${e.code} ${e.syscall} ${fmt(e.message)}`;
const closed = (s) => new Promise((r) => (s.destroyed && s.closed ? r() : s.on('close', r)));

function watch(log, s, extra) {
  s.on('connect', () => log('connect'));
  s.on('ready', () => log('ready'));
  s.on('data', (d) => log(`data ${d.length}`));
  s.on('end', () => log('end'));
  s.on('finish', () => log('finish'));
  s.on('error', (e) => log(err(e)));
  s.on('close', (hadError) => log(`close ${hadError}${extra ? ' ' + extra() : ''}`));
}

async function runCase(name, serverOpts, onServerSocket, onClient) {
  const client = [], server = [];
  let accepted;
  const srv = net.createServer(serverOpts, (s) => {
    accepted = s;
    watch((l) => server.push(l), s, () => `bytesRead=${s.bytesRead}`);
    onServerSocket(s);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  port = srv.address().port;
  const c = net.connect(port, '127.0.0.1');
  watch((l) => client.push(l), c, () => `bytesWritten=${c.bytesWritten}`);
  onClient(c, (l) => client.push(l));
  await closed(c);
  while (!accepted) await new Promise((r) => setImmediate(r));
  await closed(accepted);
  srv.close();
  for (const l of client) out.push(`${name} client ${l}`);
  for (const l of server) out.push(`${name} server ${l}`);
}

// A write before the connection, end() once connected; the server's side
// ends itself after 'end' (allowHalfOpen false).
await runCase('basic', {}, () => {}, (c, log) => {
  log(`write ${c.write('hello')} length=${c.writableLength} connecting=${c.connecting}`);
  c.on('connect', () => c.end());
});

// allowHalfOpen on the server: after the client's FIN it still writes.
await runCase('halfopen', { allowHalfOpen: true }, (s) => {
  s.on('end', () => s.end('bye'));
}, (c) => {
  c.on('connect', () => c.end());
});

// The server resets the connection when the data comes.
await runCase('reset', {}, (s) => {
  s.on('data', () => s.resetAndDestroy());
}, (c) => {
  c.on('connect', () => c.write('x'));
});

// Refused: a port nobody listens on.
{
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  port = srv.address().port;
  await new Promise((r) => srv.close(r));
  const client = [];
  const c = net.connect(port, '127.0.0.1');
  watch((l) => client.push(l), c);
  await closed(c);
  for (const l of client) out.push(`refused client ${l}`);
}

// A port in use.
{
  const a = net.createServer();
  await new Promise((r) => a.listen(0, '127.0.0.1', r));
  port = a.address().port;
  const b = net.createServer();
  const e = await new Promise((r) => { b.on('error', r); b.listen(port, '127.0.0.1'); });
  out.push(`inuse server ${err(e)} listening=${b.listening}`);
  a.close();
}

console.log(out.join('\n'));
