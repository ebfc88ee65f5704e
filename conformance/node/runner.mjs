#!/usr/bin/env node
// Node reference runner of the highwater conformance harness.
//
//   node conformance/node/runner.mjs FILE.json
//
// Runs one scenario (conformance/SCENARIO-FORMAT.md, format v1.3) against
// Node's own streams and prints its trace on stdout, one JSON object a line.
// Exit 0 when the scenario ran (whatever the trace says); exit 2 with a
// message on stderr when the file is malformed. Static checks run before
// anything is created; dynamic ones (e.g. `complete` with nothing pending)
// stop the run: the trace printed so far stays on stdout, then exit 2.
//
// Only Node built-ins are used. "Format:" comments name the rule of
// SCENARIO-FORMAT.md that a part implements.

import { Writable, Readable, Transform, PassThrough, pipeline, finished, addAbortSignal } from 'node:stream';
import { pipeline as pipelinePromise } from 'node:stream/promises';
import fs from 'node:fs';

// ---------------------------------------------------------------------------
// Output. Lines are collected and written with fs.writeSync when the run
// stops (normally or on a dynamic malformation), so that process.exit() can
// never lose buffered output.

const out = [];
let tracing = true; // Format: "Nothing is traced after the last step's state line".

function trace(line) {
  if (tracing) out.push(JSON.stringify(line));
}

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function flushTrace() {
  if (out.length > 0) writeAll(1, out.join('\n') + '\n');
  out.length = 0;
}

let scenarioFile = '<none>';

// Format: "exit 2 with a message on stderr when the scenario file is
// malformed"; a runner detecting it while running keeps the trace so far.
function malformed(where, why) {
  tracing = false;
  flushTrace();
  writeAll(2, `runner.mjs: ${scenarioFile}: malformed: ${where ? where + ': ' : ''}${why}\n`);
  process.exit(2);
}

// A bug of this runner (not of the scenario): keep the trace, exit 1.
process.on('uncaughtException', (e) => {
  tracing = false;
  flushTrace();
  writeAll(2, `runner.mjs: ${scenarioFile}: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});

// ---------------------------------------------------------------------------
// Small helpers

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isBool = (v) => typeof v === 'boolean';
const isNatural = (v) => Number.isInteger(v) && v >= 0;
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const show = (v) => JSON.stringify(v);

// Format: "An error given as a code string is an Error whose message and code
// are that string."
function makeError(code) {
  const e = new Error(code);
  e.code = code;
  return e;
}

// Format (Trace): "An error is rendered as its code, or its message when it
// has no code." Absent errors (undefined/null) render as null.
function renderError(e) {
  if (e === undefined || e === null) return null;
  if (typeof e === 'object') {
    if (e.code !== undefined && e.code !== null) return String(e.code);
    if (e.message !== undefined) return String(e.message);
  }
  return String(e);
}

// Format (Trace, and v1.3 "Rendering"): decided by the value. Bytes (a
// Buffer, on any side) use the byte rule: at most 32 bytes, the string when
// every byte is ASCII, else {"hex": "..."} (lowercase); over 32 bytes
// {"bytes": N}. A string on a byte-mode side: a decoded string (the readable
// side of a stream after setEncoding) is that string when its UTF-8 form is
// at most 32 bytes, else {"bytes": N}; any other string there is its UTF-8
// bytes (the byte rule). Any other value is its JSON value (undefined as null).
// `side` is the side the chunk is seen on: 'w' (hooks) or 'r' (read, data).
function renderBytes(b) {
  if (b.length > 32) return { bytes: b.length };
  for (const x of b) if (x > 0x7f) return { hex: b.toString('hex') };
  return b.toString('latin1');
}

function renderChunk(st, c, side) {
  const objectMode = side === 'r' ? st.rObj : st.wObj;
  if (c instanceof Uint8Array) return renderBytes(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  if (!objectMode && typeof c === 'string') {
    const b = Buffer.from(c, 'utf8');
    if (side === 'r' && st.decoding) return b.length <= 32 ? c : { bytes: b.length };
    return renderBytes(b);
  }
  return c === undefined ? null : c;
}

// Format (Chunks): byte mode: a string (handed over as a JS string),
// {"size": N} for N bytes of "x", or (v1.3) {"hex": "..."} as a Buffer;
// object mode: the JSON value itself. null is passed through
// (end-of-stream / ERR_STREAM_NULL_VALUES) where a step allows it. `side`:
// the side the chunk goes to ('w' written, 'r' pushed).
function toChunk(st, v, side) {
  if (v === null) return null;
  if (side === 'r' ? st.rObj : st.wObj) return v;
  if (typeof v === 'string') return v;
  if (has(v, 'hex')) return Buffer.from(v.hex, 'hex');
  return 'x'.repeat(v.size);
}

// ---------------------------------------------------------------------------
// Static validation. Every check here runs before any stream is created.

const COMMON_OPTIONS = ['kind', 'highWaterMark', 'objectMode', 'autoDestroy', 'emitClose', 'signal'];
// Format (Stream kinds and options): the extra options of each kind.
const KIND_OPTIONS = {
  writable: ['write', 'writev', 'final'],
  readable: ['read', 'source'],
  transform: ['transform', 'flush', 'readableHighWaterMark', 'writableHighWaterMark'],
  passthrough: [],
};

// Format (Trace, events): traced from creation on, per side.
const WRITABLE_EVENTS = ['drain', 'prefinish', 'finish', 'close', 'error', 'pipe', 'unpipe'];
const READABLE_EVENTS = ['end', 'close', 'error', 'pause', 'resume'];
// Format: `data` and `readable` are traced only through on/once steps.
const READABLE_ON_ONLY = ['data', 'readable'];
// Format (on/once): hook names that are valid as `event`.
const HOOK_EVENTS = ['_write', '_writev', '_final', '_read', '_transform'];

// Format (Steps): the keys of every `do`. `req` are required, `opt` optional.
// `side` is the side the step needs on its `stream` ("w" writable, "r"
// readable); a step on a stream without that side is malformed.
const STEP_KEYS = {
  write: { req: ['stream', 'chunk'], opt: ['cb'], side: 'w' },
  end: { req: ['stream'], opt: ['chunk', 'cb'], side: 'w' },
  cork: { req: ['stream'], opt: [], side: 'w' },
  uncork: { req: ['stream'], opt: [], side: 'w' },
  destroy: { req: ['stream'], opt: ['error'] },
  complete: { req: ['stream'], opt: ['error', 'value', 'again'], side: 'w' },
  completeFinal: { req: ['stream'], opt: ['error'], side: 'w' },
  push: { req: ['stream', 'chunk'], opt: [], side: 'r' },
  unshift: { req: ['stream', 'chunk'], opt: [], side: 'r' },
  read: { req: ['stream'], opt: ['n'], side: 'r' },
  readAll: { req: ['stream'], opt: [], side: 'r' },
  pause: { req: ['stream'], opt: [], side: 'r' },
  resume: { req: ['stream'], opt: [], side: 'r' },
  pipe: { req: ['from', 'to'], opt: ['end'] },
  unpipe: { req: ['from'], opt: ['to'] },
  pipeline: { req: ['streams'], opt: [] },
  finished: { req: ['stream'], opt: ['readable', 'writable', 'error', 'signal', 'cleanup'] },
  // v1.3 steps.
  setEncoding: { req: ['stream'], opt: [], side: 'r' },
  abort: { req: ['signal'], opt: [] },
  addAbortSignal: { req: ['signal', 'stream'], opt: [] },
  pipelineAsync: { req: ['streams'], opt: ['end', 'signal'] },
  finishedCleanup: { req: ['stream'], opt: [] },
  on: { req: ['stream', 'event'], opt: ['then'] },
  once: { req: ['stream', 'event'], opt: ['then'] },
  tick: { req: [], opt: [] },
};

function checkKeys(obj, allowed, where) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) malformed(where, `unknown key ${show(k)}`);
  }
}

// Format (File): "Byte-mode chunk strings (in steps, source, flush, value) are
// ASCII; object-mode values are any JSON" (Chunks: "any JSON value except null").
function checkChunk(st, v, where, nullOk, side) {
  if (v === null) {
    if (!nullOk) malformed(where, 'null is not a chunk here');
    return;
  }
  if (side === 'r' ? st.rObj : st.wObj) return;
  if (typeof v === 'string') {
    if (!/^[\x00-\x7f]*$/.test(v)) malformed(where, `byte-mode chunk ${show(v)} is not ASCII`);
    return;
  }
  if (isObj(v) && has(v, 'hex')) {
    // v1.3: {"hex": "..."}, an even number of hex digits (may be empty).
    checkKeys(v, ['hex'], where);
    if (typeof v.hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(v.hex)) {
      malformed(where, '{"hex": "..."} needs an even number of hex digits');
    }
    return;
  }
  if (isObj(v)) {
    checkKeys(v, ['size'], where);
    if (!isNatural(v.size)) malformed(where, '{"size": N} needs an integer N >= 0');
    if (v.size > MAX_SIZE) malformed(where, `{"size": N} needs N <= ${MAX_SIZE}`);
    return;
  }
  malformed(where, `byte-mode chunk must be a string, {"size": N} or {"hex": "..."}, got ${show(v)}`);
}

// The largest {"size": N} chunk (16 MiB), as the format says.
const MAX_SIZE = 16 * 1024 * 1024;

// Builds the per-stream record (`st`) from its spec, checking the spec.
function checkStreamSpec(name, spec, signals) {
  const where = `streams.${name}`;
  // Format (File): "A stream may not be named t."
  if (name === 't') malformed(where, 'a stream may not be named "t"');
  if (!isObj(spec)) malformed(where, 'a stream must be an object');
  const kind = spec.kind;
  if (!has(KIND_OPTIONS, kind)) malformed(where, `unknown kind ${show(kind)}`);
  checkKeys(spec, [...COMMON_OPTIONS, ...KIND_OPTIONS[kind]], where);

  for (const k of ['highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark']) {
    if (has(spec, k) && !isNatural(spec[k])) malformed(`${where}.${k}`, 'must be an integer >= 0');
  }
  for (const k of ['objectMode', 'autoDestroy', 'emitClose', 'writev']) {
    if (has(spec, k) && !isBool(spec[k])) malformed(`${where}.${k}`, 'must be a boolean');
  }
  const oneOf = (k, values) => {
    if (has(spec, k) && !values.includes(spec[k])) {
      malformed(`${where}.${k}`, `must be one of ${values.map(show).join(', ')}`);
    }
  };
  oneOf('write', ['sync', 'manual']);
  oneOf('final', ['none', 'sync', 'manual']);
  oneOf('read', ['manual', 'sync']);
  oneOf('transform', ['identity', 'upper', 'manual', 'twice', 'lines']);
  // v1.3: `signal` names one of `signals`.
  if (has(spec, 'signal') && !signals.has(spec.signal)) malformed(`${where}.signal`, `unknown signal ${show(spec.signal)}`);

  const st = {
    name,
    kind,
    spec,
    objectMode: spec.objectMode === true,
    // Per side (v1.3 "lines": a byte-mode writable side, an object-mode readable side).
    wObj: spec.objectMode === true,
    rObj: spec.objectMode === true || spec.transform === 'lines',
    decoding: false, // setEncoding was called: its readable side gives strings
    remainder: '', // "lines": the text after the last newline
    cleanup: null, // finishedCleanup: the function of the latest finished with cleanup
    hasW: kind !== 'readable',
    hasR: kind !== 'writable',
    duplex: kind === 'transform' || kind === 'passthrough',
    write: spec.write ?? 'manual',
    writev: spec.writev === true,
    final: spec.final ?? 'none',
    read: spec.read ?? 'manual',
    source: spec.source,
    sourceNext: 0,
    transform: spec.transform ?? 'identity',
    hooks: new Set(), // hook names this stream traces
    stream: null, // the Node stream
    pending: [], // Format (complete): pending _write/_writev/_transform callbacks, oldest first
    lastCompleted: null, // Format (complete, again): most recently completed callback
    pendingFinal: null, // Format (completeFinal): pending _final callback
    hookListeners: {}, // hook name -> [{ once, fired, then, top }]
  };

  // Format (File): "No byte-mode side may use Node's default: give
  // highWaterMark, or on a transform both per-side values
  // (readableHighWaterMark: 0 alone also makes the writable side 0)."
  // v1.3 "lines": no objectMode, no flush, writableHighWaterMark required.
  if (st.transform === 'lines' && kind === 'transform') {
    if (has(spec, 'objectMode')) malformed(`${where}.objectMode`, '"lines" may not be given objectMode');
    if (has(spec, 'flush')) malformed(`${where}.flush`, '"lines" may not be given flush');
    if (!has(spec, 'writableHighWaterMark')) malformed(where, '"lines" needs writableHighWaterMark');
  }
  {
    const hwm = has(spec, 'highWaterMark');
    const rMarked = hwm || has(spec, 'readableHighWaterMark');
    const wMarked = hwm || has(spec, 'writableHighWaterMark') || spec.readableHighWaterMark === 0;
    if ((st.hasR && !st.rObj && !rMarked) || (st.hasW && !st.wObj && !wMarked)) {
      malformed(where, 'byte-mode side without a highWaterMark (Node\'s default differs between versions)');
    }
  }

  // Format: "source without read: "sync"" is malformed.
  if (has(spec, 'source')) {
    if (st.read !== 'sync') malformed(`${where}.source`, 'source needs read: "sync"');
    if (!Array.isArray(spec.source)) malformed(`${where}.source`, 'must be an array of chunks and null');
    spec.source.forEach((c, i) => checkChunk(st, c, `${where}.source[${i}]`, true, 'r'));
  }
  // Format: ""upper" in object mode" is malformed.
  if (st.transform === 'upper' && st.objectMode) malformed(`${where}.transform`, '"upper" needs byte mode');
  if (has(spec, 'flush')) checkChunk(st, spec.flush, `${where}.flush`, false, 'r');

  // Format (kinds): which hooks each kind traces.
  if (kind === 'writable') {
    st.hooks.add('_write');
    if (st.writev) st.hooks.add('_writev');
    if (st.final !== 'none') st.hooks.add('_final');
  } else if (kind === 'readable') {
    st.hooks.add('_read');
  } else if (kind === 'transform') {
    st.hooks.add('_transform');
    if (has(spec, 'flush') || st.transform === 'lines') st.hooks.add('_flush');
  }
  for (const h of HOOK_EVENTS) st.hookListeners[h] = [];
  return st;
}

// Checks one step (recursively through `then`) and records callback labels.
// `top` is the index of the top-level step it belongs to.
function checkStep(ctx, step, where, top, nested) {
  if (!isObj(step)) malformed(where, 'a step must be an object');
  const kind = step.do;
  if (typeof kind !== 'string' || !has(STEP_KEYS, kind)) malformed(where, `unknown step ${show(kind)}`);
  const keys = STEP_KEYS[kind];
  checkKeys(step, ['do', ...keys.req, ...keys.opt], where);
  for (const k of keys.req) if (!has(step, k)) malformed(where, `"${kind}" needs "${k}"`);

  // Format: "tick inside then" is malformed.
  if (kind === 'tick' && nested) malformed(where, '"tick" is not allowed inside "then"');

  const streamOf = (k) => {
    const n = step[k];
    if (typeof n !== 'string' || !ctx.streams.has(n)) malformed(`${where}.${k}`, `unknown stream ${show(n)}`);
    return ctx.streams.get(n);
  };
  const needSide = (st, side, k) => {
    if (side === 'w' && !st.hasW) malformed(`${where}.${k}`, `"${kind}" needs a writable side, ${st.name} is a ${st.kind}`);
    if (side === 'r' && !st.hasR) malformed(`${where}.${k}`, `"${kind}" needs a readable side, ${st.name} is a ${st.kind}`);
  };

  let st = null;
  if (has(step, 'stream')) {
    st = streamOf('stream');
    if (keys.side) needSide(st, keys.side, 'stream');
  }

  // Format: "cb is true or a label string"; a label shared across streams or
  // dos is malformed; its lines carry the step of its first use in file order.
  if (has(step, 'cb')) {
    const cb = step.cb;
    if (cb !== true && typeof cb !== 'string') malformed(`${where}.cb`, 'cb must be true or a label string');
    if (typeof cb === 'string') {
      const first = ctx.labels.get(cb);
      if (!first) ctx.labels.set(cb, { label: cb, stream: st.name, do: kind, step: top, fn: null });
      else if (first.stream !== st.name || first.do !== kind) {
        malformed(`${where}.cb`, `label ${show(cb)} is shared across streams or steps (first: ${first.do} on ${first.stream})`);
      }
    }
  }

  if (has(step, 'chunk')) checkChunk(st, step.chunk, `${where}.chunk`, kind !== 'end', keys.side);
  // v1.3: `error` of `finished` is a boolean option; elsewhere a code string.
  if (kind !== 'finished' && has(step, 'error') && (typeof step.error !== 'string' || step.error === '')) {
    malformed(`${where}.error`, 'error must be a code string');
  }
  // v1.3: `signal` names one of `signals`.
  if (has(step, 'signal') && !ctx.signals.has(step.signal)) malformed(`${where}.signal`, `unknown signal ${show(step.signal)}`);

  switch (kind) {
    case 'complete': {
      if (has(step, 'again') && !isBool(step.again)) malformed(`${where}.again`, 'must be a boolean');
      // Format: value only on a manual transform.
      if (has(step, 'value')) {
        if (!(st.kind === 'transform' && st.transform === 'manual')) {
          malformed(`${where}.value`, '"value" only on a manual transform');
        }
        checkChunk(st, step.value, `${where}.value`, false, 'r');
      }
      // Format: complete needs a stream with traced _write/_writev/_transform
      // callbacks; without `again`, on a stream whose hook completes by
      // itself, it is malformed.
      if (st.kind !== 'writable' && st.kind !== 'transform') {
        malformed(`${where}.stream`, `"complete" needs a writable or transform, ${st.name} is a ${st.kind}`);
      }
      const selfCompleting = st.kind === 'writable' ? st.write === 'sync' : st.transform !== 'manual';
      if (selfCompleting && step.again !== true) {
        malformed(where, `"complete" without "again" on ${st.name}, whose hook completes by itself`);
      }
      break;
    }
    case 'completeFinal':
      // Format: completeFinal with nothing pending; a stream without a traced
      // _final never has one pending.
      if (st.kind !== 'writable' || st.final === 'none') {
        malformed(`${where}.stream`, `"completeFinal" needs a writable with "final", ${st.name} has none`);
      }
      break;
    case 'read':
      if (has(step, 'n') && !isNatural(step.n)) malformed(`${where}.n`, 'must be an integer >= 0');
      break;
    case 'pipe':
    case 'unpipe': {
      needSide(streamOf('from'), 'r', 'from');
      if (has(step, 'to')) needSide(streamOf('to'), 'w', 'to');
      if (has(step, 'end') && !isBool(step.end)) malformed(`${where}.end`, 'must be a boolean');
      break;
    }
    case 'pipelineAsync':
      if (has(step, 'end') && !isBool(step.end)) malformed(`${where}.end`, 'must be a boolean');
    // falls through: validated as pipeline
    case 'pipeline': {
      // Format: pipeline with fewer than 2 streams, a first that is not
      // readable, a last that is not writable or a middle that is not a
      // duplex is malformed.
      const names = step.streams;
      if (!Array.isArray(names)) malformed(`${where}.streams`, 'must be an array of stream names');
      if (names.length < 2) malformed(`${where}.streams`, 'pipeline needs at least 2 streams');
      names.forEach((n, i) => {
        if (typeof n !== 'string' || !ctx.streams.has(n)) malformed(`${where}.streams[${i}]`, `unknown stream ${show(n)}`);
        const s = ctx.streams.get(n);
        if (i === 0 && !s.hasR) malformed(`${where}.streams[0]`, `first pipeline stream ${n} is not readable`);
        if (i === names.length - 1 && !s.hasW) malformed(`${where}.streams[${i}]`, `last pipeline stream ${n} is not writable`);
        if (i > 0 && i < names.length - 1 && !s.duplex) malformed(`${where}.streams[${i}]`, `middle pipeline stream ${n} is not a duplex`);
      });
      break;
    }
    case 'on':
    case 'once': {
      // Format: unknown event; a hook name only on a stream that traces it.
      const ev = step.event;
      const valid = [
        ...(st.hasW ? WRITABLE_EVENTS : []),
        ...(st.hasR ? [...READABLE_EVENTS, ...READABLE_ON_ONLY] : []),
        ...HOOK_EVENTS.filter((h) => st.hooks.has(h)),
      ];
      if (typeof ev !== 'string' || !valid.includes(ev)) {
        malformed(`${where}.event`, `unknown event ${show(ev)} for ${st.name} (a ${st.kind})`);
      }
      if (has(step, 'then')) {
        if (!Array.isArray(step.then)) malformed(`${where}.then`, 'must be an array of steps');
        step.then.forEach((s, i) => checkStep(ctx, s, `${where}.then[${i}]`, top, true));
      }
      break;
    }
    case 'setEncoding':
      // v1.3: setEncoding on an object-mode side is malformed.
      if (st.rObj) malformed(`${where}.stream`, `"setEncoding" needs a byte-mode readable side, ${st.name} has none`);
      break;
    case 'finished':
      for (const k of ['readable', 'writable', 'error', 'cleanup']) {
        if (has(step, k) && !isBool(step[k])) malformed(`${where}.${k}`, 'must be a boolean');
      }
      break;
    default:
      break;
  }
}

function checkScenario(sc) {
  if (!isObj(sc)) malformed('', 'a scenario must be a JSON object');
  checkKeys(sc, ['name', 'about', 'signals', 'streams', 'steps'], '(top level)');
  for (const k of ['name', 'about']) {
    if (has(sc, k) && typeof sc[k] !== 'string') malformed(k, 'must be a string');
  }
  if (!isObj(sc.streams)) malformed('streams', 'must be an object of streams');
  if (!Array.isArray(sc.steps)) malformed('steps', 'must be an array of steps');

  // v1.3: `signals`, names non-empty, unique, not stream names.
  const signals = new Map();
  if (has(sc, 'signals')) {
    if (!Array.isArray(sc.signals)) malformed('signals', 'must be an array of names');
    sc.signals.forEach((n, i) => {
      if (typeof n !== 'string' || n === '') malformed(`signals[${i}]`, 'a signal name is a non-empty string');
      if (signals.has(n)) malformed(`signals[${i}]`, `signal ${show(n)} is given twice`);
      if (has(sc.streams, n)) malformed(`signals[${i}]`, `signal ${show(n)} is also a stream name`);
      signals.set(n, null);
    });
  }
  const ctx = { streams: new Map(), labels: new Map(), signals };
  for (const [name, spec] of Object.entries(sc.streams)) ctx.streams.set(name, checkStreamSpec(name, spec, signals));
  // Depth-first, file order: a step's `then` comes before the next step.
  sc.steps.forEach((s, i) => checkStep(ctx, s, `steps[${i}]`, i, false));
  return ctx;
}

// ---------------------------------------------------------------------------
// Streams: creation, hooks and traced events.

let ctx = null; // { streams: Map name -> st, labels: Map label -> {...} }
const nameOf = new Map(); // Node stream -> scenario name

// Format (on/once with a hook name): "the hook prints its line, runs the then
// of its listeners, then does its own synchronous part". This runs the
// listeners, like EventEmitter does: in order of addition, on a snapshot,
// `once` ones removed before they run.
function runHookListeners(st, name) {
  const list = st.hookListeners[name];
  for (const l of list.slice()) {
    if (l.once) {
      if (l.fired) continue;
      l.fired = true;
      list.splice(list.indexOf(l), 1);
    }
    runSteps(l.then, l.top, l.where);
  }
}

// A _write/_writev/_transform callback: pending from its hook line on
// (Format: "Its callback counts as pending from its line on").
function hookWithCallback(st, name, fields, cb, selfComplete, pushes) {
  const entry = { cb };
  trace({ t: 'hook', s: st.name, name, ...fields });
  st.pending.push(entry);
  runHookListeners(st, name);
  // v1.3 "twice"/"lines": their pushes come after the listeners, while the
  // callback is still pending.
  if (pushes) pushes();
  if (selfComplete) {
    // The hook's own synchronous part: a "sync" callback.
    const i = st.pending.indexOf(entry);
    if (i >= 0) st.pending.splice(i, 1);
    st.lastCompleted = cb;
    selfComplete(cb);
  }
}

// Common options: each only when given (omitted means the library default).
function commonOptions(spec) {
  const o = {};
  for (const k of ['highWaterMark', 'objectMode', 'autoDestroy', 'emitClose']) if (has(spec, k)) o[k] = spec[k];
  // v1.3: `signal`, the AbortController's signal (Node's constructor option).
  if (has(spec, 'signal')) o.signal = ctx.signals.get(spec.signal).signal;
  return o;
}

function createWritable(st) {
  const opts = commonOptions(st.spec);
  // Format: `_write` is traced; "sync" calls back before returning, "manual"
  // keeps the callback until a `complete` step.
  opts.write = (chunk, _enc, cb) => {
    hookWithCallback(st, '_write', { chunk: renderChunk(st, chunk, 'w') }, cb, st.write === 'sync' ? (f) => f() : null);
  };
  if (st.writev) {
    opts.writev = (chunks, cb) => {
      const rendered = chunks.map((c) => renderChunk(st, c.chunk, 'w'));
      hookWithCallback(st, '_writev', { chunks: rendered }, cb, st.write === 'sync' ? (f) => f() : null);
    };
  }
  // Format: `_final` likewise, completed by `completeFinal`.
  if (st.final !== 'none') {
    opts.final = (cb) => {
      trace({ t: 'hook', s: st.name, name: '_final' });
      st.pendingFinal = cb;
      runHookListeners(st, '_final');
      if (st.final === 'sync') {
        st.pendingFinal = null;
        cb();
      }
    };
  }
  return new Writable(opts);
}

function createReadable(st) {
  const opts = commonOptions(st.spec);
  // Format: `_read(size)` is traced; "sync" pushes the next item of `source`
  // synchronously inside `_read` (nothing once `source` is used up).
  opts.read = (size) => {
    trace({ t: 'hook', s: st.name, name: '_read', size });
    runHookListeners(st, '_read');
    if (st.read === 'sync' && st.source && st.sourceNext < st.source.length) {
      const item = st.source[st.sourceNext++];
      st.stream.push(toChunk(st, item, 'r'));
    }
  };
  return new Readable(opts);
}

function createTransform(st) {
  const opts = commonOptions(st.spec);
  for (const k of ['readableHighWaterMark', 'writableHighWaterMark']) if (has(st.spec, k)) opts[k] = st.spec[k];
  if (st.transform === 'lines') opts.readableObjectMode = true;
  // Format: `_transform` is traced; identity/upper call back synchronously,
  // manual keeps the callback until `complete` (whose `value` is passed).
  // v1.3: "twice" pushes the chunk twice then calls cb(); "lines" pushes
  // each complete line of the kept text then calls cb().
  opts.transform = (chunk, _enc, cb) => {
    let self = null;
    let pushes = null;
    if (st.transform === 'identity') self = (f) => f(null, chunk);
    if (st.transform === 'upper') {
      self = (f) => f(null, Buffer.from(chunk.toString().toUpperCase()));
    }
    if (st.transform === 'twice') {
      pushes = () => {
        st.stream.push(chunk);
        st.stream.push(chunk);
      };
      self = (f) => f();
    }
    if (st.transform === 'lines') {
      // Format: a chunk that is not whole UTF-8 characters is malformed
      // when it arrives.
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(chunk);
      } catch {
        malformed(`streams.${st.name}`, `a chunk reached the "lines" _transform that is not whole UTF-8 characters`);
      }
      pushes = () => {
        const parts = (st.remainder + text).split('\n');
        st.remainder = parts.pop();
        for (const line of parts) st.stream.push(line);
      };
      self = (f) => f();
    }
    hookWithCallback(st, '_transform', { chunk: renderChunk(st, chunk, 'w') }, cb, self, pushes);
  };
  // v1.3 "lines": _flush (always there) pushes the remainder if not empty.
  if (st.transform === 'lines') {
    opts.flush = (cb) => {
      trace({ t: 'hook', s: st.name, name: '_flush' });
      if (st.remainder !== '') st.stream.push(st.remainder);
      st.remainder = '';
      cb();
    };
  }
  // Format: with `flush` absent there is no _flush at all; present, _flush
  // prints its hook line and calls cb(null, flush) synchronously.
  if (has(st.spec, 'flush')) {
    opts.flush = (cb) => {
      trace({ t: 'hook', s: st.name, name: '_flush' });
      cb(null, toChunk(st, st.spec.flush, 'r'));
    };
  }
  return new Transform(opts);
}

function createPassThrough(st) {
  // Format: Node's PassThrough; no hook is traced.
  return new PassThrough(commonOptions(st.spec));
}

const CREATE = {
  writable: createWritable,
  readable: createReadable,
  transform: createTransform,
  passthrough: createPassThrough,
};

// Format (Trace): events traced from creation on, listeners added before
// step 0; an event both sides emit (close, error) is listened to once.
function addTracedListeners(st) {
  const events = [];
  if (st.hasW) events.push(...WRITABLE_EVENTS);
  if (st.hasR) for (const e of READABLE_EVENTS) if (!events.includes(e)) events.push(e);
  for (const ev of events) {
    st.stream.on(ev, (arg) => {
      const line = { t: 'event', s: st.name, name: ev };
      if (ev === 'error') line.err = renderError(arg);
      if (ev === 'pipe' || ev === 'unpipe') line.src = nameOf.get(arg) ?? null;
      trace(line);
    });
  }
}

// Format (File): "Streams are created in the order listed, before step 0."
function createStreams() {
  // v1.3: the AbortControllers, in order, before the streams.
  for (const n of ctx.signals.keys()) ctx.signals.set(n, new AbortController());
  for (const st of ctx.streams.values()) {
    st.stream = CREATE[st.kind](st);
    nameOf.set(st.stream, st.name);
  }
  for (const st of ctx.streams.values()) addTracedListeners(st);
}

// Format (Trace, state): "after every top-level step", one key per stream,
// exactly the keys of its sides.
function traceState() {
  const line = { t: 'state' };
  for (const st of ctx.streams.values()) {
    const s = st.stream;
    const o = {};
    if (st.hasW) {
      o.len = s.writableLength;
      o.needDrain = s.writableNeedDrain;
      o.corked = s.writableCorked;
      o.ended = s.writableEnded;
      o.finished = s.writableFinished;
    }
    if (st.hasR) {
      o.rlen = s.readableLength;
      o.flowing = s.readableFlowing;
      o.rended = s.readableEnded;
    }
    o.destroyed = s.destroyed;
    line[st.name] = o;
  }
  trace(line);
}

// ---------------------------------------------------------------------------
// Steps. Each `do` has one function; each prints its `call` line after the
// call returns (Format: every step except tick prints one, nested too), with
// `throw` (the error's code) instead of `ret` when the call threw.

const THREW = Symbol('threw');

function call(s, m, fn, ret) {
  const line = { t: 'call', s, m };
  let r;
  try {
    r = fn();
    if (ret) line.ret = ret(r);
  } catch (e) {
    r = THREW;
    line.throw = renderError(e);
  }
  trace(line);
  return r;
}

const S = (name) => ctx.streams.get(name);

// Format (cb): `true` is a new callback for this step; a label is one
// function shared by all steps giving it, traced with that label and the
// `step` of its first use. `top` is the index of the enclosing top-level step.
function callbackFor(step, top) {
  if (step.cb === true) {
    const s = step.stream;
    return (err) => trace({ t: 'cb', s, m: step.do, step: top, err: renderError(err) });
  }
  const l = ctx.labels.get(step.cb);
  if (!l.fn) {
    l.fn = (err) => trace({ t: 'cb', s: l.stream, m: l.do, step: l.step, err: renderError(err), cb: l.label });
  }
  return l.fn;
}

function doWrite(step, top) {
  const st = S(step.stream);
  const chunk = toChunk(st, step.chunk, 'w');
  const args = has(step, 'cb') ? [chunk, callbackFor(step, top)] : [chunk];
  call(st.name, 'write', () => st.stream.write(...args), (r) => r);
}

function doEnd(step, top) {
  const st = S(step.stream);
  const args = [];
  if (has(step, 'chunk')) args.push(toChunk(st, step.chunk, 'w'));
  if (has(step, 'cb')) args.push(callbackFor(step, top));
  call(st.name, 'end', () => st.stream.end(...args));
}

function doCork(step) {
  const st = S(step.stream);
  call(st.name, 'cork', () => st.stream.cork());
}

function doUncork(step) {
  const st = S(step.stream);
  call(st.name, 'uncork', () => st.stream.uncork());
}

function doDestroy(step) {
  const st = S(step.stream);
  const args = has(step, 'error') ? [makeError(step.error)] : [];
  call(st.name, 'destroy', () => st.stream.destroy(...args));
}

// Format (complete): the oldest pending _write/_writev/_transform callback,
// called as cb(), cb(err) or cb(null, value) (error wins over value). With
// `again`, the most recently completed callback once more; `again` with
// nothing completed or while a callback is pending is malformed, and so is
// `complete` with nothing pending (detected here, while running).
function doComplete(step, _top, where) {
  const st = S(step.stream);
  let cb;
  if (step.again === true) {
    if (st.pending.length > 0) malformed(where, `"again" on ${st.name} while a callback is pending`);
    if (!st.lastCompleted) malformed(where, `"again" on ${st.name} with nothing completed yet`);
    cb = st.lastCompleted;
  } else {
    if (st.pending.length === 0) malformed(where, `"complete" on ${st.name} with nothing pending`);
    cb = st.pending.shift().cb;
    st.lastCompleted = cb;
  }
  let args = [];
  if (has(step, 'error')) args = [makeError(step.error)];
  else if (has(step, 'value')) args = [null, toChunk(st, step.value, 'r')];
  call(st.name, 'complete', () => cb(...args));
}

// Format (completeFinal): calls the pending _final callback.
function doCompleteFinal(step, _top, where) {
  const st = S(step.stream);
  if (!st.pendingFinal) malformed(where, `"completeFinal" on ${st.name} with nothing pending`);
  const cb = st.pendingFinal;
  st.pendingFinal = null;
  const args = has(step, 'error') ? [makeError(step.error)] : [];
  call(st.name, 'completeFinal', () => cb(...args));
}

function doPush(step) {
  const st = S(step.stream);
  const chunk = toChunk(st, step.chunk, 'r');
  call(st.name, 'push', () => st.stream.push(chunk), (r) => r);
}

function doUnshift(step) {
  const st = S(step.stream);
  const chunk = toChunk(st, step.chunk, 'r');
  call(st.name, 'unshift', () => st.stream.unshift(chunk));
}

function doRead(step) {
  const st = S(step.stream);
  const args = has(step, 'n') ? [step.n] : [];
  call(st.name, 'read', () => st.stream.read(...args), (r) => renderChunk(st, r ?? null, 'r'));
}

// Format (readAll): s.read() repeated until it returns null; one call line
// per read(), the last with null.
const READ_ALL_LIMIT = 100000;
function doReadAll(step, _top, where) {
  const st = S(step.stream);
  for (let i = 0; ; i++) {
    // Not a format rule: a guard against a scenario whose reads never end.
    if (i >= READ_ALL_LIMIT) malformed(where, `readAll: read() did not return null after ${READ_ALL_LIMIT} calls`);
    const r = call(st.name, 'readAll', () => st.stream.read(), (v) => renderChunk(st, v ?? null, 'r'));
    if (r === THREW || r === null || r === undefined) return;
  }
}

function doPause(step) {
  const st = S(step.stream);
  call(st.name, 'pause', () => st.stream.pause());
}

function doResume(step) {
  const st = S(step.stream);
  call(st.name, 'resume', () => st.stream.resume());
}

// Format (pipe): from.pipe(to[, {end}]); the call line names `from`.
function doPipe(step) {
  const from = S(step.from);
  const to = S(step.to);
  const args = has(step, 'end') ? [to.stream, { end: step.end }] : [to.stream];
  call(from.name, 'pipe', () => from.stream.pipe(...args));
}

function doUnpipe(step) {
  const from = S(step.from);
  const args = has(step, 'to') ? [S(step.to).stream] : [];
  call(from.name, 'unpipe', () => from.stream.unpipe(...args));
}

// Format (pipeline): stream.pipeline(...streams, cb); the callback is traced
// and both lines name the first stream.
function doPipeline(step, top) {
  const sts = step.streams.map(S);
  const s = sts[0].name;
  const cb = (err) => trace({ t: 'cb', s, m: 'pipeline', step: top, err: renderError(err) });
  call(s, 'pipeline', () => pipeline(...sts.map((x) => x.stream), cb));
}

// Format (finished): stream.finished(s[, opts], cb); the callback is traced.
// v1.3: an options object only when readable, writable, error or signal is
// given; with cleanup: true the returned function is kept for finishedCleanup.
function doFinished(step, top) {
  const st = S(step.stream);
  const cb = (err) => trace({ t: 'cb', s: st.name, m: 'finished', step: top, err: renderError(err) });
  const opts = {};
  let withOpts = false;
  for (const k of ['readable', 'writable', 'error']) {
    if (has(step, k)) {
      opts[k] = step[k];
      withOpts = true;
    }
  }
  if (has(step, 'signal')) {
    opts.signal = ctx.signals.get(step.signal).signal;
    withOpts = true;
  }
  const args = withOpts ? [st.stream, opts, cb] : [st.stream, cb];
  const r = call(st.name, 'finished', () => finished(...args));
  if (step.cleanup === true && r !== THREW) st.cleanup = r;
}

// v1.3 (finishedCleanup): calls the function kept by the latest finished
// with cleanup: true on that stream; none kept yet is malformed.
function doFinishedCleanup(step, _top, where) {
  const st = S(step.stream);
  if (!st.cleanup) malformed(where, `"finishedCleanup" on ${st.name} with no finished cleanup kept`);
  const f = st.cleanup;
  call(st.name, 'finishedCleanup', () => f());
}

// v1.3 (setEncoding): s.setEncoding('utf8'); from then on its readable side
// gives decoded strings.
function doSetEncoding(step) {
  const st = S(step.stream);
  call(st.name, 'setEncoding', () => st.stream.setEncoding('utf8'));
  st.decoding = true;
}

// v1.3 (abort): ac.abort(); the call line names the signal.
function doAbort(step) {
  const ac = ctx.signals.get(step.signal);
  call(step.signal, 'abort', () => ac.abort());
}

// v1.3 (addAbortSignal): stream.addAbortSignal(ac.signal, s); the call line
// names the stream.
function doAddAbortSignal(step) {
  const st = S(step.stream);
  const ac = ctx.signals.get(step.signal);
  call(st.name, 'addAbortSignal', () => addAbortSignal(ac.signal, st.stream));
}

// v1.3 (pipelineAsync): require('stream/promises').pipeline(...streams,
// opts); a cb line from its then handlers when the promise settles. The call
// line has no ret and never a throw (a synchronous failure rejects).
function doPipelineAsync(step, top) {
  const sts = step.streams.map(S);
  const s = sts[0].name;
  const opts = {};
  if (has(step, 'end')) opts.end = step.end;
  if (has(step, 'signal')) opts.signal = ctx.signals.get(step.signal).signal;
  const settled = (err) => trace({ t: 'cb', s, m: 'pipelineAsync', step: top, err: renderError(err) });
  call(s, 'pipelineAsync', () => {
    pipelinePromise(...sts.map((x) => x.stream), opts).then(
      () => settled(null),
      (e) => settled(e),
    );
  });
}

// Format (on/once): a listener that runs `then` synchronously each time (or
// once). For data and readable the listener also prints the event line
// before its `then` runs. A hook name adds a listener run inside the hook.
function doOn(step, top, where) {
  const st = S(step.stream);
  const then = step.then ?? [];
  const ev = step.event;
  if (HOOK_EVENTS.includes(ev)) {
    call(st.name, step.do, () => {
      st.hookListeners[ev].push({ once: step.do === 'once', fired: false, then, top, where: `${where}.then` });
    });
    return;
  }
  const listener = (arg) => {
    if (ev === 'data') trace({ t: 'event', s: st.name, name: 'data', chunk: renderChunk(st, arg, 'r') });
    if (ev === 'readable') trace({ t: 'event', s: st.name, name: 'readable' });
    runSteps(then, top, `${where}.then`);
  };
  call(st.name, step.do, () => st.stream[step.do](ev, listener));
}

const STEP_FUNCTIONS = {
  write: doWrite,
  end: doEnd,
  cork: doCork,
  uncork: doUncork,
  destroy: doDestroy,
  complete: doComplete,
  completeFinal: doCompleteFinal,
  push: doPush,
  unshift: doUnshift,
  read: doRead,
  readAll: doReadAll,
  pause: doPause,
  resume: doResume,
  pipe: doPipe,
  unpipe: doUnpipe,
  pipeline: doPipeline,
  finished: doFinished,
  on: doOn,
  once: doOn,
  setEncoding: doSetEncoding,
  abort: doAbort,
  addAbortSignal: doAddAbortSignal,
  pipelineAsync: doPipelineAsync,
  finishedCleanup: doFinishedCleanup,
};

// Runs nested steps (a `then` list found at `where`); `top` is the
// enclosing top-level step.
function runSteps(steps, top, where) {
  steps.forEach((step, i) => STEP_FUNCTIONS[step.do](step, top, `${where}[${i}]`));
}

// Format (tick): "await new Promise(r => setImmediate(r))".
const tick = () => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------
// Main. Top-level steps run synchronously one after another; only `tick`
// lets the event loop run. A state line follows every top-level step.

async function main() {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) {
    writeAll(2, 'usage: node conformance/node/runner.mjs FILE.json\n');
    process.exit(2);
  }
  scenarioFile = file;
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    malformed('', `cannot read the file: ${e.message}`);
  }
  let sc;
  try {
    sc = JSON.parse(text);
  } catch (e) {
    malformed('', `not JSON: ${e.message}`);
  }
  ctx = checkScenario(sc);
  // Format (v1.3, "Steps run inside a promise job"): from here on main runs
  // as a promise job, so a microtask a step queues runs before the
  // process.nextTick callbacks it queues.
  await null;
  createStreams();

  for (let i = 0; i < sc.steps.length; i++) {
    const step = sc.steps[i];
    if (step.do === 'tick') await tick();
    else STEP_FUNCTIONS[step.do](step, i, `steps[${i}]`);
    traceState();
  }
  tracing = false;
  flushTrace();
  process.exit(0);
}

main();
