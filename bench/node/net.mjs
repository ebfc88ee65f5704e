// A file over TCP with Node's net and fs streams and stream.pipeline, the
// twin of `highwater send` / `highwater recv`:
//   node net.mjs recv HOST:PORT OUT   (prints "listening on ADDR" on stderr)
//   node net.mjs send HOST:PORT IN
import fs from 'node:fs';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
const [mode, addr, path] = process.argv.slice(2);
const i = addr.lastIndexOf(':');
const host = addr.slice(0, i), port = Number(addr.slice(i + 1));
if (mode === 'recv') {
  const server = net.createServer();
  server.listen(port, host, () => {
    const a = server.address();
    process.stderr.write(`listening on ${a.address}:${a.port}\n`);
  });
  const [socket] = await new Promise((resolve) => server.once('connection', (s) => resolve([s])));
  server.close();
  await pipeline(socket, fs.createWriteStream(path));
} else {
  const socket = net.connect(port, host);
  await pipeline(fs.createReadStream(path), socket);
}
