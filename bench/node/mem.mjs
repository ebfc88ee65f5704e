// Node's side of bench/src/bin/mem.rs: the same case names, sizes, marks,
// counts and completion discipline (see bench/src/cases.rs), printed as
// `case rate min max` (operations per second, median of 5 runs).
//
//   node bench/node/mem.mjs                     # every case
//   node bench/node/mem.mjs --median CASE...    # those cases' lines only
//   node bench/node/mem.mjs --list              # the case names
//   node bench/node/mem.mjs CASE [N]            # one run of CASE (N operations)
import { Writable, Readable, PassThrough, Transform, pipeline } from 'node:stream';

const N = 5_000_000;
const CHUNKS = 500_000;

async function median(runs, ops, f) {
  const rates = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f(ops);
    rates.push(ops / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return [rates[rates.length >> 1], rates[0], rates[rates.length - 1]];
}
const tick = () => new Promise((r) => setImmediate(r));
const small = () => Buffer.alloc(64, 120);
const MARK = 256 * 1024;

// Node has one form of synchronous sink: `cb()` inside `_write`. It is the
// twin of both Rust forms (`from_fn` and a WritableImpl calling `Done`).
async function syncSink(n) {
  const w = new Writable({ highWaterMark: 16384, write(c, e, cb) { cb(); } });
  const chunk = small();
  for (let i = 0; i < n; i++) w.write(chunk);
  await tick();
}

async function laterSink(n) {
  let pending = null;
  const w = new Writable({ highWaterMark: 16384, write(c, e, cb) { pending = cb; } });
  const chunk = small();
  let k = 0;
  while (k < n) {
    while (k < n && w.write(chunk)) k++;
    while (pending) { const cb = pending; pending = null; cb(); }
    await tick();
  }
}

// The sink completes each write on a later turn of the event loop.
async function nextTurnSink(n) {
  await new Promise((res) => {
    const w = new Writable({ highWaterMark: 16384, write(c, e, cb) { setImmediate(cb); } });
    const chunk = small();
    let k = 0;
    const go = () => {
      while (k < n) { k++; if (!w.write(chunk)) { w.once('drain', go); return; } }
      w.on('finish', res);
      w.end();
    };
    go();
  });
}

async function objectMode(n) {
  const w = new Writable({ objectMode: true, write(c, e, cb) { cb(); } });
  for (let i = 0; i < n; i++) w.write(i);
  await tick();
}

function source(n) {
  let left = n;
  const chunk = Buffer.alloc(64 * 1024);
  return new Readable({ highWaterMark: MARK, read() { if (left === 0) this.push(null); else { left--; this.push(chunk); } } });
}
const sink = () => new Writable({ highWaterMark: MARK, write(c, e, cb) { cb(); } });
const finished = (w) => new Promise((res) => w.on('finish', res));

async function pipeChunks(n) {
  const r = source(n);
  const w = sink();
  const done = finished(w);
  r.pipe(w);
  await done;
}

async function chain3(n) {
  const r = source(n);
  const t = new PassThrough({ highWaterMark: MARK });
  const w = sink();
  const done = finished(w);
  r.pipe(t).pipe(w);
  await done;
}

async function fanout3(n) {
  const r = source(n);
  const ws = [sink(), sink(), sink()];
  const done = Promise.all(ws.map(finished));
  for (const w of ws) r.pipe(w);
  await done;
}

function* upTo(n) { for (let i = 0; i < n; i++) yield i; }

async function objectPipeline(n) {
  await new Promise((res, rej) => pipeline(
    // Readable.from defaults to a mark of 1; 16 is the object default of
    // every other stream here, and of Rust's twin.
    Readable.from(upTo(n), { highWaterMark: 16 }),
    new Transform({ objectMode: true, transform(c, e, cb) { cb(null, c); } }),
    new Writable({ objectMode: true, write(c, e, cb) { cb(); } }),
    (err) => (err ? rej(err) : res()),
  ));
}

const CASES = [
  ['sync_sink_fn_writes', N, syncSink],
  ['sync_sink_impl_writes', N, syncSink],
  ['later_sink_writes', N / 5, laterSink],
  ['next_turn_sink_writes', N / 5, nextTurnSink],
  ['object_mode_writes', N, objectMode],
  ['pipe_chunks', CHUNKS, pipeChunks],
  ['chain3_chunks', CHUNKS, chain3],
  ['fanout3_chunks', CHUNKS, fanout3],
  ['object_pipeline_items', N / 5, objectPipeline],
];

const report = async ([n, ops, f]) => {
  const [m, lo, hi] = await median(5, ops, f);
  console.log(`${n} ${m.toFixed(0)} ${lo.toFixed(0)} ${hi.toFixed(0)}`);
};
const find = (name) => {
  const c = CASES.find(([n]) => n === name);
  if (!c) { console.error(`mem.mjs: unknown case ${name}`); process.exit(2); }
  return c;
};
const [first, ...rest] = process.argv.slice(2);
if (!first) {
  for (const c of CASES) await report(c);
} else if (first === '--list') {
  for (const [n] of CASES) console.log(n);
} else if (first === '--median') {
  for (const name of rest) await report(find(name));
} else {
  const c = find(first);
  await c[2](rest[0] ? Number(rest[0]) : c[1]);
}
