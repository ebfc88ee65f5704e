#!/usr/bin/env node
// Differential fuzzer of the highwater conformance harness.
//
//   node conformance/fuzz/differential.mjs --runs N --seed S
//        [--mode writable|all | --kinds LIST] [--rust PATH]
//        [--jobs J] [--timeout MS] [--no-shrink] [--shrink-all]
//        [--max-shrink K] [--keep] [--out DIR] [--quiet]
//
// Generates random, valid scenarios (conformance/SCENARIO-FORMAT.md): by
// default writable-only ones (the generator below); with --kinds or
// --mode all, ones with readable, transform, passthrough and writable
// streams, pipe/unpipe, pipeline and finished (gen-mixed.mjs),
// runs each one through the Node reference runner and the Rust runner, and
// compares exit code and trace (lines compared as JSON values). For every
// mismatch it saves the scenario, shrinks it (drops streams, steps, `then`
// items, optional keys) while the mismatch persists, and prints the minimized
// scenario with both traces from the first differing line.
//
// Deterministic for a seed: run i of seed S always generates the same
// scenario (the generator only depends on S and i, and on Node's own output
// when it repairs a scenario, see below). Exit 1 if any mismatch, 0 otherwise.
// Only Node built-ins are used. See README.md beside this file.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateMixed, STREAM_KINDS, FEATURES } from './gen-mixed.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const NODE_RUNNER = path.join(REPO, 'conformance', 'node', 'runner.mjs');
const DEFAULT_RUST = path.join(REPO, 'target', 'release', 'highwater-conformance');

// ---------------------------------------------------------------------------
// Command line

function usage(msg) {
  if (msg) process.stderr.write(`differential.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node conformance/fuzz/differential.mjs --runs N --seed S [--rust PATH]\n' +
      '       [--mode writable|all] [--kinds writable,readable,transform,passthrough,pipe,pipeline,finished]\n' +
      '       [--jobs J] [--timeout MS] [--no-shrink] [--shrink-all] [--max-shrink K]\n' +
      '       [--keep] [--out DIR] [--quiet] [--start I] [--dump] [--avoid LIST] [--no-repair]\n' +
      '   or: node conformance/fuzz/differential.mjs --minimize FILE.json [--rust PATH] [--jobs J] [--timeout MS]\n',
  );
  process.exit(2);
}

// Patterns of known mismatches the generator can be told to avoid
// (--avoid a,b), to look for other ones while a known one is unfixed.
//   writev-reentry: a write() (or end(chunk)) of a stream from the `then` of
//     its own _writev hook (see the writable-fuzz-write-inside-writev scenario).
//   read-in-read (other modes): a read()/readAll of a stream from a
//     listener that can run inside its own _read (its _read hook; on a
//     duplex its _transform hook and drain), see the fuzz-read-inside-read
//     divergence. Other paths to it are recognized after the fact (Node's
//     trace shows a negative readableLength) and skipped.
const KNOWN_ISSUES = ['writev-reentry', 'read-in-read'];

function parseArgs(argv) {
  const o = {
    runs: 100,
    seed: '1',
    rust: DEFAULT_RUST,
    jobs: Math.max(1, Math.min(os.cpus().length, 8)),
    timeout: 10000,
    shrink: true,
    shrinkAll: false,
    maxShrink: 20,
    keep: false,
    out: null,
    quiet: false,
    start: 0,
    dump: false,
    avoid: new Set(),
    repair: true,
    kinds: ['writable'],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 0) usage(`${a} needs an integer >= 0`);
      return v;
    };
    switch (a) {
      case '--runs': o.runs = int(); break;
      case '--seed': o.seed = val(); break;
      case '--start': o.start = int(); break;
      case '--rust': o.rust = path.resolve(val()); break;
      case '--jobs': o.jobs = Math.max(1, int()); break;
      case '--timeout': o.timeout = int(); break;
      case '--no-shrink': o.shrink = false; break;
      case '--shrink-all': o.shrinkAll = true; break;
      case '--max-shrink': o.maxShrink = int(); break;
      case '--keep': o.keep = true; break;
      case '--out': o.out = path.resolve(val()); break;
      case '--quiet': o.quiet = true; break;
      case '--dump': o.dump = true; break;
      case '--no-repair': o.repair = false; break;
      case '--minimize': o.minimize = path.resolve(val()); break;
      case '--mode': {
        const m = val();
        if (m === 'writable') o.kinds = ['writable'];
        else if (m === 'all') o.kinds = [...STREAM_KINDS, ...FEATURES];
        else usage(`--mode: writable or all, not ${m}`);
        break;
      }
      case '--kinds': {
        const ks = val().split(',').filter(Boolean);
        for (const k of ks) {
          if (![...STREAM_KINDS, ...FEATURES].includes(k)) usage(`--kinds: unknown ${k} (known: ${[...STREAM_KINDS, ...FEATURES].join(', ')})`);
        }
        if (ks.length === 0) usage('--kinds needs at least one kind');
        o.kinds = ks;
        break;
      }
      case '--avoid':
        for (const k of val().split(',')) {
          if (!KNOWN_ISSUES.includes(k)) usage(`--avoid: unknown ${k} (known: ${KNOWN_ISSUES.join(', ')})`);
          o.avoid.add(k);
        }
        break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// Deterministic PRNG: sfc32 seeded by a string hash (cyrb128).

function cyrb128(str) {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4; h2 ^= h1; h3 ^= h1; h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

function makeRng(seedStr) {
  let [a, b, c, d] = cyrb128(seedStr);
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const rng = {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    // weighted: [[weight, value], ...]; zero weights are skipped
    weighted: (pairs) => {
      let total = 0;
      for (const [w] of pairs) total += Math.max(0, w);
      let r = next() * total;
      for (const [w, v] of pairs) {
        if (w <= 0) continue;
        if (r < w) return v;
        r -= w;
      }
      return pairs.filter(([w]) => w > 0).at(-1)[1];
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------
// A rough model of Node's Writable, used only to steer generation: which
// stream has a _write/_writev callback pending (so `complete` is valid),
// whether a `_final` callback is pending, whether `again` is valid. It
// follows lib/internal/streams/writable.js loosely (writeOrBuffer,
// clearBuffer, onwrite, end, prefinish) and runs the `then` lists of hook
// listeners; listeners of real events are not modelled. Mistakes only cost
// a repair (see validate()).

const ERROR_CODES = ['EIO', 'EPIPE', 'EBAD'];
const STREAM_NAMES = ['w', 'x', 'y'];
const WRITABLE_EVENTS = ['drain', 'prefinish', 'finish', 'close', 'error'];

function newModelStream(name, spec) {
  return {
    name,
    spec,
    sync: spec.write === 'sync',
    writev: spec.writev === true,
    final: spec.final ?? 'none',
    autoDestroy: spec.autoDestroy !== false,
    corked: 0,
    writing: false,
    processing: false,
    buffered: 0,
    ended: false,
    destroyed: false,
    errored: false,
    finalCalled: false,
    finalPending: false,
    pending: 0, // the runner's pending _write/_writev callbacks
    completedAny: false, // the runner has a "most recently completed" callback
    hookListeners: [], // { event, once, then }
    depth: 0, // guards the model against runaway recursion
  };
}

class Model {
  constructor(streams) {
    this.s = new Map();
    for (const [n, spec] of Object.entries(streams)) this.s.set(n, newModelStream(n, spec));
    this.budget = 10000;
  }

  errorOrDestroy(st) {
    st.errored = true;
    if (st.autoDestroy) this.destroy(st);
  }

  destroy(st) {
    st.destroyed = true;
    if (!st.writing) st.buffered = 0;
  }

  callWriteHook(st, hook) {
    if (--this.budget < 0 || st.depth > 50) return;
    st.writing = true;
    st.pending++;
    st.depth++;
    this.runHookListeners(st, hook);
    st.depth--;
    if (st.sync) {
      st.pending = Math.max(0, st.pending - 1);
      st.completedAny = true;
      this.onwrite(st, false);
    }
  }

  runHookListeners(st, hook) {
    for (const l of st.hookListeners.slice()) {
      if (l.event !== hook) continue;
      if (l.once) {
        if (l.fired) continue;
        l.fired = true;
        st.hookListeners.splice(st.hookListeners.indexOf(l), 1);
      }
      for (const step of l.then) this.step(step);
    }
  }

  onwrite(st, err) {
    if (!st.writing) {
      this.errorOrDestroy(st); // ERR_MULTIPLE_CALLBACK
      return;
    }
    st.writing = false;
    if (err) {
      st.errored = true;
      st.buffered = 0;
      if (st.autoDestroy) this.destroy(st);
      return;
    }
    this.clearBuffer(st);
    this.maybeFinal(st);
  }

  clearBuffer(st) {
    if (st.destroyed || st.processing || st.corked > 0 || st.buffered === 0) return;
    st.processing = true;
    if (st.buffered > 1 && st.writev) {
      st.buffered = 0;
      this.callWriteHook(st, '_writev');
    } else {
      do {
        st.buffered--;
        this.callWriteHook(st, '_write');
      } while (st.buffered > 0 && !st.writing && this.budget > 0);
    }
    st.processing = false;
  }

  maybeFinal(st) {
    if (!st.ended || st.destroyed || st.writing || st.buffered > 0 || st.errored || st.finalCalled) return;
    st.finalCalled = true;
    if (st.final === 'none') return;
    st.finalPending = true;
    this.runHookListeners(st, '_final');
    if (st.final === 'sync') st.finalPending = false;
  }

  write(st, chunkIsNull) {
    if (chunkIsNull) return; // throws ERR_STREAM_NULL_VALUES
    if (st.ended || st.destroyed) return; // errors, nothing is written
    if (st.writing || st.errored || st.corked > 0 || st.buffered > 0) {
      st.buffered++;
      return;
    }
    this.callWriteHook(st, '_write');
  }

  step(step) {
    const st = this.s.get(step.stream);
    switch (step.do) {
      case 'write':
        this.write(st, step.chunk === null);
        break;
      case 'end':
        if ('chunk' in step) this.write(st, false);
        if (st.corked > 0) {
          st.corked = 0;
          if (!st.writing) this.clearBuffer(st);
        }
        if (!st.ended && !st.errored) {
          st.ended = true;
          this.maybeFinal(st);
        }
        break;
      case 'cork':
        st.corked++;
        break;
      case 'uncork':
        if (st.corked > 0) {
          st.corked--;
          if (!st.writing) this.clearBuffer(st);
        }
        break;
      case 'destroy':
        this.destroy(st);
        break;
      case 'complete':
        if (step.again) {
          this.errorOrDestroy(st);
        } else if (st.pending > 0) {
          st.pending--;
          st.completedAny = true;
          this.onwrite(st, 'error' in step);
        }
        break;
      case 'completeFinal':
        if (st.finalPending) {
          st.finalPending = false;
          if ('error' in step) this.errorOrDestroy(st);
        }
        break;
      case 'on':
      case 'once':
        if (step.event.startsWith('_')) {
          st.hookListeners.push({ event: step.event, once: step.do === 'once', then: step.then ?? [], fired: false });
        }
        break;
      case 'tick':
        for (const s of this.s.values()) {
          if (s.errored && s.autoDestroy) s.destroyed = true;
          if (s.finalCalled && !s.finalPending && !s.errored && s.autoDestroy) s.destroyed = true;
        }
        break;
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------
// Generator

function genChunk(rng, spec, forEnd) {
  if (spec.objectMode) {
    return rng.weighted([
      [4, () => rng.int(0, 99)],
      [4, () => rng.pick(['a', 'bb', 'ccc', '', 'obj'])],
      [1, () => rng.chance(0.5)],
      [1, () => [rng.int(0, 9), 'z']],
      [1, () => ({ k: rng.int(0, 9) })],
    ])();
  }
  void forEnd;
  return rng.weighted([
    [5, () => 'abcdefghijkl'.slice(0, rng.int(1, 8))],
    [1, () => ''],
    [3, () => ({ size: rng.int(0, 24) })],
    [1, () => ({ size: rng.int(25, 60) })],
  ])();
}

function genCb(rng, stream, doName) {
  return rng.weighted([
    [50, undefined],
    [35, true],
    [15, `${stream}.${doName}.${rng.int(0, 1)}`],
  ]);
}

function genStreams(rng) {
  const n = rng.weighted([[50, 1], [35, 2], [15, 3]]);
  const streams = {};
  for (let i = 0; i < n; i++) {
    const spec = { kind: 'writable' };
    const objectMode = rng.chance(0.25);
    if (objectMode) spec.objectMode = true;
    if (!objectMode || rng.chance(0.7)) spec.highWaterMark = rng.weighted([[3, rng.int(0, 4)], [4, rng.int(0, 20)]]);
    const write = rng.weighted([[35, 'sync'], [50, 'manual'], [15, undefined]]);
    if (write) spec.write = write;
    if (rng.chance(0.4)) spec.writev = true;
    const final = rng.weighted([[35, undefined], [15, 'none'], [20, 'sync'], [30, 'manual']]);
    if (final) spec.final = final;
    if (rng.chance(0.15)) spec.autoDestroy = false;
    if (rng.chance(0.15)) spec.emitClose = false;
    streams[STREAM_NAMES[i]] = spec;
  }
  return streams;
}

// Generates one step. `m` is the model (top-level generation) or null (a
// `then` list, generated without knowing the state it will run in). `ctx`
// describes a `then` list: { hookOf, event, persistent, depth }.
function genStep(rng, sc, m, ctx, progress = 0.5) {
  const names = Object.keys(sc.streams);
  let name;
  if (ctx && ctx.hookOf && rng.chance(0.7)) name = ctx.hookOf;
  else name = rng.pick(names);
  const spec = sc.streams[name];
  const st = m ? m.s.get(name) : null;
  const manual = spec.write !== 'sync';
  const finalHooks = (spec.final ?? 'none') !== 'none';

  // Weights of each kind of step.
  // A persistent listener that writes can loop forever.
  let canWrite = !(ctx && ctx.persistent);
  if (ctx && ctx.event === '_writev' && ctx.hookOf === name && AVOID.has('writev-reentry')) canWrite = false;
  let wComplete = 0;
  let wAgain = 0;
  let wCompleteFinal = 0;
  if (m) {
    if (manual && st.pending > 0) wComplete = 25;
    if (st.completedAny && st.pending === 0) wAgain = 1;
    if (st.finalPending && spec.final === 'manual') wCompleteFinal = 25;
  } else if (ctx) {
    const ownHook = ctx.hookOf === name;
    if (ownHook && manual && (ctx.event === '_write' || ctx.event === '_writev')) wComplete = 30;
    else if (manual) wComplete = 1;
    // `again` (ERR_MULTIPLE_CALLBACK) from an event listener; inside a hook a
    // callback of that stream may be pending, which makes it malformed.
    if (!ctx.hookOf) wAgain = 0.7;
    if (ownHook && spec.final === 'manual' && ctx.event === '_final') wCompleteFinal = 30;
    else if (spec.final === 'manual') wCompleteFinal = 0.5;
  }
  const ended = st && st.ended;
  const kind = rng.weighted([
    [canWrite ? (ended ? 3 : 30) : 0, 'write'],
    [ended ? 1 : ctx ? (canWrite ? 6 : 3) : 1 + 14 * progress * progress, 'end'],
    [6, 'cork'],
    [st && st.corked > 0 ? 14 : 5, 'uncork'],
    [ctx ? 3 : 2, 'destroy'],
    [wComplete, 'complete'],
    [wAgain, 'again'],
    [wCompleteFinal, 'completeFinal'],
    [ctx ? (ctx.depth < 2 ? 3 : 0) : 9, 'on'],
    [ctx ? 0 : 12, 'tick'],
  ]);

  switch (kind) {
    case 'write': {
      const s = { do: 'write', stream: name, chunk: rng.chance(0.02) ? null : genChunk(rng, spec) };
      const cb = genCb(rng, name, 'write');
      if (cb !== undefined) s.cb = cb;
      return s;
    }
    case 'end': {
      const s = { do: 'end', stream: name };
      if (canWrite && rng.chance(0.3)) s.chunk = genChunk(rng, spec, true);
      const cb = genCb(rng, name, 'end');
      if (cb !== undefined) s.cb = cb;
      return s;
    }
    case 'cork':
    case 'uncork':
      return { do: kind, stream: name };
    case 'destroy': {
      const s = { do: 'destroy', stream: name };
      if (rng.chance(0.5)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'complete': {
      const s = { do: 'complete', stream: name };
      if (rng.chance(0.12)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'again': {
      const s = { do: 'complete', stream: name, again: true };
      if (rng.chance(0.3)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'completeFinal': {
      const s = { do: 'completeFinal', stream: name };
      if (rng.chance(0.25)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'on': {
      const events = [...WRITABLE_EVENTS, '_write'];
      if (spec.writev) events.push('_writev');
      if (finalHooks) events.push('_final');
      const event = rng.weighted(events.map((e) => [e.startsWith('_') ? 3 : e === 'drain' ? 3 : 2, e]));
      // Inside a `then`, only `once` (a persistent listener added each time
      // something fires multiplies).
      const once = ctx ? true : rng.chance(0.5);
      const s = { do: once ? 'once' : 'on', stream: name, event };
      const depth = ctx ? ctx.depth + 1 : 1;
      // prefinish, finish, close and error are emitted at most once, so a
      // persistent listener of them may write.
      const recurs = event === 'drain' || event.startsWith('_');
      const persistent = (!once && recurs) || (ctx && ctx.persistent);
      const n = rng.weighted([[1, 0], [4, 1], [3, 2], [2, 3]]);
      if (n > 0 || rng.chance(0.5)) {
        const then = [];
        const inner = { hookOf: event.startsWith('_') ? name : null, event, persistent, depth };
        for (let i = 0; i < n; i++) then.push(genStep(rng, sc, null, inner));
        s.then = then;
      }
      return s;
    }
    case 'tick':
      return { do: 'tick' };
    default:
      throw new Error(`generator: ${kind}`);
  }
}

// The writable-only generator (the default mode, `--kinds writable`): run i
// of seed S gives the same scenario as before the other modes existed.
function generate(seed, run) {
  if (!writableOnly()) return generateMixedRun(seed, run);
  const rng = makeRng(`${seed}:${run}`);
  const sc = { name: `fuzz-${seed}-${run}`, streams: genStreams(rng), steps: [] };
  const m = new Model(sc.streams);
  const n = rng.int(3, 25);
  for (let i = 0; i < n - 1; i++) {
    const s = genStep(rng, sc, m, null, i / Math.max(1, n - 2));
    sc.steps.push(s);
    m.step(s);
  }
  sc.steps.push({ do: 'tick' });
  return sc;
}

const writableOnly = () => OPTS.kinds.length === 1 && OPTS.kinds[0] === 'writable';

// The other modes: stream kinds from --kinds (every kind when it names
// none), steps pipe/unpipe, pipeline and finished when it names them. The
// PRNG seed includes the sorted --kinds list, so a run is replayed with the
// same --kinds.
function generateMixedRun(seed, run) {
  const kinds = STREAM_KINDS.filter((k) => OPTS.kinds.includes(k));
  const features = new Set(FEATURES.filter((k) => OPTS.kinds.includes(k)));
  const key = [...OPTS.kinds].sort().join('+');
  const rng = makeRng(`${seed}:${key}:${run}`);
  return generateMixed(rng, `fuzz-${seed}-${run}`, kinds.length ? kinds : STREAM_KINDS, features, AVOID);
}

// ---------------------------------------------------------------------------
// Running the two runners

let TMP = null;
let OPTS = null;
let AVOID = new Set();
let fileCounter = 0;

function runProcess(cmd, args, timeout) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      let code = 0;
      let timedOut = false;
      let signal = null;
      if (err) {
        if (err.killed && err.signal === 'SIGKILL') timedOut = true;
        if (typeof err.code === 'number') code = err.code;
        else if (err.signal) { signal = err.signal; code = null; } else { code = null; signal = String(err.code ?? err.message); }
      }
      resolve({ code, signal, timedOut, stdout: stdout ?? '', stderr: stderr ?? '' });
    });
  });
}

function writeTemp(sc) {
  const f = path.join(TMP, `s${process.pid}-${fileCounter++}.json`);
  fs.writeFileSync(f, JSON.stringify(sc, null, 1));
  return f;
}

async function runNode(sc) {
  const f = writeTemp(sc);
  const r = await runProcess(process.execPath, [NODE_RUNNER, f], OPTS.timeout);
  fs.rmSync(f, { force: true });
  return r;
}

async function runRust(sc) {
  const f = writeTemp(sc);
  const r = await runProcess(OPTS.rust, [f], OPTS.timeout);
  fs.rmSync(f, { force: true });
  return r;
}

// Canonical form of a trace line: JSON with sorted keys (objects compared as
// JSON values); a line that is not JSON stays as it is.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function lines(stdout) {
  const ls = stdout.split('\n');
  if (ls.length && ls.at(-1) === '') ls.pop();
  return ls;
}

function canonLines(stdout) {
  return lines(stdout).map((l) => {
    try {
      return canonical(JSON.parse(l));
    } catch {
      return `RAW ${l}`;
    }
  });
}

function firstDiff(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

// Compares a Node result and a Rust result.
function compare(nodeR, rustR) {
  const a = canonLines(nodeR.stdout);
  const b = canonLines(rustR.stdout);
  const diffAt = firstDiff(a, b);
  const sameCode = nodeR.code === rustR.code && !rustR.timedOut && !rustR.signal;
  return { same: sameCode && diffAt < 0, diffAt, a, b };
}

const rustCrashed = (r) => r.timedOut || r.signal || ![0, 2, 3].includes(r.code);

// Parses the step path out of a runner's "malformed" message.
function malformedPath(stderr) {
  const m = /malformed: (steps\[\d+\](?:\.then\[\d+\])*)/.exec(stderr);
  if (!m) return null;
  return [...m[1].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
}

function removeAtPath(sc, p) {
  const c = structuredClone(sc);
  let list = c.steps;
  for (let i = 0; i < p.length - 1; i++) {
    const s = list[p[i]];
    if (!s || !s.then) return null;
    list = s.then;
  }
  if (p[p.length - 1] >= list.length) return null;
  if (p.length === 1 && p[0] === c.steps.length - 1) return null; // keep the final tick
  list.splice(p[p.length - 1], 1);
  return c;
}

// Runs a generated scenario through Node; while Node finds it malformed at
// run time (e.g. `complete` with nothing pending, which the rough model did
// not foresee), deletes the offending step and tries again (a few times).
async function validate(sc) {
  let repairs = 0;
  let r = await runNode(sc);
  const maxRepairs = writableOnly() ? 6 : 10;
  while (r.code === 2 && repairs < maxRepairs && OPTS.repair) {
    const p = malformedPath(r.stderr);
    if (!p) break;
    const c = removeAtPath(sc, p);
    if (!c) break;
    sc = c;
    repairs++;
    r = await runNode(sc);
  }
  return { sc, nodeR: r, repairs };
}

// ---------------------------------------------------------------------------
// Shrinking

function stepStreams(step) {
  const out = [];
  if (step.stream) out.push(step.stream);
  if (step.from) out.push(step.from);
  if (step.to) out.push(step.to);
  if (step.streams) out.push(...step.streams);
  return out;
}

function filterSteps(list, keep) {
  const out = [];
  for (const s of list) {
    if (!keep(s)) continue;
    if (s.then) out.push({ ...s, then: filterSteps(s.then, keep) });
    else out.push(s);
  }
  return out;
}

// All paths of nested (then) steps, deepest last.
function thenPaths(list, prefix = [], acc = []) {
  list.forEach((s, i) => {
    if (s.then) {
      s.then.forEach((_, j) => acc.push([...prefix, i, j]));
      thenPaths(s.then, [...prefix, i], acc);
    }
  });
  return acc;
}

function stepAtPath(sc, p) {
  let list = sc.steps;
  let s = null;
  for (let k = 0; k < p.length; k++) {
    s = list[p[k]];
    if (!s) return null;
    list = s.then ?? [];
  }
  return s;
}

function allStepPaths(sc) {
  const acc = [];
  const walk = (list, prefix) => list.forEach((s, i) => {
    acc.push([...prefix, i]);
    if (s.then) walk(s.then, [...prefix, i]);
  });
  walk(sc.steps, []);
  return acc;
}

function withStep(sc, p, fn) {
  const c = structuredClone(sc);
  const s = stepAtPath(c, p);
  if (!s) return null;
  if (fn(s) === false) return null;
  return c;
}

// Candidate simplifications, roughly biggest first.
function* candidates(sc) {
  const names = Object.keys(sc.streams);
  // Drop a stream with every step on it.
  if (names.length > 1) {
    for (const n of names) {
      const c = structuredClone(sc);
      delete c.streams[n];
      c.steps = filterSteps(c.steps, (s) => !stepStreams(s).includes(n));
      yield c;
    }
  }
  // Drop runs of top-level steps (never the final tick).
  const body = sc.steps.length - 1;
  for (let size = Math.max(1, Math.floor(body / 2)); size >= 1; size = Math.floor(size / 2)) {
    for (let i = 0; i + size <= body; i += size) {
      const c = structuredClone(sc);
      c.steps.splice(i, size);
      yield c;
    }
    if (size === 1) break;
  }
  // Drop two top-level steps at once (e.g. a write and the complete of its
  // callback, which are only valid together).
  if (body <= 30) {
    for (let i = 0; i < body; i++) {
      for (let j = i + 2; j < body; j++) {
        const c = structuredClone(sc);
        c.steps.splice(j, 1);
        c.steps.splice(i, 1);
        yield c;
      }
    }
  }
  // Drop then-items.
  for (const p of thenPaths(sc.steps).reverse()) {
    const c = removeAtPath(sc, p);
    if (c) yield c;
  }
  // Drop a whole `then`.
  for (const p of allStepPaths(sc)) {
    yield withStep(sc, p, (s) => {
      if (!s.then) return false;
      delete s.then;
    });
  }
  // Simplify a step's optional keys.
  for (const p of allStepPaths(sc)) {
    const s = stepAtPath(sc, p);
    for (const k of ['cb', 'error', 'again', 'chunk', 'value', 'n', 'end', 'to']) {
      if (!(k in s)) continue;
      if (k === 'chunk' && s.do !== 'end') continue;
      yield withStep(sc, p, (x) => { delete x[k]; });
    }
    if (s.do === 'push' && s.chunk !== null) yield withStep(sc, p, (x) => { x.chunk = null; });
    if (s.do === 'readAll') yield withStep(sc, p, (x) => { x.do = 'read'; });
    if (s.do === 'read' && typeof s.n === 'number' && s.n > 1) yield withStep(sc, p, (x) => { x.n = Math.floor(s.n / 2); });
    // A shorter pipeline (drop a middle stream, or the last one when the
    // one before it is a duplex).
    if (s.do === 'pipeline' && s.streams.length > 2) {
      for (let i = 1; i < s.streams.length; i++) {
        yield withStep(sc, p, (x) => { x.streams.splice(i, 1); });
      }
    }
    if (typeof s.cb === 'string') yield withStep(sc, p, (x) => { x.cb = true; });
    if (s.do === 'on') yield withStep(sc, p, (x) => { x.do = 'once'; });
    for (const k of ['chunk', 'value']) {
      if (!(k in s) || s[k] === null) continue;
      const obj = sc.streams[s.stream]?.objectMode;
      const simple = obj ? 1 : 'a';
      if (canonical(s[k]) !== canonical(simple)) yield withStep(sc, p, (x) => { x[k] = simple; });
      if (!obj && typeof s[k] === 'object' && s[k].size > 1) {
        yield withStep(sc, p, (x) => { x[k] = { size: Math.floor(s[k].size / 2) }; });
      }
    }
  }
  // Simplify stream options.
  for (const n of names) {
    const spec = sc.streams[n];
    for (const k of ['autoDestroy', 'emitClose', 'writev', 'final', 'write', 'objectMode', 'flush', 'transform', 'read', 'source']) {
      if (!(k in spec)) continue;
      const c = structuredClone(sc);
      delete c.streams[n][k];
      if (k === 'read') delete c.streams[n].source;
      yield c;
    }
    // A shorter source, simpler source items.
    if (Array.isArray(spec.source)) {
      for (let i = 0; i < spec.source.length; i++) {
        const c = structuredClone(sc);
        c.streams[n].source.splice(i, 1);
        yield c;
      }
      const simple = spec.objectMode ? 1 : 'a';
      for (let i = 0; i < spec.source.length; i++) {
        if (spec.source[i] === null || canonical(spec.source[i]) === canonical(simple)) continue;
        const c = structuredClone(sc);
        c.streams[n].source[i] = simple;
        yield c;
      }
    }
    // A transform or passthrough as a simpler kind.
    if (spec.kind === 'transform') {
      const c = structuredClone(sc);
      const t = c.streams[n];
      const hwm = t.highWaterMark ?? t.readableHighWaterMark;
      c.streams[n] = { kind: 'passthrough' };
      for (const k of ['objectMode', 'autoDestroy', 'emitClose']) if (k in t) c.streams[n][k] = t[k];
      if (hwm !== undefined) c.streams[n].highWaterMark = hwm;
      yield c;
    }
    if ('readableHighWaterMark' in spec && 'writableHighWaterMark' in spec && spec.readableHighWaterMark === spec.writableHighWaterMark) {
      const c = structuredClone(sc);
      c.streams[n].highWaterMark = spec.readableHighWaterMark;
      delete c.streams[n].readableHighWaterMark;
      delete c.streams[n].writableHighWaterMark;
      yield c;
    }
    for (const k of ['readableHighWaterMark', 'writableHighWaterMark']) {
      if (typeof spec[k] !== 'number' || spec[k] === 0) continue;
      for (const h of [0, 1, Math.floor(spec[k] / 2)]) {
        if (h >= spec[k]) continue;
        const c = structuredClone(sc);
        c.streams[n][k] = h;
        yield c;
      }
    }
    if (spec.write === undefined || spec.write === 'manual') {
      const c = structuredClone(sc);
      c.streams[n].write = 'sync';
      yield c;
    }
    if (spec.final === 'manual') {
      const c = structuredClone(sc);
      c.streams[n].final = 'sync';
      yield c;
    }
    if (typeof spec.highWaterMark === 'number' && spec.highWaterMark > 0) {
      for (const h of [0, 1, Math.floor(spec.highWaterMark / 2)]) {
        if (h >= spec.highWaterMark) continue;
        const c = structuredClone(sc);
        c.streams[n].highWaterMark = h;
        yield c;
      }
    }
  }
}

async function check(sc) {
  const nodeR = await runNode(sc);
  const rustR = await runRust(sc);
  return { nodeR, rustR, cmp: compare(nodeR, rustR) };
}

// Size of a scenario for shrinking: every accepted candidate must be
// strictly smaller (steps at any depth, then streams, then JSON length), so
// shrinking cannot oscillate between two equivalent forms.
function size(sc) {
  return [allStepPaths(sc).length, Object.keys(sc.streams).length, JSON.stringify(sc).length];
}

function smaller(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

async function shrink(sc, orig) {
  // The mismatch "persists" when Node and Rust still disagree with the same
  // exit codes as originally (so a shrink cannot turn it into a scenario
  // that is merely malformed for one of them).
  const holds = async (c) => {
    const r = await check(c);
    if (r.nodeR.timedOut) return null;
    if (r.nodeR.code !== orig.nodeR.code || r.rustR.code !== orig.rustR.code) return null;
    if (!!r.rustR.timedOut !== !!orig.rustR.timedOut || r.rustR.signal !== orig.rustR.signal) return null;
    return r.cmp.same ? null : r;
  };
  let cur = sc;
  let best = orig;
  let tries = 0;
  let i = 0;
  // Candidates are tried in order, OPTS.jobs at a time; the first that
  // holds (in candidate order, so the result does not depend on timing)
  // becomes the current scenario and the list is recomputed from it,
  // continuing at the same index; a full pass without success ends it.
  let passProgress = false;
  while (tries < 4000) {
    const curSize = size(cur);
    const cands = [...candidates(cur)].filter((c) => c && smaller(size(c), curSize));
    if (i >= cands.length) {
      if (!passProgress) break;
      passProgress = false;
      i = 0;
      continue;
    }
    const batch = cands.slice(i, i + OPTS.jobs);
    tries += batch.length;
    const results = await Promise.all(batch.map(holds));
    const k = results.findIndex(Boolean);
    if (k >= 0) {
      cur = batch[k];
      best = results[k];
      passProgress = true;
      i += k;
    } else {
      i += batch.length;
    }
  }
  return { sc: cur, res: best, tries };
}

// ---------------------------------------------------------------------------
// Reporting

function showTraces(res, context = 2, after = 10) {
  const a = lines(res.nodeR.stdout);
  const b = lines(res.rustR.stdout);
  const d = res.cmp.diffAt < 0 ? Math.min(a.length, b.length) : res.cmp.diffAt;
  const from = Math.max(0, d - context);
  const out = [];
  out.push(`  node exit ${res.nodeR.code}${res.nodeR.timedOut ? ' (timed out)' : ''}, rust exit ${res.rustR.code}` +
    `${res.rustR.signal ? ` signal ${res.rustR.signal}` : ''}${res.rustR.timedOut ? ' (timed out)' : ''}; first difference at line ${d + 1}`);
  out.push('  --- node');
  for (let i = from; i < Math.min(a.length, d + after); i++) out.push(`  ${i === d ? '>' : ' '}${i + 1}: ${a[i]}`);
  if (d >= a.length) out.push(`  >${d + 1}: (end of trace)`);
  out.push('  --- rust');
  for (let i = from; i < Math.min(b.length, d + after); i++) out.push(`  ${i === d ? '>' : ' '}${i + 1}: ${b[i]}`);
  if (d >= b.length) out.push(`  >${d + 1}: (end of trace)`);
  if (res.rustR.stderr.trim()) out.push(`  rust stderr: ${res.rustR.stderr.trim().split('\n').slice(0, 6).join('\n    ')}`);
  if (res.nodeR.code !== 0 && res.nodeR.stderr.trim()) out.push(`  node stderr: ${res.nodeR.stderr.trim().split('\n')[0]}`);
  return out.join('\n');
}

// A coarse signature of a mismatch: the kind of the first differing lines.
function signature(res) {
  const d = res.cmp.diffAt;
  const sig = (l) => {
    if (l === undefined) return 'END';
    try {
      const o = JSON.parse(l);
      return [o.t, o.m ?? o.name ?? '', o.t === 'state' ? '' : ''].filter(Boolean).join(':');
    } catch {
      return 'RAW';
    }
  };
  if (rustCrashed(res.rustR)) return `crash:${res.rustR.code ?? res.rustR.signal}`;
  if (d < 0) return `exit:${res.nodeR.code}/${res.rustR.code}`;
  return `${sig(lines(res.nodeR.stdout)[d])} vs ${sig(lines(res.rustR.stdout)[d])}`;
}

function compactJson(sc) {
  const head = JSON.stringify({ name: sc.name, streams: sc.streams });
  const steps = sc.steps.map((s) => `    ${JSON.stringify(s)}`).join(',\n');
  return `${head.slice(0, -1)},\n  "steps": [\n${steps}\n  ]\n}`;
}

// ---------------------------------------------------------------------------
// Main

async function pool(items, jobs, fn) {
  let next = 0;
  const workers = [];
  for (let j = 0; j < jobs; j++) {
    workers.push((async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        await fn(items[i], i);
      }
    })());
  }
  await Promise.all(workers);
}

// --minimize FILE: shrinks a saved scenario (e.g. a mismatch-*.json kept by an
// earlier campaign, whose generator may since have changed) and prints it.
async function minimizeFile(file) {
  const sc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const first = await check(sc);
  const res = { sc, ...first };
  const out = (s) => process.stdout.write(`${s}\n`);
  if (first.cmp.same) {
    out(`${file}: no mismatch (node exit ${first.nodeR.code}, rust exit ${first.rustR.code})`);
    fs.rmSync(TMP, { recursive: true, force: true });
    process.exit(0);
  }
  const { sc: min, res: r, tries } = await shrink(sc, res);
  const f = file.replace(/\.json$/, '') + '.min.json';
  fs.writeFileSync(f, `${compactJson(min)}\n`);
  out(`=== [${signature(res)}] -> [${signature(r)}], shrunk in ${tries} tries, saved to ${f}`);
  out(compactJson(min).split('\n').map((l) => `  ${l}`).join('\n'));
  out(showTraces(r));
  fs.rmSync(TMP, { recursive: true, force: true });
  process.exit(1);
}

async function main() {
  OPTS = parseArgs(process.argv.slice(2));
  AVOID = OPTS.avoid;
  if (!fs.existsSync(OPTS.rust)) {
    usage(`Rust runner not found: ${OPTS.rust} (build it: cargo build --release -p highwater-conformance)`);
  }
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'highwater-fuzz-'));
  if (OPTS.minimize) {
    await minimizeFile(OPTS.minimize);
    return;
  }
  const outDir = OPTS.out ?? TMP;
  fs.mkdirSync(outDir, { recursive: true });
  const log = (s) => process.stdout.write(`${s}\n`);
  const progress = (s) => { if (!OPTS.quiet) process.stderr.write(`${s}\n`); };

  const stats = { runs: 0, ran: 0, bothMalformed: 0, repairs: 0, nodeHang: 0, nodeOdd: 0, known: 0, mismatches: 0, crashes: 0, hookLines: 0 };
  const mismatches = [];
  const runIds = [];
  for (let i = 0; i < OPTS.runs; i++) runIds.push(OPTS.start + i);
  const t0 = Date.now();

  await pool(runIds, OPTS.jobs, async (run) => {
    const gen = generate(OPTS.seed, run);
    const { sc, nodeR, repairs } = await validate(gen);
    stats.repairs += repairs;
    stats.runs++;
    if (nodeR.timedOut) {
      stats.nodeHang++;
      return;
    }
    // The Node runner failed (exit 1: an exception the scenario let escape,
    // e.g. a stack overflow): not a valid scenario, skipped.
    if (nodeR.code !== 0 && nodeR.code !== 2) {
      stats.nodeOdd++;
      const f = path.join(outDir, `node-error-${OPTS.seed}-${run}.json`);
      fs.writeFileSync(f, `${compactJson(sc)}\n`);
      log(`NODE ERROR run ${run} (exit ${nodeR.code}) saved to ${f}: ${nodeR.stderr.trim().split('\n')[0]}`);
      return;
    }
    if (OPTS.dump) log(`--- run ${run} (${repairs} repairs, node exit ${nodeR.code})\n${compactJson(sc)}\n${nodeR.stdout}`);
    const rustR = await runRust(sc);
    const cmp = compare(nodeR, rustR);
    // --avoid read-in-read: the generator cannot see every path by which a
    // read() runs inside the same stream's _read (e.g. a _read listener
    // writes to a writable whose _write listener reads the stream); Node's
    // negative readableLength gives them away.
    if (!cmp.same && AVOID.has('read-in-read') && !rustCrashed(rustR) && /"rlen":-\d/.test(nodeR.stdout)) {
      stats.known++;
      return;
    }
    if (nodeR.code === 0) stats.ran++;
    else if (nodeR.code === 2 && cmp.same) stats.bothMalformed++;
    stats.hookLines += (nodeR.stdout.match(/"t":"hook"/g) || []).length;
    if (!cmp.same) {
      const res = { run, sc, nodeR, rustR, cmp };
      res.sig = signature(res);
      mismatches.push(res);
      if (rustCrashed(rustR)) stats.crashes++;
      const f = path.join(outDir, `mismatch-${OPTS.seed}-${run}.json`);
      fs.writeFileSync(f, `${compactJson(sc)}\n`);
      log(`MISMATCH run ${run} [${res.sig}] saved to ${f}`);
    }
    if (stats.runs % 250 === 0) {
      progress(`.. ${stats.runs}/${OPTS.runs} runs, ${mismatches.length} mismatches, ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    }
  });
  stats.mismatches = mismatches.length;
  mismatches.sort((p, q) => p.run - q.run);

  // Shrink: by default only the first mismatch of each signature.
  const seenSig = new Set();
  const seenMin = new Set();
  let shrunk = 0;
  for (const res of mismatches) {
    if (!OPTS.shrink) break;
    if (!OPTS.shrinkAll && seenSig.has(res.sig)) continue;
    if (shrunk >= OPTS.maxShrink) break;
    seenSig.add(res.sig);
    shrunk++;
    progress(`shrinking run ${res.run} [${res.sig}] ...`);
    const { sc, res: r, tries } = await shrink(res.sc, res);
    const key = canonical({ streams: sc.streams, steps: sc.steps });
    const f = path.join(outDir, `mismatch-${OPTS.seed}-${res.run}.min.json`);
    fs.writeFileSync(f, `${compactJson(sc)}\n`);
    log('');
    log(`=== mismatch run ${res.run} [${res.sig}] -> [${signature({ ...r })}], shrunk in ${tries} tries${seenMin.has(key) ? ' (same as an earlier minimized one)' : ''}`);
    log(`  minimized scenario (${f}):`);
    log(compactJson(sc).split('\n').map((l) => `  ${l}`).join('\n'));
    log(showTraces(r));
    seenMin.add(key);
  }
  if (!OPTS.shrink) {
    for (const res of mismatches) {
      log(`\n=== mismatch run ${res.run} [${res.sig}]`);
      log(showTraces(res));
    }
  }

  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  log('');
  log(`seed ${OPTS.seed} (kinds ${OPTS.kinds.join(',')}): ${stats.runs} runs (${stats.ran} ran in Node, ${stats.bothMalformed} malformed at the same point in both, ` +
    `${stats.nodeHang} skipped: Node timed out, ${stats.nodeOdd} skipped: Node runner error, ${stats.known} skipped: known divergence), ${stats.repairs} repairs, ${stats.hookLines} hook lines, ` +
    `${stats.mismatches} mismatches (${new Set(mismatches.map((r) => r.sig)).size} signatures, ${stats.crashes} Rust crashes/hangs), ${secs}s`);
  if (!OPTS.keep && !OPTS.out && mismatches.length === 0) fs.rmSync(TMP, { recursive: true, force: true });
  else log(`scenarios kept in ${outDir}`);
  process.exit(mismatches.length > 0 ? 1 : 0);
}

main();
