// Node's side of bench/src/bin/mem.rs: the same cases, same sizes,
// printed as `case rate min max` (median of 5 runs).
import { Writable, Readable, PassThrough } from 'node:stream';

const N = 5_000_000;
const CHAIN = 500_000;

async function median(runs, ops, f) {
  const rates = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f();
    rates.push(ops / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return [rates[rates.length >> 1], rates[0], rates[rates.length - 1]];
}
const tick = () => new Promise((r) => setImmediate(r));

async function syncSink() {
  const w = new Writable({ highWaterMark: 16384, write(c, e, cb) { cb(); } });
  const chunk = Buffer.alloc(64, 120);
  for (let i = 0; i < N; i++) w.write(chunk);
  await tick();
}

async function laterSink() {
  let pending = null;
  const w = new Writable({ highWaterMark: 16384, write(c, e, cb) { pending = cb; } });
  const chunk = Buffer.alloc(64, 120);
  let n = 0;
  while (n < N / 5) {
    while (n < N / 5 && w.write(chunk)) n++;
    while (pending) { const cb = pending; pending = null; cb(); }
    await tick();
  }
}

// The sink completes each write on a later turn of the event loop.
async function nextTurnSink() {
  await new Promise((res) => {
    const w = new Writable({ highWaterMark: 16384, write(c, e, cb) { setImmediate(cb); } });
    const chunk = Buffer.alloc(64, 120);
    let n = 0;
    const go = () => {
      while (n < N / 5) { n++; if (!w.write(chunk)) { w.once('drain', go); return; } }
      w.on('finish', res);
      w.end();
    };
    go();
  });
}

async function objectMode() {
  const w = new Writable({ objectMode: true, write(c, e, cb) { cb(); } });
  for (let i = 0; i < N; i++) w.write(i);
  await tick();
}

async function chain() {
  let left = CHAIN;
  const chunk = Buffer.alloc(64 * 1024);
  const r = new Readable({ highWaterMark: 256 * 1024, read() { if (left === 0) this.push(null); else { left--; this.push(chunk); } } });
  const t = new PassThrough({ highWaterMark: 256 * 1024 });
  const w = new Writable({ highWaterMark: 256 * 1024, write(c, e, cb) { cb(); } });
  await new Promise((res) => { w.on('finish', res); r.pipe(t).pipe(w); });
}

const out = (name, [m, lo, hi]) => console.log(`${name} ${m.toFixed(0)} ${lo.toFixed(0)} ${hi.toFixed(0)}`);
out('sync_sink_writes', await median(5, N, syncSink));
out('later_sink_writes', await median(5, N / 5, laterSink));
out('next_turn_sink_writes', await median(5, N / 5, nextTurnSink));
out('object_mode_writes', await median(5, N, objectMode));
out('readable_transform_writable_chunks', await median(5, CHAIN, chain));
