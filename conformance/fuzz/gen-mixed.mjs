// Scenario generator of the differential fuzzer for every stream kind
// (readable, writable, transform, passthrough) and the pipe, pipeline and
// finished steps. Used by differential.mjs (see README.md beside this file);
// the writable-only generator stays in differential.mjs.
//
// Generated scenarios are valid by construction as far as the format's
// static rules go; the few run-time rules (`complete` with nothing pending,
// ...) are only steered by a light model, and differential.mjs repairs what
// it gets wrong by asking Node.
//
// Finite runs. Every top-level step is bounded; what could loop is a
// listener that fires again because of what its own `then` does. So:
//  - streams are ordered (readables, then duplexes, then writables) and a
//    pipe or pipeline always goes from a lower to a higher stream, so the
//    graph of pipes is acyclic;
//  - a listener is "persistent" when it is an `on` of a recurring event
//    (data, readable, pause, resume, drain, pipe, unpipe, or a hook), or is
//    nested in one. The `then` of a persistent listener of stream S may
//    only produce data (push, unshift, write, end) on streams after S (and
//    after every persistent listener it is nested in): anything it causes
//    then flows away from S. Consuming steps (read, readAll, pause, resume,
//    destroy, complete, unpipe, finished) are allowed on any stream, but
//    not `read` of 0 (it can re-emit `readable` forever), not pause/resume
//    from a pause/resume listener (resume emits `resume` on the next tick,
//    pause emits `pause`: the two would ping-pong forever), not pipe/unpipe
//    from a pipe/unpipe listener, and no pipe, pipeline or `again`;
//  - listeners added inside `then` are always `once`, nested at most twice;
//  - end, finish, prefinish, close and error are emitted at most once, so an
//    `on` listener of them is not persistent.

export const STREAM_KINDS = ['readable', 'transform', 'passthrough', 'writable'];
export const FEATURES = ['pipe', 'pipeline', 'finished'];

const ERROR_CODES = ['EIO', 'EPIPE', 'EBAD'];
const NAMES = { readable: ['r', 'q'], transform: ['u', 'v'], passthrough: ['p', 'o'], writable: ['w', 'x', 'y'] };
const ORDER = { readable: 0, transform: 1, passthrough: 1, writable: 2 };

const hasR = (k) => k !== 'writable';
const hasW = (k) => k !== 'readable';
const isDuplex = (k) => k === 'transform' || k === 'passthrough';

const RECURRING = new Set(['data', 'readable', 'pause', 'resume', 'drain', 'pipe', 'unpipe',
  '_read', '_write', '_writev', '_transform', '_final']);
const PRODUCING = new Set(['push', 'unshift', 'write', 'end']);

// ---------------------------------------------------------------------------
// Streams

function genMark(rng) {
  return rng.weighted([[3, () => rng.int(0, 4)], [4, () => rng.int(0, 20)]])();
}

function commonOpts(rng, spec, objectMode) {
  if (objectMode) spec.objectMode = true;
  if (rng.chance(0.1)) spec.autoDestroy = false;
  if (rng.chance(0.1)) spec.emitClose = false;
}

function genChunkFor(rng, objectMode) {
  if (objectMode) {
    return rng.weighted([
      [4, () => rng.int(0, 99)],
      [4, () => rng.pick(['a', 'bb', 'ccc', '', 'obj'])],
      [1, () => rng.chance(0.5)],
      [1, () => [rng.int(0, 9), 'z']],
      [1, () => ({ k: rng.int(0, 9) })],
    ])();
  }
  return rng.weighted([
    [6, () => 'abcdefghijkl'.slice(0, rng.int(1, 8))],
    [1, () => ''],
    [3, () => ({ size: rng.int(0, 24) })],
    [1, () => ({ size: rng.int(25, 60) })],
  ])();
}

function genSpec(rng, kind) {
  const spec = { kind };
  switch (kind) {
    case 'readable': {
      const objectMode = rng.chance(0.25);
      if (!objectMode || rng.chance(0.7)) spec.highWaterMark = genMark(rng);
      const read = rng.weighted([[45, 'manual'], [45, 'sync'], [10, undefined]]);
      if (read) spec.read = read;
      if (read === 'sync' && rng.chance(0.9)) {
        const n = rng.int(0, 7);
        const src = [];
        for (let i = 0; i < n; i++) src.push(rng.chance(0.04) ? null : genChunkFor(rng, objectMode));
        if (rng.chance(0.65)) src.push(null);
        spec.source = src;
      }
      commonOpts(rng, spec, objectMode);
      break;
    }
    case 'transform': {
      const objectMode = rng.chance(0.2);
      const tr = rng.weighted([[30, 'identity'], [objectMode ? 0 : 15, 'upper'], [40, 'manual'], [15, undefined]]);
      if (tr) spec.transform = tr;
      if (rng.chance(0.3)) spec.flush = genChunkFor(rng, objectMode);
      const marks = rng.weighted([[5, 'both'], [3, 'sides'], [2, 'rzero'], [objectMode ? 2 : 0, 'none']]);
      if (marks === 'both') spec.highWaterMark = genMark(rng);
      if (marks === 'sides') {
        spec.readableHighWaterMark = genMark(rng);
        spec.writableHighWaterMark = genMark(rng);
      }
      if (marks === 'rzero') spec.readableHighWaterMark = 0;
      commonOpts(rng, spec, objectMode);
      break;
    }
    case 'passthrough': {
      const objectMode = rng.chance(0.2);
      if (!objectMode || rng.chance(0.7)) spec.highWaterMark = genMark(rng);
      commonOpts(rng, spec, objectMode);
      break;
    }
    case 'writable': {
      const objectMode = rng.chance(0.2);
      if (!objectMode || rng.chance(0.7)) spec.highWaterMark = genMark(rng);
      const write = rng.weighted([[40, 'sync'], [45, 'manual'], [15, undefined]]);
      if (write) spec.write = write;
      if (rng.chance(0.3)) spec.writev = true;
      const final = rng.weighted([[45, undefined], [10, 'none'], [20, 'sync'], [25, 'manual']]);
      if (final) spec.final = final;
      commonOpts(rng, spec, objectMode);
      break;
    }
    default:
      throw new Error(`genSpec: ${kind}`);
  }
  return spec;
}

// The kinds of the run's streams, ordered (readables, duplexes, writables).
function chooseKinds(rng, kinds, features) {
  const n = rng.weighted([[20, 1], [35, 2], [27, 3], [14, 4], [4, 5]]);
  const rKinds = kinds.filter(hasR);
  const wKinds = kinds.filter(hasW);
  const dKinds = kinds.filter(isDuplex);
  const piping = features.has('pipe') || features.has('pipeline');
  let list = [];
  if (piping && n >= 2 && rKinds.length && wKinds.length && rng.chance(0.7)) {
    // A chain: a source, duplexes, one or two sinks.
    const pickPref = (arr, pref) => (arr.includes(pref) && rng.chance(0.6) ? pref : rng.pick(arr));
    list.push(pickPref(rKinds, 'readable'));
    const sinks = n >= 4 && rng.chance(0.3) ? 2 : 1;
    for (let i = 0; i < n - 1 - sinks; i++) list.push(dKinds.length ? rng.pick(dKinds) : rng.pick(kinds));
    for (let i = 0; i < sinks; i++) list.push(pickPref(wKinds, 'writable'));
  } else {
    for (let i = 0; i < n; i++) list.push(rng.pick(kinds));
  }
  // At most as many of a kind as there are names for it.
  const count = {};
  list = list.filter((k) => {
    count[k] = (count[k] ?? 0) + 1;
    return count[k] <= NAMES[k].length;
  });
  return list.map((k, i) => [k, i]).sort((a, b) => ORDER[a[0]] - ORDER[b[0]] || a[1] - b[1]).map((x) => x[0]);
}

// ---------------------------------------------------------------------------
// The light model: per stream, what the top-level steps did so far.

function newState(name, idx, spec) {
  const kind = spec.kind;
  return {
    name,
    idx,
    kind,
    spec,
    objectMode: spec.objectMode === true,
    r: hasR(kind),
    w: hasW(kind),
    duplex: isDuplex(kind),
    // its hook callbacks wait for `complete`
    manual: (kind === 'writable' && spec.write !== 'sync') || (kind === 'transform' && spec.transform === 'manual'),
    finalManual: kind === 'writable' && spec.final === 'manual',
    hooks: hooksOf(spec),
    writes: 0,
    completes: 0,
    ended: false,
    eof: false,
    destroyed: false,
    corked: 0,
    pipedIn: false,
    pipedOut: false,
  };
}

function hooksOf(spec) {
  switch (spec.kind) {
    case 'writable': {
      const h = ['_write'];
      if (spec.writev) h.push('_writev');
      if ((spec.final ?? 'none') !== 'none') h.push('_final');
      return h;
    }
    case 'readable': return ['_read'];
    case 'transform': return ['_transform'];
    default: return [];
  }
}

function eventsOf(st) {
  const ev = [];
  if (st.r) ev.push([6, 'data'], [3, 'readable'], [2, 'end'], [1, 'pause'], [1, 'resume']);
  if (st.w) ev.push([2, 'drain'], [1, 'prefinish'], [2, 'finish'], [1, 'pipe'], [1, 'unpipe']);
  ev.push([1.5, 'close'], [1.5, 'error']);
  for (const h of st.hooks) ev.push([h === '_writev' || h === '_final' ? 2 : 3, h]);
  return ev;
}

// ---------------------------------------------------------------------------
// Steps

function genCb(rng, stream, doName) {
  return rng.weighted([[50, undefined], [35, true], [15, `${stream}.${doName}.${rng.int(0, 1)}`]]);
}

// `ctx` is null at the top level, else it describes the `then` list being
// generated: { owner, event, hook, persistent, minIdx, banned, depth }.
function genStep(rng, g, ctx, progress) {
  const top = !ctx;
  const sts = g.list;
  const own = ctx ? g.list[ctx.owner] : null;
  const ownHook = ctx && ctx.hook ? own : null;
  const banned = ctx ? ctx.banned : new Set();
  // May this step produce data on st? (--avoid writev-reentry: no write of
  // a stream from its own _writev hook.)
  const canProduce = (st) => (!ctx || !ctx.persistent || st.idx > ctx.minIdx) &&
    !(ctx && ctx.event === '_writev' && ctx.owner === st.idx && g.avoid.has('writev-reentry'));
  const f = g.features;

  const any = (pred) => sts.some(pred);
  const pairs = []; // possible pipes
  for (const a of sts) for (const b of sts) if (a.idx < b.idx && a.r && b.w) pairs.push([a, b]);
  const manualPending = (st) => st.manual && !st.destroyed && (st.writes > st.completes || st.pipedIn);

  const w = (k, v) => (banned.has(k) ? 0 : v);
  const late = progress * progress;
  const kinds = [];
  kinds.push([w('write', any((s) => s.w && canProduce(s)) ? 12 : 0), 'write']);
  kinds.push([w('end', any((s) => s.w && canProduce(s)) ? (top ? 1 + 9 * late : 4) : 0), 'end']);
  kinds.push([w('cork', any((s) => s.w) ? 1.5 : 0), 'cork']);
  kinds.push([w('uncork', any((s) => s.w) ? (any((s) => s.corked > 0) ? 8 : 1.5) : 0), 'uncork']);
  kinds.push([w('push', any((s) => s.r && canProduce(s)) ? 14 : 0), 'push']);
  kinds.push([w('unshift', any((s) => s.r && canProduce(s)) ? 2.5 : 0), 'unshift']);
  kinds.push([w('read', any((s) => s.r) ? 8 : 0), 'read']);
  kinds.push([w('readAll', any((s) => s.r) ? 4 : 0), 'readAll']);
  kinds.push([w('pause', any((s) => s.r) ? 3 : 0), 'pause']);
  kinds.push([w('resume', any((s) => s.r) ? 4 : 0), 'resume']);
  kinds.push([w('destroy', top ? 0.8 : 1.2), 'destroy']);
  let wComplete = 0;
  if (top) wComplete = any(manualPending) ? 16 : 0;
  else if (ownHook && ownHook.manual && ['_write', '_writev', '_transform'].includes(ctx.event)) wComplete = 30;
  else if (any((s) => s.manual)) wComplete = 1;
  kinds.push([w('complete', wComplete), 'complete']);
  kinds.push([w('again', top && any((s) => s.manual && s.completes > 0) ? 0.7 : !top && !ctx.persistent && !ctx.hook && any((s) => s.manual) ? 0.3 : 0), 'again']);
  let wFinal = 0;
  if (top) wFinal = any((s) => s.finalManual && s.ended && !s.destroyed) ? 14 : 0;
  else if (ownHook && ownHook.finalManual && ctx.event === '_final') wFinal = 30;
  else if (any((s) => s.finalManual)) wFinal = 0.5;
  kinds.push([w('completeFinal', wFinal), 'completeFinal']);
  kinds.push([w('on', top ? 11 : ctx.depth < 2 ? 2.5 : 0), 'on']);
  const pipes = f.has('pipe') && pairs.length > 0;
  kinds.push([w('pipe', pipes ? (top ? 2 + 10 * (1 - progress) : ctx.persistent ? 0 : 1) : 0), 'pipe']);
  kinds.push([w('unpipe', pipes ? (top ? 2 : 1) : 0), 'unpipe']);
  kinds.push([top && f.has('pipeline') && pairs.length > 0 ? (g.pipelines === 0 ? 8 * (1 - progress) + 1 : 0.7) : 0, 'pipeline']);
  kinds.push([w('finished', f.has('finished') ? (top ? 3 : 1) : 0), 'finished']);
  kinds.push([top ? 11 : 0, 'tick']);

  // Inside a hook listener of a stream, mostly steps on that stream.
  // `weight` makes some streams less likely (at the top level, where the
  // model knows something: writes after end, pushes after EOF and steps on
  // destroyed streams mostly end in the same few errors).
  const pickStream = (pred, preferOwn = 0.6, weight = null) => {
    const ok = sts.filter(pred);
    if (ok.length === 0) return null;
    if (own && ok.includes(own) && rng.chance(preferOwn)) return own;
    if (!weight || !top) return rng.pick(ok);
    return rng.weighted(ok.map((st) => [weight(st) * (st.destroyed ? 0.2 : 1), st]));
  };

  for (let attempt = 0; attempt < 20; attempt++) {
    const kind = rng.weighted(kinds);
    const s = genOne(rng, g, ctx, kind, { pickStream, canProduce, pairs, manualPending, top, own });
    if (s) return s;
  }
  return fallbackStep(g, ctx);
}

function fallbackStep(g, ctx) {
  if (!ctx) return { do: 'tick' };
  const own = g.list[ctx.owner];
  return { do: 'destroy', stream: own.name };
}

const writeWeight = (st) => (st.ended ? 0.08 : st.pipedIn ? 0.4 : 1);
const pushWeight = (st) => {
  if (st.eof) return 0.08;
  let w = st.pipedIn ? 0.3 : 1;
  if (Array.isArray(st.spec.source) && st.spec.source.includes(null)) w *= 0.3;
  return w;
};

// --avoid read-in-read: a read of a stream from a listener that can run
// inside its own _read: its `_read` hook, and on a transform or passthrough
// (whose _read releases a held write callback, which can run the next
// _transform and emit drain) its `_transform` hook and `drain`.
const READ_IN_READ_EVENTS = ['_read', '_transform', 'drain'];
const readInRead = (g, ctx, st) => g.avoid.has('read-in-read') && ctx && ctx.owner === st.idx && READ_IN_READ_EVENTS.includes(ctx.event);

function genOne(rng, g, ctx, kind, h) {
  const { pickStream, canProduce, pairs, manualPending, top, own } = h;
  switch (kind) {
    case 'write': {
      const st = pickStream((s) => s.w && canProduce(s), 0.6, writeWeight);
      if (!st) return null;
      const s = { do: 'write', stream: st.name, chunk: rng.chance(0.015) ? null : genChunkFor(rng, st.objectMode) };
      const cb = genCb(rng, st.name, 'write');
      if (cb !== undefined) s.cb = cb;
      return s;
    }
    case 'end': {
      const st = pickStream((s) => s.w && canProduce(s), 0.6, writeWeight);
      if (!st) return null;
      const s = { do: 'end', stream: st.name };
      if (rng.chance(0.25)) s.chunk = genChunkFor(rng, st.objectMode);
      const cb = genCb(rng, st.name, 'end');
      if (cb !== undefined) s.cb = cb;
      return s;
    }
    case 'cork':
    case 'uncork': {
      const st = pickStream((s) => s.w && (kind === 'cork' || !top || s.corked > 0 || rng.chance(0.3)));
      if (!st) return null;
      return { do: kind, stream: st.name };
    }
    case 'push':
    case 'unshift': {
      // push mostly on readables (a transform's readable side less often)
      const st = pickStream((s) => s.r && canProduce(s) && (s.kind === 'readable' || rng.chance(0.35)), ctx && ctx.event === '_read' ? 0.85 : 0.6, pushWeight);
      if (!st) return null;
      let chunk;
      if (kind === 'push') {
        const pNull = ctx && ctx.event === '_read' ? 0.25 : 0.13;
        chunk = rng.chance(pNull) ? null : genChunkFor(rng, st.objectMode);
      } else {
        chunk = rng.chance(0.03) ? null : genChunkFor(rng, st.objectMode);
      }
      return { do: kind, stream: st.name, chunk };
    }
    case 'read': {
      const st = pickStream((s) => s.r && !readInRead(g, ctx, s), ctx && ctx.event === 'readable' ? 0.85 : 0.6);
      if (!st) return null;
      const s = { do: 'read', stream: st.name };
      const persistent = ctx && ctx.persistent;
      const r = rng.next();
      if (r < 0.1 && !persistent) s.n = 0;
      else if (r < 0.5) s.n = rng.int(1, (st.spec.highWaterMark ?? st.spec.readableHighWaterMark ?? 8) + 4);
      return s;
    }
    case 'readAll':
    case 'pause':
    case 'resume': {
      const st = pickStream((s) => s.r && !(kind === 'readAll' && readInRead(g, ctx, s)), ctx && ctx.event === 'readable' && kind === 'readAll' ? 0.85 : 0.5);
      if (!st) return null;
      return { do: kind, stream: st.name };
    }
    case 'destroy': {
      const st = pickStream(() => true, 0.4, () => 1);
      const s = { do: 'destroy', stream: st.name };
      if (rng.chance(0.5)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'complete': {
      const st = top
        ? pickStream(manualPending)
        : pickStream((s) => s.manual, own && own.manual && ctx.hook ? 0.95 : 0.5);
      if (!st) return null;
      const s = { do: 'complete', stream: st.name };
      if (rng.chance(0.07)) s.error = rng.pick(ERROR_CODES);
      else if (st.kind === 'transform' && rng.chance(0.7)) s.value = genChunkFor(rng, st.objectMode);
      return s;
    }
    case 'again': {
      const st = pickStream((s) => s.manual && (!top || s.completes > 0));
      if (!st) return null;
      const s = { do: 'complete', stream: st.name, again: true };
      if (rng.chance(0.3)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'completeFinal': {
      const st = top ? pickStream((s) => s.finalManual && s.ended && !s.destroyed) : pickStream((s) => s.finalManual, 0.95);
      if (!st) return null;
      const s = { do: 'completeFinal', stream: st.name };
      if (rng.chance(0.2)) s.error = rng.pick(ERROR_CODES);
      return s;
    }
    case 'on':
      return genOn(rng, g, ctx, pickStream);
    case 'pipe': {
      // Prefer pairs not piped yet, and sources that pipe already (several
      // destinations) now and then.
      const fresh = pairs.filter(([a, b]) => !g.piped.has(`${a.name}>${b.name}`));
      const [a, b] = fresh.length && rng.chance(0.85) ? rng.pick(fresh) : rng.pick(pairs);
      if (ctx && ctx.persistent) return null;
      if (a.objectMode !== b.objectMode && !(b.objectMode && rng.chance(0.3))) return null;
      const s = { do: 'pipe', from: a.name, to: b.name };
      if (rng.chance(0.15)) s.end = rng.chance(0.8) ? false : true;
      return s;
    }
    case 'unpipe': {
      const a = pickStream((s) => s.r, 0.3);
      if (!a) return null;
      const s = { do: 'unpipe', from: a.name };
      if (rng.chance(0.6)) {
        const tos = g.list.filter((b) => b.w && b.idx > a.idx);
        if (tos.length) s.to = rng.pick(tos).name;
      }
      return s;
    }
    case 'pipeline': {
      // A chain of 2 to 4 increasing streams: readable side, duplexes, writable side.
      const firsts = g.list.filter((s) => s.r);
      const first = rng.pick(firsts);
      const chain = [first];
      const want = rng.weighted([[5, 2], [4, 3], [2, 4]]);
      while (chain.length < want - 1) {
        const mids = g.list.filter((s) => s.duplex && s.idx > chain.at(-1).idx);
        if (!mids.length || rng.chance(0.2)) break;
        chain.push(rng.pick(mids));
      }
      const lasts = g.list.filter((s) => s.w && s.idx > chain.at(-1).idx);
      if (!lasts.length) {
        // end the chain at a duplex already in it
        if (chain.length >= 2 && chain.at(-1).w && !chain.some((s, i) => i > 0 && chain[i - 1].objectMode !== s.objectMode)) {
          return { do: 'pipeline', streams: chain.map((s) => s.name) };
        }
        return null;
      }
      chain.push(rng.pick(lasts));
      // Object chunks into a byte-mode side throw (out of the runner);
      // bytes into an object-mode side are fine, now and then.
      if (chain.some((s, i) => i > 0 && chain[i - 1].objectMode && !s.objectMode)) return null;
      if (chain.some((s, i) => i > 0 && s.objectMode !== chain[i - 1].objectMode) && rng.chance(0.7)) return null;
      return { do: 'pipeline', streams: chain.map((s) => s.name) };
    }
    case 'finished': {
      const st = pickStream(() => true, 0.3);
      return { do: 'finished', stream: st.name };
    }
    case 'tick':
      return { do: 'tick' };
    default:
      throw new Error(`generator: ${kind}`);
  }
}

function genOn(rng, g, ctx, pickStream) {
  const st = pickStream(() => true, 0.5);
  const once = ctx ? true : rng.chance(0.5);
  const event = rng.weighted(eventsOf(st));
  const step = { do: once ? 'once' : 'on', stream: st.name, event };
  const recurring = RECURRING.has(event);
  const persistent = (!once && recurring) || (ctx ? ctx.persistent : false);
  const banned = new Set(ctx ? ctx.banned : []);
  if (persistent) {
    banned.add('pipe');
    banned.add('again');
  }
  if (persistent && (event === 'pause' || event === 'resume')) {
    banned.add('pause');
    banned.add('resume');
  }
  if (persistent && (event === 'pipe' || event === 'unpipe')) banned.add('unpipe');
  const minIdx = Math.max(ctx ? ctx.minIdx : -1, persistent ? st.idx : -1);
  const inner = {
    owner: st.idx,
    event,
    hook: event.startsWith('_'),
    persistent,
    minIdx,
    banned,
    depth: ctx ? ctx.depth + 1 : 1,
  };
  const n = rng.weighted([[1, 0], [4, 1], [3, 2], [2, 3]]);
  if (n > 0 || rng.chance(0.5)) {
    const then = [];
    for (let i = 0; i < n; i++) then.push(genStep(rng, g, inner, 0.5));
    step.then = then;
  }
  return step;
}

// What a top-level step did, for the light model.
function account(g, s) {
  const S = (n) => g.byName.get(n);
  switch (s.do) {
    case 'write': {
      const st = S(s.stream);
      if (!st.ended && s.chunk !== null) st.writes++;
      break;
    }
    case 'end': {
      const st = S(s.stream);
      if ('chunk' in s && !st.ended) st.writes++;
      st.ended = true;
      st.corked = 0;
      break;
    }
    case 'cork': S(s.stream).corked++; break;
    case 'uncork': { const st = S(s.stream); if (st.corked > 0) st.corked--; break; }
    case 'push': if (s.chunk === null) S(s.stream).eof = true; break;
    case 'destroy': S(s.stream).destroyed = true; break;
    case 'complete': if (!s.again) S(s.stream).completes++; break;
    case 'pipe':
      g.piped.add(`${s.from}>${s.to}`);
      S(s.from).pipedOut = true;
      S(s.to).pipedIn = true;
      break;
    case 'pipeline':
      g.pipelines++;
      s.streams.forEach((n, i) => {
        if (i > 0) S(n).pipedIn = true;
        if (i < s.streams.length - 1) S(n).pipedOut = true;
      });
      break;
    default:
      break;
  }
}

// One scenario. `kinds`: allowed stream kinds; `features`: a Set of
// 'pipe', 'pipeline', 'finished'.
// `avoid`: a Set of known-mismatch patterns to stay away from (see
// KNOWN_ISSUES in differential.mjs).
export function generateMixed(rng, name, kinds, features, avoid = new Set()) {
  const list = chooseKinds(rng, kinds, features);
  const streams = {};
  const used = {};
  const g = { list: [], byName: new Map(), features, piped: new Set(), pipelines: 0, avoid };
  list.forEach((k, i) => {
    const n = NAMES[k][used[k] = (used[k] ?? -1) + 1];
    const spec = genSpec(rng, k);
    streams[n] = spec;
    const st = newState(n, i, spec);
    g.list.push(st);
    g.byName.set(n, st);
  });
  const sc = { name, streams, steps: [] };
  const n = rng.int(3, 30);
  for (let i = 0; i < n - 1; i++) {
    const s = genStep(rng, g, null, i / Math.max(1, n - 2));
    sc.steps.push(s);
    account(g, s);
  }
  sc.steps.push({ do: 'tick' });
  return sc;
}
