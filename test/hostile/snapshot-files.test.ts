// Hostile snapshot files: what `memscope diff`/`leaks` and the extension's
// Import Snapshot read. Generated in a temp dir (removed afterwards, also on
// failure): a valid snapshot cut at random byte offsets, crafted and seeded
// random schema violations, numbers past 2^53 and malformed addresses,
// __proto__/constructor keys, markup and control characters in names,
// ten million elements, files past every count limit, a 1.5 GB sparse file,
// /dev/zero, a FIFO and a directory. Each must be refused with a typed
// 'bad-snapshot' error (exit 24 from the CLI, one stderr sentence naming the
// file and the problem) or accepted with its strings kept as plain text, and
// the CLI's peak memory (VmHWM) stays under MAX_RSS_MIB.
//
//   MEMSCOPE_FUZZ_SEED=<n>  replay a run (the seed is printed)
//   MEMSCOPE_FUZZ_RUNS=<n>  truncations and random mutations (default 120 each)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { MemscopeError, exitCodes } from '../../common/errors';
import { diffForLeaks, diffToCsv, diffToMarkdown, diffToText } from '../../common/leaks';
import type { Snapshot } from '../../common/snapshot';
import { MAX_SNAPSHOT_CONTAINERS, MAX_SNAPSHOT_ELEMENTS, MAX_SNAPSHOT_FILE, MAX_SNAPSHOT_STRINGS, MAX_SNAPSHOT_VALUES, readSnapshotFile } from '../../common/snapshot-file';
import { runCli } from '../helpers/cli';
import { EVIL, mutate } from '../helpers/hostile';
import { prng } from '../helpers/prng';
import { el, heap, list, mz, pool, snap } from '../helpers/snapshot-builders';

const SEED = (process.env.MEMSCOPE_FUZZ_SEED ? Number(process.env.MEMSCOPE_FUZZ_SEED) : Date.now()) >>> 0;
const RUNS = Math.max(1, Number(process.env.MEMSCOPE_FUZZ_RUNS) || 120);
/** Peak RSS any CLI run below may reach: one file at the caps measured 488 MiB (1M elements, 120 MB). */
const MAX_RSS_MIB = 512;
const BAD = exitCodes['bad-snapshot'];
const PRELOAD = path.join(__dirname, '..', 'helpers', 'hwm-preload.js');

const rnd = prng(SEED);
const tally = { inputs: 0, rejected: 0, accepted: 0, crashes: 0 };
let dir = '';
let n = 0;

before(() => {
  console.log(`snapshot files: seed ${SEED} (MEMSCOPE_FUZZ_SEED=${SEED} replays this run), ${RUNS} runs`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-hostile-'));
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ inputs

/** A valid snapshot of a few hundred elements in three heaps, every optional part present somewhere. */
function base(): Snapshot {
  const els = (start: number, k: number) => Array.from({ length: k }, (_, i) => el('0x' + (start + i * 0x100).toString(16), 0x100, i % 4 === 0 ? 'free' : 'busy', i % 3 ? null : `mempool:mbuf_pool`, i % 7 === 0 ? 64 : 0));
  return snap({
    name: 'before',
    access: 'peek',
    warnings: ['list 1 is external'],
    memsegLists: [
      list(0),
      list(1, {
        external: true,
        heap: false,
        ownerPids: [4242],
        dmabuf: { fd: 37, offset: 0, ownerPid: 4242, exporter: 'udmabuf', size: 0x200000, inode: 99, source: 'table' },
        registration: { fd: 37, offset: 0, ownerPid: 4242, ownerAlive: true, kind: 'dmabuf', exporter: 'udmabuf', size: 0x200000, inode: 99, pageSize: 4096 },
        backing: { kind: 'dmabuf', path: '/dmabuf:', ownerPid: 4242, offset: 0, fd: 37, size: 0x200000, inode: 99, exporter: 'udmabuf', pageSize: 4096 },
      }),
      list(2, { state: 'orphaned', warning: 'orphaned: its owner exited' }),
    ],
    heaps: [heap(0, els(0x100200000, 300)), heap(1, els(0x500200000, 40), { external: true }), heap(2, [], { elementsAvailable: false, reason: 'elements unreadable' })],
    memzones: [mz('rte_eth_dev_data', '0x17fe00000'), mz('MP_mbuf_pool_0', '0x17f000000', 0x100000)],
    mempools: [pool('mbuf_pool', 100), { ...pool('ring_pool', null), reason: 'ops are not a ring' }],
  });
}

/** A value written into the JSON text as is: numbers JSON.stringify cannot make. */
const raw = (text: string) => ({ '@@raw@@': text });
const stringify = (x: unknown) => JSON.stringify(x).replace(/\{"@@raw@@":"([^"]*)"\}/g, '$1');

function write(content: string | Buffer, name = `f${++n}.memscope.json`): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
}

const HOSTILE_VALUES: unknown[] = [
  -1,
  -0.5,
  0.5,
  2 ** 31,
  raw('9007199254740993'),
  raw('18446744073709551615'),
  raw('1e400'),
  raw('-1e400'),
  raw('1E+2'),
  'NaN',
  'Infinity',
  null,
  true,
  false,
  [],
  {},
  '',
  '0x',
  '0xg',
  '0x' + 'f'.repeat(17),
  '0xffffffffffffffff',
  '0X10',
  ' 0x10',
  '0x-1',
  'busy',
  'pad',
  ...EVIL,
  'x'.repeat(5000),
  Array(2000).fill(0),
  { a: { b: [{ c: [[[]]] }] } },
  [{ addr: '0x1' }],
];
// ----------------------------------------------------------------- checks

/** What an error message must be: one line, one sentence, naming the file, no raw control character. */
function assertSentence(msg: string, file: string, label: string): void {
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/.test(msg), `${label}: a control character in "${JSON.stringify(msg)}"`);
  assert.ok(msg.includes(path.basename(file).replace(/[\u0000-\u001f]/g, '')) || msg.includes(JSON.stringify(path.basename(file)).slice(1, -1)), `${label}: "${msg}" names ${file}`);
  assert.match(msg, /\.$/, `${label}: "${msg}" ends a sentence`);
  assert.ok(msg.includes(': '), `${label}: "${msg}" gives a way out after the cause`);
  assert.ok(msg.length < 500, `${label}: "${msg}" is short`);
}

/** Reads `file` in process: refused with a typed error, or accepted and usable by every consumer. */
function check(file: string, label: string, expect: 'reject' | 'accept' | 'either', why?: RegExp): 'rejected' | Snapshot {
  tally.inputs++;
  let s: Snapshot;
  try {
    s = readSnapshotFile(file);
  } catch (e) {
    if (!(e instanceof MemscopeError) || e.code !== 'bad-snapshot') {
      tally.crashes++;
      assert.fail(`${label}: not a bad-snapshot MemscopeError: ${(e as Error)?.stack ?? String(e)}`);
    }
    assertSentence(e.message, file, label);
    if (why) assert.match(e.message, why, label);
    assert.notEqual(expect, 'accept', `${label}: refused: ${e.message}`);
    tally.rejected++;
    return 'rejected';
  }
  assert.notEqual(expect, 'reject', `${label}: accepted`);
  // accepted: the diff and its three renderings take it, both ways
  try {
    const b = base();
    for (const d of [diffForLeaks(b, s), diffForLeaks(s, b), diffForLeaks(s, s)]) {
      diffToText(d);
      diffToMarkdown(d);
      diffToCsv(d);
      JSON.stringify(d);
    }
  } catch (e) {
    tally.crashes++;
    assert.fail(`${label}: accepted, then the diff threw: ${(e as Error).stack}`);
  }
  tally.accepted++;
  return s;
}

interface CliRun {
  code: number | null;
  stderr: string;
  stdout: string;
  ms: number;
  rssMiB: number;
}

/** `memscope diff a b` in a child, with its peak RSS. */
async function cliDiff(a: string, b: string, label: string, timeoutMs = 20_000): Promise<CliRun> {
  const hwm = path.join(dir, `hwm-${++n}`);
  const r = await runCli(['diff', a, b], { timeoutMs, env: { ...process.env, NODE_OPTIONS: `--require ${PRELOAD}`, MEMSCOPE_HWM_FILE: hwm } });
  const kib = Number(fs.existsSync(hwm) ? fs.readFileSync(hwm, 'utf8') : NaN);
  assert.ok(Number.isFinite(kib) && kib > 0, `${label}: the child reported its peak memory`);
  const rssMiB = Math.round(kib / 1024);
  assert.ok(rssMiB < MAX_RSS_MIB, `${label}: peak RSS ${rssMiB} MiB, over ${MAX_RSS_MIB} MiB`);
  return { code: r.code, stderr: r.stderr, stdout: r.stdout, ms: r.ms, rssMiB };
}

/** The CLI refuses: exit 24 and one stderr sentence. */
async function cliRefuses(file: string, label: string, why: RegExp, maxMs = 10_000, code = BAD): Promise<CliRun> {
  tally.inputs++;
  const ok = write(stringify(base()));
  const r = await cliDiff(file, ok, label);
  if (r.code !== code) tally.crashes++;
  assert.equal(r.code, code, `${label}: exit ${r.code}, stderr ${r.stderr}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `${label}: one stderr line: ${r.stderr}`);
  assert.match(lines[0]!, /^memscope: /);
  assertSentence(lines[0]!.slice('memscope: '.length), file, label);
  assert.match(lines[0]!, why, label);
  assert.equal(r.stdout, '', `${label}: nothing on stdout`);
  assert.ok(r.ms < maxMs, `${label}: took ${Math.round(r.ms)} ms`);
  tally.rejected++;
  return r;
}

/** Writes `count` elements streaming (never the whole text in memory): `element(i)` is one element's JSON. */
function writeHuge(name: string, count: number, element: (i: number) => string): string {
  const f = path.join(dir, name);
  const fd = fs.openSync(f, 'w');
  try {
    const text = stringify(snap({ heaps: [heap(0, [])] }));
    const cut = text.indexOf('"elements":[') + '"elements":['.length;
    fs.writeSync(fd, text.slice(0, cut));
    const chunk: string[] = [];
    for (let i = 0; i < count; i++) {
      chunk.push(element(i));
      if (chunk.length === 50_000 || i === count - 1) {
        fs.writeSync(fd, (i >= chunk.length ? ',' : '') + chunk.join(','));
        chunk.length = 0;
      }
    }
    fs.writeSync(fd, text.slice(cut));
  } finally {
    fs.closeSync(fd);
  }
  return f;
}

const minimal = (i: number) => `{"addr":"0x${(0x100000000 + i * 64).toString(16)}","len":64,"pad":0,"state":"busy","owner":null}`;

// -------------------------------------------------------------------- tests

test('the valid snapshot these start from reads back unchanged, in process and through the CLI', async () => {
  const s = base();
  const f = write(stringify(s));
  assert.deepEqual(check(f, 'valid', 'accept'), s);
  // a byte order mark, as some editors save
  assert.deepEqual(check(write('\ufeff' + stringify(s)), 'BOM', 'accept'), s);
  const r = await cliDiff(f, f, 'valid');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no change/);
});

test('a snapshot cut short at random byte offsets is refused as not JSON', () => {
  const text = Buffer.from(stringify(base()));
  const offsets = [0, 1, 2, text.length - 1, text.length - 2, ...Array.from({ length: RUNS }, () => Math.floor(rnd() * text.length))];
  for (const at of offsets) {
    const f = write(text.subarray(0, at));
    check(f, `cut at ${at} of ${text.length}`, 'reject', /is not JSON \(.*\): pass a file/);
  }
});

test('wrong schema: each is refused with the field and the problem named', () => {
  const cases: [string, (s: Snapshot & Record<string, unknown>) => unknown, RegExp][] = [
    ['no schema', (s) => void delete (s as Partial<Snapshot>).schema, /no "schema": "memscope\.snapshot\/1"/],
    ['schema version 2', (s) => void ((s as Record<string, unknown>).schema = 'memscope.snapshot/2'), /is a "memscope\.snapshot\/2" file, not a Memscope snapshot/],
    ['a diff file', (s) => void ((s as Record<string, unknown>).schema = 'memscope.diff/1'), /"memscope\.diff\/1" file/],
    ['target is a list', (s) => void ((s as Record<string, unknown>).target = []), /\(target is a list, not an object\)/],
    ['heaps is an object', (s) => void ((s as Record<string, unknown>).heaps = {}), /\(heaps is not a list\)/],
    ['memsegLists of lists', (s) => void ((s as Record<string, unknown>).memsegLists = [[1, 2]]), /memsegLists\[0\] is a list, not an object/],
    ['pid missing', (s) => void delete (s.target as Partial<Snapshot['target']>).pid, /target\.pid is missing/],
    ['negative len', (s) => void (s.heaps[0]!.elements[3]!.len = -1), /heaps\[0\]\.elements\[3\]\.len is not a whole number/],
    ['fractional len', (s) => void (s.heaps[0]!.elements[3]!.len = 0.5), /heaps\[0\]\.elements\[3\]\.len/],
    ['len past 2^53', (s) => void ((s.heaps[0]!.elements[3] as unknown as Record<string, unknown>).len = raw('9007199254740993')), /heaps\[0\]\.elements\[3\]\.len/],
    ['len 1e400', (s) => void ((s.heaps[0]!.elements[3] as unknown as Record<string, unknown>).len = raw('1e400')), /heaps\[0\]\.elements\[3\]\.len/],
    ['totalSize "NaN"', (s) => void ((s.heaps[1] as unknown as Record<string, unknown>).totalSize = 'NaN'), /heaps\[1\]\.totalSize has a wrong type or value/],
    ['size -1e400', (s) => void ((s.memzones[0] as unknown as Record<string, unknown>).len = raw('-1e400')), /memzones\[0\]\.len/],
    ['address as a number past 2^53', (s) => void ((s.heaps[0]!.elements[0] as unknown as Record<string, unknown>).addr = raw('18446744073709551615')), /heaps\[0\]\.elements\[0\]\.addr is not a "0x…" hex address/],
    ['memzone address as a number', (s) => void ((s.memzones[1] as unknown as Record<string, unknown>).addr = 2 ** 60), /memzones\[1\]\.addr has a wrong type or value/],
    ['segment va as a number', (s) => void ((s.memsegLists[0]!.segments[0] as unknown as Record<string, unknown>).va = 4297064448), /memsegLists\[0\]\.segments\[0\]\.va/],
    ...['0x', '0xg1', '0x' + '1'.repeat(17), '1234', '0X10', ' 0x10', '0x-1', ''].map(
      (a): [string, (s: Snapshot) => unknown, RegExp] => [`address ${JSON.stringify(a)}`, (s) => void (s.heaps[0]!.elements[1]!.addr = a), /heaps\[0\]\.elements\[1\]\.addr/],
    ),
    ['baseVa 17 digits', (s) => void (s.memsegLists[1]!.baseVa = '0x10000000000000000'), /memsegLists\[1\]\.baseVa/],
    ['state "evil"', (s) => void ((s.heaps[0]!.elements[2] as unknown as Record<string, unknown>).state = 'evil'), /heaps\[0\]\.elements\[2\]\.state is not "busy", "free" or "pad"/],
    ['an extra element field', (s) => void ((s.heaps[0]!.elements[2] as unknown as Record<string, unknown>).color = 'red'), /heaps\[0\]\.elements\[2\]\.color is not a known field/],
    ['an extra top-level field', (s) => void ((s as Record<string, unknown>).evil = 1), /\(evil is not a known field\)/],
    ['readMethod unknown', (s) => void ((s as Record<string, unknown>).readMethod = 'magic'), /readMethod has a wrong type or value/],
    ['takenAt past 4096 characters', (s) => void (s.takenAt = 'x'.repeat(4097)), /takenAt has a wrong type or value/],
    ['a heap name past 256 characters', (s) => void (s.heaps[1]!.name = 'h'.repeat(257)), /heaps\[1\]\.name/],
    ['an owner past 512 characters', (s) => void (s.heaps[0]!.elements[0]!.owner = 'o'.repeat(513)), /heaps\[0\]\.elements\[0\]\.owner/],
    ['the same element twice', (s) => void s.heaps[0]!.elements.splice(10, 0, { ...s.heaps[0]!.elements[10]! }), /heaps\[0\]\.elements\[\d+\] and another element both start at 0x100200a00/],
    ['the same address in other case and width', (s) => void s.heaps[1]!.elements.push({ ...s.heaps[1]!.elements[10]!, addr: '0x0000000500200A00' }), /heaps\[1\]\.elements\[10\] and another element both start at 0x500200a00/],
  ];
  for (const [label, change, why] of cases) {
    const s = base() as Snapshot & Record<string, unknown>;
    change(s);
    check(write(stringify(s)), label, 'reject', why);
  }
  // not a snapshot object at all
  for (const text of ['[]', '42', '"memscope.snapshot/1"', 'null', 'true', '{}', '{"schema":"memscope.snapshot/1"}', '\u0000\u0000', 'NaN', '{"a":1}{"b":2}']) {
    check(write(text), `the text ${JSON.stringify(text)}`, 'reject');
  }
  // nesting: refused before parsing
  const deep = '{"schema":"memscope.snapshot/1","target":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
  check(write(deep), 'nested 100k deep', 'reject', /nests objects and lists more than 32 deep/);
});

test('__proto__, constructor and prototype keys are refused and pollute nothing', () => {
  const withKey = (where: 'top' | 'target' | 'element', key: string, value: string) => {
    const text = stringify(base());
    const at = where === 'top' ? text.indexOf('{') + 1 : where === 'target' ? text.indexOf('"target":{') + '"target":{'.length : text.indexOf('"elements":[{') + '"elements":[{'.length;
    return text.slice(0, at) + `"${key}":${value},` + text.slice(at);
  };
  for (const where of ['top', 'target', 'element'] as const) {
    for (const [key, value] of [
      ['__proto__', '{"polluted":"yes","state":"busy"}'],
      ['constructor', '{"prototype":{"polluted":"yes"}}'],
      ['prototype', '{"polluted":"yes"}'],
    ] as const) {
      check(write(withKey(where, key, value)), `${key} in ${where}`, 'reject', new RegExp(`${key} is not a known field`));
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    }
  }
  // many unknown keys: refused before JSON.parse builds them
  const many = stringify(base()).replace('"elements":[{', '"elements":[{' + Array.from({ length: 1500 }, (_, i) => `"k${i}":0,`).join(''));
  check(write(many), '1500 unknown keys', 'reject', /has more than 1000 fields a snapshot does not have \(the first is "k0"\)/);
  // the same words as names are only names
  const s = base();
  s.heaps[1]!.name = '__proto__';
  s.memzones[0]!.name = 'constructor';
  s.mempools[0]!.name = 'hasOwnProperty';
  s.heaps[0]!.elements[1]!.owner = 'toString';
  s.warnings.push('__proto__');
  const got = check(write(stringify(s)), 'prototype words as names', 'accept');
  assert.deepEqual(got, s);
  assert.equal(Object.getPrototypeOf((got as Snapshot).heaps[1]), Object.prototype);
});

test('markup, control characters and long strings in names are kept as text, and printed escaped', async () => {
  const s = base();
  s.name = EVIL[0]!;
  // (a prefix must pass the CLI's rule even in a file: markup there makes the file refused)
  s.target.dpdkVersion = EVIL[2]!;
  s.heaps[0]!.name = EVIL[3]!;
  s.memzones.push(mz(EVIL[1]!, '0x17fd00000'), mz(EVIL[3]!, '0x17fc00000'));
  s.mempools[0]!.name = EVIL[4]!;
  s.warnings.push(...EVIL, 'w'.repeat(4096));
  s.heaps[0]!.elements.forEach((e, i) => e.state === 'busy' && (e.owner = EVIL[i % EVIL.length]!));
  s.heaps[0]!.elements[5]!.owner = 'o'.repeat(512);
  const f = write(stringify(s));
  assert.deepEqual(check(f, 'hostile names', 'accept'), s, 'every string byte for byte');
  // the CLI prints them: no control character reaches the terminal
  const older = base();
  older.memzones = [];
  const r = await cliDiff(write(stringify(older)), f, 'hostile names diff');
  tally.inputs++;
  tally.accepted++;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('MEMZONE + <img src=x onerror="window.__pwned=1">'), r.stdout);
  assert.ok(r.stdout.includes('\\u001b[31mred'), 'the escape shown escaped');
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f\u2028\u202e]/.test(r.stdout), `a raw control character in ${JSON.stringify(r.stdout.slice(0, 400))}`);
});

test('overlapping and unordered elements are accepted and diffed', () => {
  const s = base();
  s.heaps[0]!.elements[4]!.len = 0x10000; // over the next ones
  s.heaps[1]!.elements.reverse();
  check(write(stringify(s)), 'overlapping, reversed', 'accept');
});

test('seeded random mutations are refused with a typed error or kept as data', () => {
  for (let i = 0; i < RUNS; i++) {
    const s = base();
    const what: string[] = [];
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) what.push(mutate(s, rnd, HOSTILE_VALUES));
    check(write(stringify(s)), `mutation ${i} (${what.join('; ')})`, 'either');
  }
});

test('a directory, /dev/zero, a FIFO, a 1.5 GB sparse file and a missing path are refused at once', async () => {
  // a name that does not end in .json is refused before the file is opened (exit 2, see hostile/paths)
  await cliRefuses('/dev/zero', '/dev/zero', /does not name a \.json file/, 10_000, 2);
  const sub = path.join(dir, 'a-directory.json');
  fs.mkdirSync(sub);
  await cliRefuses(sub, 'directory', /is a directory, not a snapshot file/);
  const link = path.join(dir, 'zero-link.json');
  fs.symlinkSync('/dev/zero', link);
  await cliRefuses(link, 'a link to /dev/zero', /is a character device/);
  const fifo = path.join(dir, 'fifo.json');
  const mk = spawnSync('mkfifo', [fifo], { encoding: 'utf8', timeout: 5000 });
  if (mk.status === 0) await cliRefuses(fifo, 'FIFO', /fifo\.json is a FIFO, not a snapshot file/);
  else console.log(`snapshot files: FIFO case skipped: mkfifo failed (${mk.error?.message ?? mk.stderr.trim()})`);
  const sparse = path.join(dir, 'sparse.json');
  fs.writeFileSync(sparse, '');
  fs.truncateSync(sparse, 1.5 * 1024 ** 3);
  const r = await cliRefuses(sparse, '1.5 GB sparse', /sparse\.json is 1536 MiB, more than the 128 MiB a snapshot may have/, 3000);
  assert.ok(r.rssMiB < 128, `the big file was not read: ${r.rssMiB} MiB`);
  await cliRefuses(path.join(dir, 'nope.json'), 'missing', /nope\.json does not exist: check the path/);
  // a name with an escape sequence in it is shown escaped
  const odd = write(stringify(base()).slice(0, 50), 'odd\u001b[2Jname.json');
  tally.inputs++;
  const oddRun = await cliDiff(odd, write(stringify(base())), 'a control character in the name');
  assert.equal(oddRun.code, 2, `a control character in the name: exit ${oddRun.code}`);
  assert.match(oddRun.stderr, /^memscope: the snapshot file ".*odd\?\[2Jname\.json" contains a control character \(U\+001B\)[^\n]*\.\n$/);
  tally.rejected++;
});

test('ten million elements are refused by the size limit, quickly and without reading them', async () => {
  const t0 = performance.now();
  const f = writeHuge('ten-million.json', 10_000_000, minimal);
  const genMs = performance.now() - t0;
  const size = fs.statSync(f).size;
  assert.ok(size > MAX_SNAPSHOT_FILE, `${size} bytes`);
  const r = await cliRefuses(f, '10^7 elements', /ten-million\.json is \d+(\.\d)? MiB, more than the 128 MiB a snapshot may have/, 3000);
  console.log(`snapshot files: 10^7 elements (${(size / 1024 ** 2).toFixed(0)} MiB, written in ${(genMs / 1000).toFixed(1)} s) refused in ${Math.round(r.ms)} ms at ${r.rssMiB} MiB peak`);
  fs.rmSync(f);
});

test('files under the size limit but over the count limits are refused, memory bounded', async () => {
  // one element too many, each as small as an element can be: parsed, then counted
  const els = writeHuge('elements.json', MAX_SNAPSHOT_ELEMENTS + 1, minimal);
  const r = await cliRefuses(els, `${MAX_SNAPSHOT_ELEMENTS + 1} elements`, new RegExp(`lists ${MAX_SNAPSHOT_ELEMENTS + 1} heap elements, more than the ${MAX_SNAPSHOT_ELEMENTS} a snapshot may have`), 15_000);
  console.log(`snapshot files: ${MAX_SNAPSHOT_ELEMENTS + 1} elements (${(fs.statSync(els).size / 1024 ** 2).toFixed(0)} MiB) refused in ${Math.round(r.ms)} ms at ${r.rssMiB} MiB peak (bound ${MAX_RSS_MIB} MiB)`);
  fs.rmSync(els);
  // 3 bytes an object: refused before parsing
  const objs = writeHuge('objects.json', MAX_SNAPSHOT_CONTAINERS + 1, () => '{}');
  await cliRefuses(objs, 'empty objects', new RegExp(`holds more than ${MAX_SNAPSHOT_CONTAINERS} objects and lists`));
  fs.rmSync(objs);
  // distinct short strings
  const strs = writeHuge('strings.json', MAX_SNAPSHOT_STRINGS + 1, (i) => `"${i.toString(36)}"`);
  await cliRefuses(strs, 'strings', new RegExp(`holds more than ${MAX_SNAPSHOT_STRINGS} strings`));
  fs.rmSync(strs);
  // numbers
  const nums = writeHuge('numbers.json', MAX_SNAPSHOT_VALUES + 1, () => '0');
  await cliRefuses(nums, 'numbers', new RegExp(`holds more than ${MAX_SNAPSHOT_VALUES} values`));
  fs.rmSync(nums);
});

test('counts', (t) => {
  const line = `snapshot files (seed ${SEED}): inputs ${tally.inputs}, rejected ${tally.rejected}, accepted-as-text ${tally.accepted}, crashes ${tally.crashes}`;
  console.log(line);
  t.diagnostic(line);
  assert.equal(tally.crashes, 0);
  assert.equal(tally.inputs, tally.rejected + tally.accepted);
  assert.ok(tally.rejected > RUNS && tally.accepted > 5, line);
});
