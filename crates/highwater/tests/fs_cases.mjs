// The file-stream cases of tests/fs_streams.rs, run by Node: prints one
// line per observable event, in order, for the Rust test to compare with.
// Usage: node fs_cases.mjs DIR   (DIR: a scratch folder the test prepared)
import fs from 'node:fs';

const dir = process.argv[2];
const out = [];
const log = (s) => out.push(s);
const rel = (p) => (p ? String(p).replace(dir, '<dir>') : p);
const err = (e) => `${e.code} ${e.syscall} ${rel(e.path) ?? '-'} ${rel(e.message)}`;
const tick = () => new Promise((r) => setImmediate(r));
const settle = (s) => new Promise((r) => s.on('close', r));

function watchRead(name, r) {
  r.on('open', () => log(`${name} open`));
  r.on('ready', () => log(`${name} ready`));
  r.on('data', (c) => log(`${name} data ${JSON.stringify(String(c))} bytesRead=${r.bytesRead}`));
  r.on('end', () => log(`${name} end`));
  r.on('error', (e) => log(`${name} error ${err(e)}`));
  r.on('close', () => log(`${name} close pending=${r.pending}`));
}

function watchWrite(name, w) {
  w.on('open', () => log(`${name} open`));
  w.on('ready', () => log(`${name} ready`));
  w.on('drain', () => log(`${name} drain`));
  w.on('finish', () => log(`${name} finish bytesWritten=${w.bytesWritten}`));
  w.on('error', (e) => log(`${name} error ${err(e)}`));
  w.on('close', () => log(`${name} close pending=${w.pending}`));
}

// 1. A whole file in chunks of the mark.
{
  const r = fs.createReadStream(`${dir}/hello.txt`, { highWaterMark: 5 });
  log(`read pending=${r.pending}`);
  watchRead('read', r);
  await settle(r);
}
// 2. A missing file: 'error' then 'close', no 'open'.
{
  const r = fs.createReadStream(`${dir}/missing.txt`);
  watchRead('enoent', r);
  r.resume();
  await settle(r);
}
// 3. A directory opens, then fails on the first read.
{
  const r = fs.createReadStream(`${dir}/sub`);
  watchRead('eisdir', r);
  await settle(r);
}
// 4. start/end (inclusive) with a small mark.
{
  const r = fs.createReadStream(`${dir}/hello.txt`, { start: 6, end: 10, highWaterMark: 2 });
  watchRead('range', r);
  await settle(r);
}
// 5. Writes before 'open' are buffered and written together.
{
  const w = fs.createWriteStream(`${dir}/out.txt`, { highWaterMark: 4 });
  watchWrite('write', w);
  log(`write write(abc)=${w.write('abc', (e) => log(`write cb abc ${e ? e.code : null} bytesWritten=${w.bytesWritten}`))}`);
  log(`write write(defg)=${w.write('defg', (e) => log(`write cb defg ${e ? e.code : null} bytesWritten=${w.bytesWritten}`))}`);
  w.end('h', (e) => log(`write end cb ${e ? e.code : null}`));
  await settle(w);
  log(`write content ${JSON.stringify(fs.readFileSync(`${dir}/out.txt`, 'utf8'))}`);
}
// 6. Opening fails: queued write callbacks first, then 'error', 'close'.
{
  const w = fs.createWriteStream(`${dir}/no/such/dir.txt`);
  watchWrite('wenoent', w);
  w.write('x', (e) => log(`wenoent cb ${e ? e.code : null}`));
  await settle(w);
}
// 7. A full disk: the write fails with ENOSPC.
{
  const w = fs.createWriteStream('/dev/full');
  watchWrite('full', w);
  w.write('x', (e) => log(`full cb ${e ? e.code : null}`));
  await settle(w);
}
// 8. start: positional writes into an existing file (flags r+).
{
  fs.writeFileSync(`${dir}/patch.txt`, 'aaaaaaaaaa');
  const w = fs.createWriteStream(`${dir}/patch.txt`, { flags: 'r+', start: 3 });
  watchWrite('patch', w);
  w.write('XY');
  w.end('Z');
  await settle(w);
  log(`patch content ${JSON.stringify(fs.readFileSync(`${dir}/patch.txt`, 'utf8'))}`);
}
await tick();
console.log(out.join('\n'));
