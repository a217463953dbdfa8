// Hostile JSON-RPC: random and malformed messages written byte by byte to a
// real `memscope serve` — bodies that are not JSON or not JSON-RPC, wrong
// versions and ids, unknown methods, every method with params of the wrong
// type, missing or extra fields, huge numbers, long strings and deep nesting,
// 10 MB messages, broken Content-Length headers, notifications with bad
// params — first with no target, then attached to a real DPDK demo primary.
// Each gets a typed error (or, for a notification, nothing); the agent never
// crashes and keeps answering; its memory stays bounded; the primary gets no
// registration and stays healthy.
//
//   MEMSCOPE_FUZZ_SEED=N   replay a run (the seed is printed)
//   MEMSCOPE_FUZZ_RUNS=N   random inputs per agent phase (default 3000; a long run: 50000)
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { exitCodes, isErrorCode } from '../../common/errors';
import { Methods } from '../../common/protocol';
import type { Snapshot } from '../../common/snapshot';
import { MAX_MESSAGE_BYTES } from '../../native-agent/rpc-gate';
import { snapshotOf } from '../helpers/cli';
import { DemoPrimary, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';
import { prng } from '../helpers/prng';
import { frame, RawAgent, type RpcMessage } from '../helpers/raw-rpc';

const SEED = process.env.MEMSCOPE_FUZZ_SEED ? Number(process.env.MEMSCOPE_FUZZ_SEED) : Date.now() % 2 ** 31;
const RUNS = process.env.MEMSCOPE_FUZZ_RUNS ? Number(process.env.MEMSCOPE_FUZZ_RUNS) : 3000;
if (!Number.isSafeInteger(SEED) || !Number.isSafeInteger(RUNS) || RUNS < 1) {
  throw new Error(`MEMSCOPE_FUZZ_SEED (${process.env.MEMSCOPE_FUZZ_SEED}) and MEMSCOPE_FUZZ_RUNS (${process.env.MEMSCOPE_FUZZ_RUNS}) must be whole numbers.`);
}
console.log(`rpc fuzz: seed ${SEED} (replay with MEMSCOPE_FUZZ_SEED=${SEED}), ${RUNS} random inputs per agent`);

const skipDpdk = loudSkip(whyNoDpdk({ cc: true, hugepages: 96 }), 'DPDK');
/** The agent's resident memory must stay under this, whatever it was sent. */
const RSS_LIMIT_KIB = 400 * 1024;
const PARSE = -32700;
const INVALID_REQUEST = -32600;
const NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const MEMSCOPE = -32001;
const PROTOCOL_VIOLATION = exitCodes['protocol-violation'];

const counts = { inputs: 0, typed: 0, crashes: 0, registrations: 0 };
let rssPeakKiB = 0;
after(() => stopAll());

// ---------------------------------------------------------------- inputs

type Expect =
  /** An error response: its id (the request's, or null), the codes allowed, the ErrorData codes allowed. */
  | { kind: 'error'; id: string | number | null; codes: number[]; data: string[]; names?: RegExp }
  /** No response at all (a notification, a response sent to the agent). */
  | { kind: 'silent' }
  /** A result, checked. */
  | { kind: 'result'; id: string | number; check: (r: unknown) => void };

interface Input {
  label: string;
  bytes: Buffer;
  expect: Expect;
}

/** JSON text put in as it is: what JSON.stringify cannot make (1e400, 30-digit integers, 3000 levels of nesting). */
const rawTokens: string[] = [];
const raw = (token: string) => `@@RAW${rawTokens.push(token) - 1}@@`;
const stringify = (v: unknown) => JSON.stringify(v).replace(/"@@RAW(\d+)@@"/g, (_, i: string) => rawTokens[Number(i)]!);
/** obj[k] = v, also for k = "__proto__" (an own member, as JSON.parse makes it). */
function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: R, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

function randString(r: R, max = 24): string {
  const n = int(r, 0, max);
  const alphabets = ['abcdefghijklmnopqrstuvwxyz', '0123456789', '/._-+ ', '\u0000\u0001\n\t"\\', 'äöü€😀\u202e\ud800'];
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, [...pick(r, alphabets)]);
  return s;
}

const WEIRD_NUMBERS = [1e308, -1e308, 2 ** 64, -(2 ** 64), 2 ** 53, 2 ** 53 + 2, -1, -0.5, 1.5, 0, 1e-300, raw('1e400'), raw('-1e400'), raw('123456789012345678901234567890'), raw('-0')];
const NANISH = ['NaN', 'Infinity', '-Infinity', '-0', '0x10', '1e3', '', ' 1 ', 'null', 'undefined', 'true'];

function randValue(r: R, depth = 0): unknown {
  switch (int(r, 0, depth > 2 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, WEIRD_NUMBERS);
    case 3:
      return int(r, -1000, 1_000_000);
    case 4:
      return pick(r, NANISH);
    case 5:
      return randString(r);
    case 6:
      return r() < 0.1 ? 'x'.repeat(int(r, 4097, 300_000)) : randString(r, 80);
    case 7:
      return Array.from({ length: int(r, 0, 4) }, () => randValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 0, 4); i > 0; i--) setKey(o, pick(r, ['a', '__proto__', 'constructor', 'toString', randString(r, 8)]), randValue(r, depth + 1));
      return o;
    }
  }
}

/** `depth` levels of alternating objects and arrays, as raw JSON text. */
function nest(depth: number, leaf = '1'): string {
  let open = '';
  let close = '';
  for (let i = depth - 1; i >= 0; i--) {
    open += i % 2 ? '[' : '{"a":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return raw(open + leaf + close);
}

const NOT_AN_OBJECT = [[], [1, 2], [{ filePrefix: 'x' }], 5, 'params', true, null, raw('1e400')];
const BAD_PATHS = ['relative/dir', 'x', '/run/../etc', '/a\u0000b', '', '/' + 'x'.repeat(5000), 5, null, {}, true];
const BAD_PATH_LISTS = ['/var/run/dpdk', 5, null, {}, [5], [null], [['/x']], ['relative'], ['/run/../etc'], ['/a\u0000b'], Array(65).fill('/tmp'), ['/' + 'x'.repeat(5000)], raw('1e400')];

/** Per method: fields set to a value that makes the request invalid whatever the other fields hold. */
const POISON: Record<string, Record<string, readonly unknown[]>> = {
  [Methods.listTargets]: { runtimeDirs: BAD_PATH_LISTS },
  [Methods.attach]: {
    filePrefix: [undefined, 42, '', '../etc', 'a/b', '.x', 'x'.repeat(65), 'a..b', 'a b', 'ä', 'a\u0000', null, [], {}, raw('1e400'), 'x'.repeat(100_000)],
    timeoutMs: [1e308, 2 ** 64, -1, 0, 99, 600_001, 1.5, '1000', 'NaN', null, true, raw('1e400'), raw('-1e400'), raw('123456789012345678901234567890')],
    allowLockingReads: ['true', 1, 0, null, 'false', []],
    dpdkLib: [5, 'libevil.so', '', '/a/../b', '/a\u0000b', '/' + 'x'.repeat(5000), true, []],
    extraEalArgs: ['--no-telemetry', ['--proc-type=primary'], ['-l', '0'], ['--file-prefix=x'], [5], Array(33).fill('--no-telemetry'), ['--log-level=' + 'x'.repeat(600)], null, {}],
    via: ['primary', '', 5, null, 'PEEK', ['peek']],
    runtimeDirs: BAD_PATH_LISTS,
  },
  [Methods.subscribe]: {
    intervalMs: [0, 99, 3_600_001, 1e308, 2 ** 64, -1, 1.5, '1000', null, true, raw('1e400'), raw('-1e400')],
    historySamples: [9, 1_000_001, -1, 1e308, 2 ** 64, '3600', 1.5, null],
    traceDir: BAD_PATHS.filter((p) => p !== '' && p !== null),
  },
  [Methods.leaks]: {
    minAgeMs: [undefined, -1, 1e308, 2 ** 64, 30 * 86_400_000 + 1, '1000', 1.5, null, raw('1e400')],
    minPoolGrowth: [0, 2 ** 30 + 1, -5, '1', 1.5, null, 2 ** 64],
  },
  [Methods.registerTestBuffer]: {
    confirm: [undefined, false, 'true', 1, null, 'yes', [true]],
    size: [undefined, 2_097_152, '', 'abc', '-1M', '1e308', '0', 'x'.repeat(33), '4097', '18446744073709551616', null, raw('1e400'), '2M\u0000'],
    pageSize: ['3K', 4096, '4k', '', null, '1G ', true],
    backing: ['dmabuf', 5, '', null, 'MEMFD'],
    dmabufOffset: ['x', '-2M', 5, '4097', '1e3', null, 'x'.repeat(40)],
    heap: ['bad name!', 'x'.repeat(32), 5, '', true, {}, '../heap'],
  },
  [Methods.unregisterTestBuffer]: { va: [undefined, 5, '0x', 'xyz', '0x' + '1'.repeat(17), '1234', '-0x1', null, 2 ** 64, '0X10', ' 0x10', raw('1e400')] },
  [Methods.dmabufQuery]: { mslIndex: [undefined, -1, 1e308, 2 ** 64, 1.5, '0', 65_536, null, true, raw('1e400'), raw('123456789012345678901234567890')] },
  [Methods.snapshot]: {},
  [Methods.timeline]: {},
  [Methods.resetLeaks]: {},
  [Methods.unsubscribe]: {},
  [Methods.detach]: {},
  initialize: {
    processId: [undefined, 1e308, -1, 0, 1.5, 'x', 2 ** 64, 4_194_305, true, {}],
    trace: ['loud', 5, null, ['off']],
    capabilities: [undefined, 5, 'x', null, [], { workspace: null }, { window: 5 }],
  },
  shutdown: {},
};

/** A valid base per method (a poison is always applied on top). */
const BASE: Record<string, () => Record<string, unknown>> = {
  [Methods.attach]: () => ({ filePrefix: 'fz-nothing-here' }),
  [Methods.subscribe]: () => ({ intervalMs: 1000 }),
  [Methods.leaks]: () => ({ minAgeMs: 1000 }),
  [Methods.registerTestBuffer]: () => ({ size: '2M', pageSize: '2M', confirm: true }),
  [Methods.unregisterTestBuffer]: () => ({ va: '0x7f0000000000' }),
  [Methods.dmabufQuery]: () => ({ mslIndex: 0 }),
  initialize: () => ({ processId: null, capabilities: {} }),
};

/** initialize takes LSP's many fields: an unknown one is no poison there. */
const OPEN_PARAMS = new Set(['initialize']);

function poisoned(r: R, method: string): unknown {
  const fields = POISON[method]!;
  const p: Record<string, unknown> = BASE[method]?.() ?? {};
  // random noise first (it may or may not be valid) ...
  for (let i = int(r, 0, 2); i > 0; i--) {
    const keys = Object.keys(p);
    if (keys.length && r() < 0.3) delete p[pick(r, keys)];
    else p[pick(r, [...Object.keys(fields), ...keys, 'noise'])] = r() < 0.5 && Object.keys(fields).length ? pick(r, fields[pick(r, Object.keys(fields))]!) : randValue(r);
  }
  // ... then a poison, which nothing after it undoes
  const names = Object.keys(fields);
  const choice = r();
  if (choice < 0.15) return pick(r, NOT_AN_OBJECT);
  if ((choice < 0.3 && !OPEN_PARAMS.has(method)) || names.length === 0) {
    let k = pick(r, ['bogus', 'filePrefix', 'size', 'va', 'intervalMs', '__proto__', 'constructor', randString(r, 12)]);
    while (Object.prototype.hasOwnProperty.call(fields, k)) k += '_';
    setKey(p, k, randValue(r));
    return p;
  }
  if (choice < 0.35) {
    const k = pick(r, names);
    p[k] = nest(int(r, 40, 3000));
    return p;
  }
  const k = pick(r, names);
  const v = pick(r, fields[k]!);
  if (v === undefined) delete p[k];
  else p[k] = v;
  return p;
}

const REQUESTS = [...Object.values(Methods), 'initialize', 'shutdown'];

function request(id: string | number, method: unknown, params?: unknown, extra: Record<string, unknown> = {}): string {
  return stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }), ...extra });
}

/** Random header lines around the Content-Length (all valid). */
function headers(r: R): string[] {
  const h: string[] = [];
  if (r() < 0.2) h.push('Content-Type: application/vscode-jsonrpc; charset=utf-8');
  if (r() < 0.1) h.push(`X-${randString(r, 6).replace(/[^a-z]/g, '') || 'y'}:${' '.repeat(int(r, 0, 3))}${randString(r, 10).replace(/[^a-z0-9]/g, '')}`);
  return h;
}

function framed(r: R, body: string | Buffer): Buffer {
  if (r() < 0.1) {
    // the same header with another spelling of its name
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    return Buffer.concat([Buffer.from(`content-length:${b.length}\r\n\r\n`), b]);
  }
  return frame(body, headers(r));
}

interface Mode {
  attached: boolean;
  /** The target's memseg list indexes (attached only). */
  lists: number[];
  prefix: string;
}

type ErrorExpect = Extract<Expect, { kind: 'error' }>;
const err = (id: string | number | null, codes: number[], data = ['bad-arguments']): ErrorExpect => ({ kind: 'error', id, codes, data });

/**
 * A random input the agent must answer as its expect says. Its body stays
 * within the agent's MAX_MESSAGE_BYTES: a longer one (a few 300 kB strings
 * in one params, rare but possible) gets the over-the-limit answer instead,
 * which tenMegabytes tests on purpose; such a draw is replaced by the next.
 */
function randomInput(r: R, n: number, mode: Mode): Input {
  for (;;) {
    const input = anyInput(r, n, mode);
    const body = input.bytes.length - input.bytes.indexOf('\r\n\r\n') - 4;
    if (body <= MAX_MESSAGE_BYTES) return input;
  }
}

function anyInput(r: R, n: number, mode: Mode): Input {
  const id = r() < 0.5 ? n : `fz-${n}`;
  const kind = r();
  if (kind < 0.08) {
    // not JSON: random bytes (often not UTF-8) ending in an open '{', cut-off requests, JSON5-isms, a byte order mark
    const body = pick(r, [
      () => Buffer.concat([Buffer.from(Array.from({ length: int(r, 0, 200) }, () => int(r, 0, 255))), Buffer.from('{')]),
      () => request(id, Methods.listTargets, {}).slice(0, int(r, 1, 40)),
      () => "{'jsonrpc': '2.0'}",
      () => '{"jsonrpc":"2.0",}',
      () => '\ufeff' + request(id, Methods.listTargets, {}),
      () => request(id, Methods.listTargets, {}) + ' trailing',
      () => 'NaN',
      () => '',
    ])();
    return { label: 'not JSON', bytes: framed(r, body), expect: err(null, [PARSE]) };
  }
  if (kind < 0.14) {
    const v = pick(r, [() => int(r, -10, 10), () => randString(r), () => null, () => r() < 0.5, () => [], () => [JSON.parse(request(1, Methods.listTargets, {})), JSON.parse(request(2, Methods.snapshot, {}))], () => Array.from({ length: int(r, 1, 5) }, () => randValue(r)), () => nest(int(r, 100, 20_000), '[]')])();
    return { label: 'JSON, not an object', bytes: framed(r, stringify(v)), expect: err(null, [INVALID_REQUEST]) };
  }
  if (kind < 0.2) {
    const jsonrpc = pick(r, [undefined, '1.0', '2', 2, 2.0, null, '2.0 ', ' 2.0', '3.0', {}, []]);
    const m = pick(r, REQUESTS);
    const msg: Record<string, unknown> = { id, method: m, params: {} };
    if (jsonrpc !== undefined) msg.jsonrpc = jsonrpc;
    return { label: 'wrong jsonrpc', bytes: framed(r, stringify(msg)), expect: err(id, [INVALID_REQUEST]) };
  }
  if (kind < 0.26) {
    const badId = pick(r, [{}, [], [1], true, false, 1.5, -0.25, null, 'i'.repeat(300), 2 ** 64, raw('1e400'), raw('123456789012345678901234567890')]);
    return { label: 'bad id', bytes: framed(r, stringify({ jsonrpc: '2.0', id: badId, method: pick(r, REQUESTS), params: {} })), expect: err(null, [INVALID_REQUEST]) };
  }
  if (kind < 0.3) {
    const v = pick(r, [
      () => ({ jsonrpc: '2.0', id, method: Methods.listTargets, params: {}, extra: randValue(r) }),
      () => ({ jsonrpc: '2.0', id, method: pick(r, [5, null, '', 'm'.repeat(300), {}, ['memscope/attach'], true]), params: {} }),
      () => ({ jsonrpc: '2.0', id, method: Methods.snapshot, result: randValue(r) }),
      () => ({ jsonrpc: '2.0', id, method: Methods.snapshot, error: { code: 1, message: 'x' } }),
      () => ({ jsonrpc: '2.0', id }),
      () => ({ jsonrpc: '2.0', id, params: {} }),
    ])();
    return { label: 'not a request', bytes: framed(r, stringify(v)), expect: err(id, [INVALID_REQUEST]) };
  }
  if (kind < 0.36) {
    const m = pick(r, [
      () => 'memscope/' + randString(r, 20),
      () => randString(r, 40) || 'x',
      () => 'MEMSCOPE/ATTACH',
      () => 'memscope/attach ',
      () => '$/cancelRequest',
      () => '$/setTrace',
      () => 'exit',
      () => 'initialized',
      () => 'textDocument/hover',
      () => 'constructor',
      () => '__proto__',
      () => 'memscope/listTargets/x',
      () => 'x'.repeat(256),
    ])();
    if (REQUESTS.includes(m)) return randomInput(r, n, mode);
    const long = m.length > 256 || m.length === 0;
    return { label: 'unknown method', bytes: framed(r, request(id, m, r() < 0.8 ? {} : randValue(r))), expect: err(id, long ? [INVALID_REQUEST] : [NOT_FOUND]) };
  }
  if (kind < 0.44) {
    // notifications get no answer: a bad or unknown one is dropped
    const v = pick(r, [
      () => ({ jsonrpc: '2.0', method: '$/cancelRequest', ...(r() < 0.3 ? {} : { params: pick(r, [{}, { id: {} }, { id: null }, { id: 1.5 }, [1], 5, null, { id: 'x'.repeat(300) }]) }) }),
      () => ({ jsonrpc: '2.0', method: '$/setTrace', params: pick(r, [{}, { value: 5 }, { value: 'loud' }, ['verbose'], null, nest(100)]) }),
      () => ({ jsonrpc: '2.0', method: 'initialized', params: pick(r, [[1], 5, 'x', null, nest(200)]) }),
      () => ({ jsonrpc: '2.0', method: pick(r, REQUESTS.filter((m) => m !== 'shutdown' && m !== Methods.detach)), params: BASE[Methods.attach]!() }),
      () => ({ jsonrpc: '2.0', method: Methods.attach, params: { filePrefix: mode.prefix } }),
      () => ({ jsonrpc: '2.0', method: Methods.registerTestBuffer, params: { size: '2M', pageSize: '2M', confirm: true } }),
      () => ({ jsonrpc: '2.0', method: 'memscope/' + randString(r, 10), params: randValue(r) }),
      () => ({ jsonrpc: '2.0', id, result: randValue(r) }),
      () => ({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'x' } }),
    ])();
    return { label: 'notification', bytes: framed(r, stringify(v)), expect: { kind: 'silent' } };
  }
  if (kind < 0.82) {
    const m = pick(r, REQUESTS);
    const params = poisoned(r, m);
    // the error names the field, or the params as a whole
    const names = new RegExp(`\\b(${[...Object.keys(POISON[m]!), 'params'].join('|')})\\b`);
    return { label: `bad params: ${m}`, bytes: framed(r, request(id, m, params)), expect: { ...err(id, [INVALID_PARAMS]), names } };
  }
  // requests that pass validation and must fail further in with a typed error (or succeed harmlessly)
  return deepInput(r, id, mode);
}

function deepInput(r: R, id: string | number, mode: Mode): Input {
  const va = '0x' + (BigInt(int(r, 1, 2 ** 30)) * 4096n).toString(16);
  if (!mode.attached) {
    const [m, params] = pick(r, [
      [Methods.snapshot, {}],
      [Methods.timeline, {}],
      [Methods.resetLeaks, {}],
      [Methods.leaks, { minAgeMs: 0 }],
      [Methods.unregisterTestBuffer, { va }],
      [Methods.dmabufQuery, { mslIndex: int(r, 0, 65535) }],
      [Methods.subscribe, { intervalMs: 1000 }],
      [Methods.registerTestBuffer, { size: '2M', pageSize: '2M', confirm: true }],
    ] as [string, unknown][]);
    if (r() < 0.3) {
      const prefix = `fz-${SEED}-${int(r, 0, 1e9)}`;
      return { label: 'attach: no such target', bytes: framed(r, request(id, Methods.attach, { filePrefix: prefix, timeoutMs: 1000 })), expect: err(id, [MEMSCOPE], ['no-target']) };
    }
    return { label: `${m}: not attached`, bytes: framed(r, request(id, m, params)), expect: err(id, [MEMSCOPE], ['not-attached']) };
  }
  switch (int(r, 0, 4)) {
    case 0:
      return {
        label: 'attach: already attached',
        bytes: framed(r, request(id, Methods.attach, { filePrefix: pick(r, [mode.prefix, `fz-${int(r, 0, 1e9)}`]) })),
        expect: err(id, [MEMSCOPE], ['already-attached']),
      };
    case 1:
      return { label: 'unregister: nothing there', bytes: framed(r, request(id, Methods.unregisterTestBuffer, { va })), expect: err(id, [MEMSCOPE], ['not-registered']) };
    case 2: {
      const absent = int(r, 0, 65535);
      if (!mode.lists.includes(absent)) return { label: 'dmabufQuery: no such list', bytes: framed(r, request(id, Methods.dmabufQuery, { mslIndex: absent })), expect: err(id, [MEMSCOPE], ['register-invalid']) };
      return deepInput(r, id, mode);
    }
    case 3: {
      const index = pick(r, mode.lists);
      return {
        label: 'dmabufQuery: a list with no dma-buf',
        bytes: framed(r, request(id, Methods.dmabufQuery, { mslIndex: index })),
        expect: { kind: 'result', id, check: (x) => assert.deepEqual(x, { mslIndex: index, fd: -1, offset: 0 }, 'no list of the target has a dma-buf registered') },
      };
    }
    default:
      return {
        label: 'leaks: no samples',
        bytes: framed(r, request(id, Methods.leaks, { minAgeMs: int(r, 0, 1000) })),
        expect: err(id, [MEMSCOPE], ['not-attached']),
      };
  }
}

// ---------------------------------------------------------------- driving

function oneSentence(s: unknown, what: string): void {
  assert.equal(typeof s, 'string', `${what}: a message`);
  assert.ok((s as string).length > 0 && (s as string).length < 600 && !(s as string).includes('\n') && /[.]$/.test(s as string), `${what}: one sentence, got ${JSON.stringify(s)}`);
}

function checkTyped(resp: RpcMessage, expect: ErrorExpect, label: string): void {
  const what = `${label}: ${JSON.stringify(resp).slice(0, 400)}`;
  assert.equal(resp.jsonrpc, '2.0', what);
  assert.deepEqual(resp.id, expect.id, `${what}: the id`);
  assert.ok(resp.error, `${what}: an error`);
  assert.ok(expect.codes.includes(resp.error.code), `${what}: code ${resp.error.code}, expected one of ${expect.codes}`);
  assert.ok(isErrorCode(resp.error.data?.code), `${what}: typed data`);
  assert.ok(expect.data.includes(resp.error.data!.code as string), `${what}: data.code, expected one of ${expect.data}`);
  oneSentence(resp.error.message, what);
  if (expect.names) assert.match(resp.error.message, expect.names, `${what}: names what is wrong`);
}

/** Sends one input in one or a few writes, and checks what comes back. */
async function drive(agent: RawAgent, r: R, input: Input, sentinel: number): Promise<void> {
  counts.inputs++;
  if (r() < 0.1 && input.bytes.length > 1) {
    let at = 0;
    while (at < input.bytes.length) {
      const n = int(r, 1, Math.max(1, Math.ceil(input.bytes.length / 2)));
      await agent.send(input.bytes.subarray(at, at + n));
      at += n;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else await agent.send(input.bytes);
  const e = input.expect;
  if (e.kind === 'silent') {
    // nothing may come back: the next response is the sentinel's
    const id = `sentinel-${sentinel}`;
    await agent.send(frame(request(id, Methods.snapshot, { sentinel: true })));
    const resp = await agent.next(10_000, `the sentinel after "${input.label}"`);
    checkTyped(resp, err(id, [INVALID_PARAMS]), `sentinel after ${input.label}`);
    return;
  }
  check(await agent.next(10_000, `the answer to "${input.label}"`), input);
}

function check(resp: RpcMessage, input: Input): void {
  const e = input.expect;
  if (e.kind === 'error') {
    checkTyped(resp, e, input.label);
    counts.typed++;
  } else if (e.kind === 'result') {
    assert.equal(resp.id, e.id, `${input.label}: ${JSON.stringify(resp).slice(0, 300)}`);
    assert.equal(resp.error, undefined, `${input.label}: ${JSON.stringify(resp.error)}`);
    e.check(resp.result);
  } else assert.fail(`${input.label}: an answer to what needs none: ${JSON.stringify(resp).slice(0, 300)}`);
}

/** Many inputs in one write, answers awaited after: each answered (by id, or among the id-less), nothing more. */
async function burst(agent: RawAgent, inputs: Input[], sentinel: number): Promise<void> {
  counts.inputs += inputs.length;
  await agent.send(Buffer.concat(inputs.map((i) => i.bytes)));
  const byId = new Map<unknown, Input>();
  const idless: Input[] = [];
  for (const i of inputs) {
    const e = i.expect;
    if (e.kind === 'silent') continue;
    if (e.id === null) idless.push(i);
    else {
      assert.ok(!byId.has(e.id), `ids in a burst are distinct (${e.id})`);
      byId.set(e.id, i);
    }
  }
  for (let left = byId.size + idless.length; left > 0; left--) {
    const resp = await agent.next(20_000, `the answers to a burst of ${inputs.length} (${left} missing)`);
    const mine = resp.id === null ? idless.findIndex((i) => (i.expect as ErrorExpect).codes.includes(resp.error?.code as number)) : -1;
    const input = resp.id === null ? idless.splice(mine, 1)[0] : byId.get(resp.id);
    assert.ok(input && (resp.id === null ? mine >= 0 : byId.delete(resp.id)), `an answer nobody expected: ${JSON.stringify(resp).slice(0, 300)}`);
    check(resp, input);
  }
  const id = `sentinel-${sentinel}`;
  await agent.send(frame(request(id, Methods.snapshot, { sentinel: true })));
  checkTyped(await agent.next(10_000, 'the sentinel after a burst'), err(id, [INVALID_PARAMS]), 'the sentinel after a burst');
}

async function stillServes(agent: RawAgent, mode: Mode): Promise<void> {
  assert.equal(agent.exit, null, `the agent is alive (stderr: ${agent.stderr().slice(-1000)})`);
  if (mode.attached) {
    const s = await agent.request(Methods.snapshot, {});
    assert.ok(s.result, JSON.stringify(s).slice(0, 400));
    const snap = s.result as Snapshot;
    assert.ok(snap.heaps.length > 0, 'a snapshot with heaps');
    assert.deepEqual(snap.memsegLists.filter((l) => l.external || l.registration).map((l) => l.baseVa), [], 'no external memory in the target');
  } else {
    const t = await agent.request(Methods.listTargets, {});
    assert.ok(Array.isArray(t.result), JSON.stringify(t).slice(0, 400));
  }
  const rss = agent.rssKiB();
  assert.ok(rss !== null && rss < RSS_LIMIT_KIB, `agent RSS ${rss} KiB < ${RSS_LIMIT_KIB} KiB`);
  rssPeakKiB = Math.max(rssPeakKiB, rss);
  assert.equal(agent.outputProblem, null);
}

/** 10 MB messages: a request with a huge param, JSON garbage, sent in one write and in pieces. */
async function tenMegabytes(agent: RawAgent, r: R, mode: Mode): Promise<void> {
  const bodies = [
    request('big-1', Methods.listTargets, { runtimeDirs: ['/' + 'x'.repeat(10 * 1024 * 1024)] }),
    request('big-2', Methods.attach, { filePrefix: 'y'.repeat(10 * 1024 * 1024) }),
    'z'.repeat(10 * 1024 * 1024),
  ];
  for (const [i, body] of bodies.entries()) {
    counts.inputs++;
    const bytes = framed(r, body);
    if (i === 2) {
      for (let at = 0; at < bytes.length; at += 65536) await agent.send(bytes.subarray(at, at + 65536));
    } else await agent.send(bytes);
    const resp = await agent.next(20_000, 'the answer to a 10 MB message');
    checkTyped(resp, err(null, [INVALID_REQUEST]), `a ${bytes.length}-byte message`);
    counts.typed++;
    assert.match(resp.error!.message, new RegExp(`over the agent's limit of ${MAX_MESSAGE_BYTES} bytes`));
    await stillServes(agent, mode);
  }
}

async function fuzz(agent: RawAgent, r: R, mode: Mode, runs: number): Promise<void> {
  for (let n = 0; n < runs; n++) {
    if (n % 500 === 250) {
      // concurrency: 40 at once, ids distinct (n, or "fz-n")
      const inputs = Array.from({ length: 40 }, (_, k) => randomInput(r, runs + n * 40 + k, mode));
      try {
        await burst(agent, inputs, n);
      } catch (e) {
        if (agent.exit) counts.crashes++;
        throw new Error(`the burst at input ${n} (seed ${SEED}): ${(e as Error).message}`);
      }
    }
    const input = randomInput(r, n, mode);
    try {
      await drive(agent, r, input, n);
    } catch (e) {
      if (agent.exit) counts.crashes++;
      throw new Error(`input ${n} (${input.label}, seed ${SEED}): ${(e as Error).message}\nsent: ${input.bytes.subarray(0, 600).toString('latin1')}`);
    }
    if (n % 50 === 49) await stillServes(agent, mode);
    if (n === Math.floor(runs / 2)) await tenMegabytes(agent, r, mode);
  }
  await stillServes(agent, mode);
}

// ---------------------------------------------------------------- tests

test('random and malformed JSON-RPC, no target: typed errors, the agent keeps serving', { timeout: 300_000 }, async () => {
  const r = prng(SEED);
  const agent = new RawAgent();
  try {
    const mode: Mode = { attached: false, lists: [], prefix: `fz-${SEED}` };
    await stillServes(agent, mode);
    await fuzz(agent, r, mode, RUNS);
    // an LSP client's opening, once: still accepted after all that
    const d = await agent.request(Methods.detach, {});
    assert.equal(d.error, undefined);
    assert.deepEqual(await agent.waitExit(5000), { code: 0, signal: null }, 'detach ends the agent with status 0');
  } finally {
    if (agent.exit && agent.exit.code !== 0) counts.crashes++;
    await agent.stop();
  }
});

test('random and malformed JSON-RPC to an agent attached to a DPDK primary: no registration, the primary stays healthy', { skip: skipDpdk, timeout: 300_000 }, async () => {
  const r = prng(SEED ^ 0x5eed);
  const p = await DemoPrimary.start({ memMb: 64 });
  let agent: RawAgent | undefined;
  try {
    const memsegsBefore = await p.command('memsegs');
    const statsBefore = await p.command('stats');
    // attach like the extension's client: a fresh agent on an address conflict
    for (let attempt = 1; ; attempt++) {
      agent = new RawAgent(['--file-prefix', p.prefix]);
      const a = await agent.request(Methods.attach, { filePrefix: p.prefix, via: 'secondary' }, 60_000);
      if (!a.error) break;
      await agent.stop();
      if (a.error.data?.code !== 'address-conflict' || attempt >= 4) throw new Error(`attach failed: ${JSON.stringify(a.error)}`);
    }
    const first = (await agent.request(Methods.snapshot, {})).result as Snapshot;
    const mode: Mode = { attached: true, lists: first.memsegLists.map((l) => l.index), prefix: p.prefix };
    assert.ok(mode.lists.length > 0);
    await stillServes(agent, mode);
    await fuzz(agent, r, mode, RUNS);

    // no registration: not in the agent's view, not in a fresh CLI snapshot, not in DPDK's own walk
    const fresh = await snapshotOf(p.prefix);
    const external = fresh.memsegLists.filter((l) => l.external || l.registration);
    counts.registrations += external.length;
    assert.deepEqual(external.map((l) => l.baseVa), [], 'no external memseg list in a fresh `memscope snapshot`');
    const memsegs = await p.command('memsegs');
    assert.equal(memsegs.externalSegments, 0, 'DPDK sees no external segment');
    assert.deepEqual(memsegs.lists.filter((l: { external: boolean }) => l.external), [], 'DPDK sees no external list');
    assert.equal(memsegs.listCount, memsegsBefore.listCount, 'as many memseg lists as before');
    const stats = await p.command('stats');
    assert.deepEqual(stats.heaps.filter((h: { external: boolean }) => h.external), [], 'no external heap');
    assert.equal(stats.heaps.length, statsBefore.heaps.length);

    // the primary still allocates, frees and hot-plugs a page with the fuzzed agent attached
    const t0 = Date.now();
    const m = await p.command('malloc fuzz-health 4096', 2000);
    await p.command(`free ${m.ptr}`, 2000);
    const g = await p.command('grow', 5000);
    assert.ok(g.after > g.before, 'a new hugepage was mapped');
    assert.ok(Date.now() - t0 < 5000, `healthy within 5 s (took ${Date.now() - t0} ms)`);
    await stillServes(agent, mode);

    const d = await agent.request(Methods.detach, {});
    assert.equal(d.error, undefined);
    assert.deepEqual(await agent.waitExit(5000), { code: 0, signal: null }, 'detach ends the agent with status 0');
    await p.command('ping');
  } finally {
    if (agent?.exit && agent.exit.code !== 0) counts.crashes++;
    await agent?.stop();
    await p.stop();
  }
});

/** Framing that cannot be recovered from: the agent ends with protocol-violation and one sentence. */
const BROKEN: [string, Buffer, number][] = [
  ['no Content-Length', Buffer.from('Content-Type: application/vscode-jsonrpc\r\n\r\n{}'), 0],
  ['a negative Content-Length', Buffer.from('Content-Length: -5\r\n\r\n'), 0],
  ['a non-numeric Content-Length', Buffer.from('Content-Length: abc\r\n\r\n'), 0],
  ['a Content-Length with trailing letters', Buffer.from('Content-Length: 12abc\r\n\r\n{"jsonrpc":1}'), 0],
  ['a Content-Length in exponent notation', Buffer.from('Content-Length: 1e3\r\n\r\n'), 0],
  ['an empty Content-Length', Buffer.from('Content-Length: \r\n\r\n'), 0],
  ['a Content-Length beyond 2^53', Buffer.from('Content-Length: 99999999999999999999\r\n\r\n'), 0],
  ['two Content-Length headers', Buffer.from('Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}'), 0],
  ['a header line without a colon', Buffer.from('Content-Length 2\r\n\r\n{}'), 0],
  ['a header with a bare LF', Buffer.from('Content-Length: 2\nX: y\r\n\r\n{}'), 0],
  ['10 MB without a blank line', Buffer.alloc(10 * 1024 * 1024, 'A'), 0],
  // the body swallows the start of the next message (not JSON), its rest is no header
  ['a Content-Length larger than the body', Buffer.concat([Buffer.from('Content-Length: 60\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"memscope/listTargets"}'), frame(request(2, Methods.listTargets, {}))]), 1],
  ['a Content-Length smaller than the body', Buffer.concat([Buffer.from('Content-Length: 20\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"memscope/listTargets"}'), frame(request(2, Methods.listTargets, {}))]), 1],
];

test('broken framing ends the agent with protocol-violation and one sentence; a well-framed body before it is still answered', { timeout: 120_000 }, async () => {
  for (const [what, bytes, answers] of BROKEN) {
    const agent = new RawAgent();
    try {
      await stillServes(agent, { attached: false, lists: [], prefix: '' });
      counts.inputs++;
      await agent.send(bytes);
      for (let i = 0; i < answers; i++) {
        checkTyped(await agent.next(5000, `the answer before the break (${what})`), err(null, [PARSE]), what);
        counts.typed++;
      }
      const exit = await agent.waitExit(10_000);
      assert.deepEqual(exit, { code: PROTOCOL_VIOLATION, signal: null }, `${what}: exit status ${PROTOCOL_VIOLATION}; stderr: ${agent.stderr().slice(-800)}`);
      counts.typed++;
      const last = agent.stderr().trim().split('\n').pop()!;
      assert.match(last, /^memscope agent: the client broke the JSON-RPC framing \(.+\), so no further message can be read: .+\.$/, `${what}: ${last}`);
      assert.equal(agent.pending(), 0, `${what}: nothing else answered`);
    } finally {
      if (agent.exit && agent.exit.code !== PROTOCOL_VIOLATION) counts.crashes++;
      await agent.stop();
    }
  }
});

test('a Content-Length of 100 GB is answered at once, its bytes are dropped as they come, memory stays bounded', { timeout: 60_000 }, async () => {
  const agent = new RawAgent();
  try {
    await stillServes(agent, { attached: false, lists: [], prefix: '' });
    counts.inputs++;
    await agent.send('Content-Length: 100000000000\r\n\r\n{"jsonrpc":"2.0","id":1,');
    checkTyped(await agent.next(5000, 'the answer to a 100 GB header'), err(null, [INVALID_REQUEST]), 'a 100 GB Content-Length');
    counts.typed++;
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 10; i++) await agent.send(chunk);
    const rss = agent.rssKiB();
    assert.ok(rss !== null && rss < RSS_LIMIT_KIB, `agent RSS ${rss} KiB after 10 MB of a 100 GB body`);
    assert.equal(agent.exit, null, 'the agent is alive');
    assert.equal(agent.pending(), 0, 'the body got no answer of its own');
    agent.child.stdin!.end();
    assert.deepEqual(await agent.waitExit(5000), { code: 0, signal: null }, 'the client going away ends the agent with status 0');
  } finally {
    if (agent.exit && agent.exit.code !== 0) counts.crashes++;
    await agent.stop();
  }
});

test('LSP\u2019s lifecycle after garbage: initialize once, shutdown, exit ends the agent with status 0 (exit alone too)', { timeout: 30_000 }, async () => {
  for (const withShutdown of [true, false]) {
    const agent = new RawAgent();
    try {
      counts.inputs += 2;
      await agent.send(frame('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1e308,"capabilities":{}}}'));
      checkTyped(await agent.next(5000), err(1, [INVALID_PARAMS]), 'initialize with a processId that is no pid');
      await agent.send(frame(stringify({ jsonrpc: '2.0', method: 'exit', params: nest(100) })));
      counts.typed++;
      const init = await agent.request('initialize', { processId: process.pid, capabilities: {}, rootUri: null });
      assert.ok(init.result, JSON.stringify(init));
      counts.inputs++;
      const again = await agent.request('initialize', { processId: process.pid, capabilities: {} });
      checkTyped(again, err(again.id as string, [INVALID_PARAMS]), 'a second initialize');
      assert.match(again.error!.message, /sent already/);
      counts.typed++;
      if (withShutdown) assert.equal((await agent.request('shutdown')).error, undefined);
      await agent.send(frame('{"jsonrpc":"2.0","method":"exit"}'));
      assert.deepEqual(await agent.waitExit(5000), { code: 0, signal: null }, `exit${withShutdown ? ' after shutdown' : ''}: status 0`);
    } finally {
      if (agent.exit && agent.exit.code !== 0) counts.crashes++;
      await agent.stop();
    }
  }
});

test('counts', (t) => {
  const line = `rpc fuzz (seed ${SEED}): inputs ${counts.inputs}, typed errors ${counts.typed}, crashes ${counts.crashes}, registrations ${counts.registrations}`;
  console.log(line);
  t.diagnostic(line);
  t.diagnostic(`the agents' RSS peaked at ${Math.round(rssPeakKiB / 1024)} MiB (limit ${RSS_LIMIT_KIB / 1024} MiB)`);
  assert.equal(counts.crashes, 0);
  assert.equal(counts.registrations, 0);
  assert.ok(counts.inputs > 0 && counts.typed > 0);
});
