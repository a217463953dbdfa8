// Leak hunting against a real primary: `memscope diff` names exactly what
// changed between two snapshots, and `memscope leaks` names exactly the
// leaked elements and pools of the demo primary's three leak scenarios
// (precision and recall printed, 1.0 required for both), and all but a few of
// those of its four scenarios closer to real programs (long-lived churn, a
// working set that ramps then holds, leaks in the churn's very size classes,
// a pool that leaks while it carries traffic: 0.95 required for both).
// MEMSCOPE_LEAK_LONG=1 runs those four with a leak phase four times longer.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { exitCodes } from '../../common/errors';
import type { SnapshotDiff } from '../../common/leaks';
import type { Suspects } from '../../common/leak-tracker';
import { CLI, runCli } from '../helpers/cli';
import { DemoPrimary, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ cc: true, hugepages: 300 }), 'DPDK');
let p: DemoPrimary;
let dir: string;

before(async () => {
  if (skip) return;
  p = await DemoPrimary.start({ memMb: 256 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-leaks-'));
});
after(async () => {
  await stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const contains = (e: { addr: string; len: number }, q: bigint) => BigInt(e.addr) <= q && q < BigInt(e.addr) + BigInt(e.len);

test('memscope diff: exactly the elements allocated and freed, pool and memzone changes, in JSON, Markdown and CSV', { skip, timeout: 120_000 }, async () => {
  const keep = await p.command('malloc diff_keep 3000');
  const gone = await p.command('malloc diff_gone 5000');
  await p.command('mempool_create diff_pool 511 256 0');
  const a = path.join(dir, 'a.memscope.json');
  const b = path.join(dir, 'b.memscope.json');
  let r = await runCli(['snapshot', '--file-prefix', p.prefix, '--out', a, '--name', 'before']);
  assert.equal(r.code, 0, r.stderr);
  const added: string[] = [];
  for (const size of [100, 1000, 10000, 100000]) added.push((await p.command(`malloc diff_new ${size}`)).ptr);
  await p.command(`free ${gone.ptr}`);
  await p.command('mempool_get diff_pool 7');
  await p.command('memzone_reserve diff_zone 4096');
  r = await runCli(['snapshot', '--file-prefix', p.prefix, '--out', b, '--name', 'after']);
  assert.equal(r.code, 0, r.stderr);

  r = await runCli(['diff', a, b, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as SnapshotDiff;
  assert.equal(d.from.name, 'before');
  assert.equal(d.to.name, 'after');
  const heap = d.heaps.find((h) => h.name === 'socket_0')!;
  const newMalloc = heap.added.filter((e) => e.owner === null);
  assert.equal(newMalloc.length, added.length, `rte_malloc elements added: ${JSON.stringify(newMalloc)}`);
  for (const q of added) assert.ok(newMalloc.some((e) => contains(e, BigInt(q))), `${q} is among the added`);
  const freedMalloc = heap.freed.filter((e) => e.owner === null);
  assert.equal(freedMalloc.length, 1);
  assert.ok(contains(freedMalloc[0]!, BigInt(gone.ptr)));
  assert.ok(!heap.added.concat(heap.freed).some((e) => contains(e, BigInt(keep.ptr))), 'an untouched element is neither');
  assert.ok(heap.added.some((e) => e.owner === 'memzone:diff_zone'), 'the memzone\u2019s element, named by it');
  assert.deepEqual(d.memzones.added.map((z) => z.name), ['diff_zone']);
  assert.deepEqual(d.memzones.removed, []);
  assert.equal(d.mempools.find((m) => m.name === 'diff_pool')?.inUseDelta, 7);
  const bytes = heap.added.reduce((s, e) => s + e.len, 0) - heap.freed.reduce((s, e) => s + e.len, 0);
  assert.equal(heap.bytesDelta, bytes, 'bytes delta is the busy bytes added minus freed');
  const rm = heap.byOwner.find((g) => g.key === 'rte_malloc')!;
  assert.deepEqual([rm.added, rm.freed], [4, 1]);
  assert.equal(heap.bySizeClass.reduce((s, g) => s + g.added, 0), heap.added.length);

  const md = await runCli(['diff', a, b, '--markdown']);
  assert.equal(md.code, 0);
  assert.match(md.stdout, /^# Memscope diff/m);
  assert.match(md.stdout, /\| rte\\_malloc \| 4 \| 1 \|/);
  assert.match(md.stdout, /added diff\\_zone/);
  const csv = await runCli(['diff', a, b, '--csv']);
  assert.equal(csv.code, 0);
  const rows = csv.stdout.trim().split('\r\n');
  assert.equal(rows[0], 'kind,heap_or_pool,change,address,length,owner_or_class,count_delta,bytes_delta');
  assert.equal(rows.filter((l) => l.startsWith('element,socket_0,added,') && l.includes(',rte_malloc,')).length, 4);
  assert.ok(rows.includes('mempool,diff_pool,in_use,,,,7,'));
  const text = await runCli(['diff', a, b]);
  assert.match(text.stdout, /MEMPOOL diff_pool: in use \d+ → \d+ \(\+7\)/);

  // untrusted files: one sentence and exit 24 each
  const junk = path.join(dir, 'junk.json');
  for (const [content, re] of [
    ['not json', /is not JSON/],
    ['{"schema":"other/1"}', /"other\/1" file, not a Memscope snapshot/],
    [JSON.stringify({ ...JSON.parse(fs.readFileSync(a, 'utf8')), heaps: [{ id: 'x' }] }), /not a valid Memscope snapshot/],
  ] as const) {
    fs.writeFileSync(junk, content);
    const bad = await runCli(['diff', a, junk]);
    assert.equal(bad.code, exitCodes['bad-snapshot'], bad.stderr);
    assert.match(bad.stderr, re);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  }
  const missing = await runCli(['diff', a, path.join(dir, 'nope.json')]);
  assert.equal(missing.code, exitCodes['bad-snapshot']);
  const one = await runCli(['diff', a]);
  assert.equal(one.code, exitCodes['bad-arguments']);
  await p.command('memzone_free diff_zone');
  await p.command('mempool_free diff_pool');
});

interface Outcome {
  scenario: string;
  leaked: number;
  suspected: number;
  precision: number;
  recall: number;
}
const outcomes: Outcome[] = [];

type Kind = 'steady' | 'mixed' | 'mbuf' | 'longlived' | 'ramp' | 'sameclass' | 'pooltraffic';
interface Truth {
  leaked: string[];
  pools: string[];
  churnOps: number;
  poolFalls: number;
  error: number;
}

/** Leaks for `leakMs` after the baseline, churn until `durationMs`; sampled every 100 ms. */
async function runScenario(kind: Kind, seed: number, leakMs = 3000, minAge = 2000, durationMs = leakMs + minAge + 1500): Promise<{ s: Suspects; truth: Truth }> {
  const child = spawn(process.execPath, [CLI, 'leaks', '--file-prefix', p.prefix, '--duration', `${durationMs}ms`, '--interval', '100ms', '--min-age', `${minAge}ms`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // the scenario starts after the baseline: what it leaks is "since the baseline"
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no baseline within 30 s: ${err}`)), 30_000);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (/baseline/.test(err)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    await p.command(`scenario start ${kind} ${seed} ${leakMs}`);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), durationMs + 60_000))]);
    assert.equal(code, 0, `memscope leaks: ${err}`);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* ended */
    }
  }
  const truth = (await p.command('scenario stop', 10_000)) as unknown as Truth;
  await p.command('scenario clear', 10_000);
  assert.equal(truth.error, 0, 'the scenario ran to the end');
  return { s: JSON.parse(out) as Suspects, truth };
}

function score(scenario: string, suspects: string[], truth: string[], isHit: (suspect: string, leak: string) => boolean): Outcome {
  const tp = suspects.filter((s) => truth.some((t) => isHit(s, t))).length;
  const found = truth.filter((t) => suspects.some((s) => isHit(s, t))).length;
  const o = { scenario, leaked: truth.length, suspected: suspects.length, precision: suspects.length ? tp / suspects.length : truth.length ? 0 : 1, recall: truth.length ? found / truth.length : 1 };
  outcomes.push(o);
  return o;
}

for (const [kind, seed] of [
  ['steady', 7],
  ['mixed', 11],
  ['mbuf', 13],
] as const) {
  test(`suspected leaks, ${kind} scenario: exactly the leaked ${kind === 'mbuf' ? 'pool, and no element' : 'elements'}`, { skip, timeout: 120_000 }, async (t) => {
    const { s, truth } = await runScenario(kind, seed);
    t.diagnostic(`${kind}: ${truth.leaked.length} leaks among ${truth.churnOps} churn operations, ${s.samples} samples`);
    const byAddr = new Map(s.elements.map((e) => [e.addr, e]));
    const el = score(`${kind} (elements)`, [...byAddr.keys()], kind === 'mbuf' ? [] : truth.leaked, (a, q) => contains(byAddr.get(a)!, BigInt(q)));
    const pools = score(`${kind} (mempools)`, s.pools.map((x) => x.name), truth.pools, (a, b) => a === b);
    for (const o of [el, pools]) t.diagnostic(`${o.scenario}: leaked ${o.leaked}, suspected ${o.suspected}, precision ${o.precision.toFixed(3)}, recall ${o.recall.toFixed(3)}`);
    assert.ok(kind === 'mbuf' ? truth.pools.length === 1 && truth.leaked.length > 10 : truth.leaked.length > 10, 'the scenario leaked');
    assert.deepEqual([el.precision, el.recall], [1, 1], `elements: ${JSON.stringify(s.elements.slice(0, 5))}`);
    assert.deepEqual([pools.precision, pools.recall], [1, 1], `pools: ${JSON.stringify(s.pools)}`);
    // ranked by bytes, each with its age
    for (let i = 1; i < s.elements.length; i++) assert.ok(s.elements[i - 1]!.len >= s.elements[i]!.len);
    for (const e of s.elements) assert.ok(e.ageMs >= 2000);
  });
}

// Closer to real programs. Each leaks on a clock during its leak phase (how many and how big follow from the seed),
// then churns on long enough for its youngest leak to outlive twice the churn's longest lives (see leak-tracker.ts).
const long = process.env.MEMSCOPE_LEAK_LONG === '1' ? 4 : 1;
for (const [kind, seed, leakMs, tailMs, what] of [
  ['longlived', 17, 10_000, 63_000, 'churn blocks that live 5 to 30 s'],
  // where more than 2 % of a class's replacements take the length and pad just freed, two lives chained are its lifetimes
  ['ramp', 19, 12_000, 42_000, 'a working set that ramps up for 9.6 s then holds, leaks during the ramp and after it'],
  ['sameclass', 23, 10_000, 28_000, 'leaks drawn from the sizes of bursts and of blocks that live 2 to 12 s'],
  ['pooltraffic', 29, 8_000, 7_000, 'a pool that loses mbufs while it carries traffic, beside one that only carries traffic'],
] as const) {
  const durationMs = leakMs * long + tailMs;
  test(`suspected leaks, ${kind} scenario (${what}): precision and recall at least 0.95`, { skip, timeout: durationMs + 90_000 }, async (t) => {
    const minAge = 3000;
    const { s, truth } = await runScenario(kind, seed, leakMs * long, minAge, durationMs);
    const pool = kind === 'pooltraffic';
    t.diagnostic(`${kind}: ${truth.leaked.length} leaks among ${truth.churnOps} churn operations, ${s.samples} samples`);
    const byAddr = new Map(s.elements.map((e) => [e.addr, e]));
    const el = score(`${kind} (elements)`, [...byAddr.keys()], pool ? [] : truth.leaked, (a, q) => contains(byAddr.get(a)!, BigInt(q)));
    const pools = score(`${kind} (mempools)`, s.pools.map((x) => x.name), truth.pools, (a, b) => a === b);
    for (const o of [el, pools]) t.diagnostic(`${o.scenario}: leaked ${o.leaked}, suspected ${o.suspected}, precision ${o.precision.toFixed(3)}, recall ${o.recall.toFixed(3)}`);
    assert.ok(truth.leaked.length >= 20, 'the scenario leaked');
    assert.equal(truth.leaked.length, Math.floor((leakMs * long) / (kind === 'ramp' ? 250 : pool ? 50 : 400)), 'leaks on a clock: their number follows from the leak phase');
    if (pool) {
      assert.deepEqual(truth.pools, ['scen_leak']);
      assert.ok(truth.poolFalls > 100, `the leaking pool carried traffic: in use fell ${truth.poolFalls} times`);
      assert.ok(!s.pools.some((x) => x.name === 'scen_churn_a'), 'the pool that only carries traffic is not suspected');
    }
    assert.ok(el.precision >= 0.95 && el.recall >= 0.95, `elements: precision ${el.precision}, recall ${el.recall}: ${JSON.stringify(s.elements.slice(0, 5))}`);
    assert.ok(pools.precision >= 0.95 && pools.recall >= 0.95, `pools: ${JSON.stringify(s.pools)}`);
    for (const e of s.elements) assert.ok(e.ageMs >= minAge);
  });
}


test('over JSON-RPC: the agent\u2019s subscription keeps the timeline and names the steady scenario\u2019s leaks exactly', { skip, timeout: 120_000 }, async (t) => {
  const { startAgent } = await import('../helpers/cli');
  const { Methods } = await import('../../common/protocol');
  const agent = startAgent(['--file-prefix', p.prefix]);
  try {
    await agent.rpc.sendRequest(Methods.attach, { filePrefix: p.prefix, via: 'peek' });
    await assert.rejects(agent.rpc.sendRequest(Methods.leaks, { minAgeMs: 0 }), /no samples yet/);
    await agent.rpc.sendRequest(Methods.subscribe, { intervalMs: 100, historySamples: 200 });
    await p.command('scenario start steady 5 2000');
    await new Promise((r) => setTimeout(r, 2000 + 1500 + 700));
    const s = (await agent.rpc.sendRequest(Methods.leaks, { minAgeMs: 1500 })) as Suspects;
    const truth = (await p.command('scenario stop', 10_000)) as unknown as { leaked: string[] };
    const byAddr = new Map(s.elements.map((e) => [e.addr, e]));
    const o = score('steady over RPC (elements)', [...byAddr.keys()], truth.leaked, (a, q) => contains(byAddr.get(a)!, BigInt(q)));
    t.diagnostic(`leaked ${o.leaked}, suspected ${o.suspected}, precision ${o.precision.toFixed(3)}, recall ${o.recall.toFixed(3)}`);
    assert.deepEqual([o.precision, o.recall], [1, 1]);
    const tl = (await agent.rpc.sendRequest(Methods.timeline, {})) as { points: { t: number; heaps: Record<string, { busyBytes: number }> }[]; maxSamples: number };
    assert.equal(tl.maxSamples, 200);
    assert.ok(tl.points.length >= 30 && tl.points.length <= 200, `${tl.points.length} points`);
    const bytes = tl.points.map((x) => x.heaps.socket_0!.busyBytes);
    assert.ok(bytes[bytes.length - 1]! - bytes[0]! >= truth.leaked.length * 1024, 'the timeline shows the heap growing by the leaks');
    await agent.rpc.sendRequest(Methods.resetLeaks, {});
    const after = (await agent.rpc.sendRequest(Methods.leaks, { minAgeMs: 0 })) as Suspects;
    assert.equal(after.elements.length, 0, 'a new baseline forgives what came before');
    await assert.rejects(agent.rpc.sendRequest(Methods.leaks, { minAgeMs: -1 }), /minAgeMs must be an integer/);
  } finally {
    agent.kill();
    await agent.exited;
    await p.command('scenario clear', 10_000).catch(() => undefined);
  }
});

test('DPDK\u2019s malloc trace names elements by their rte_malloc type: snapshot and leaks', { skip, timeout: 120_000 }, async () => {
  const traceDir = path.join(dir, 'traces');
  fs.mkdirSync(traceDir);
  const tp = await DemoPrimary.start({ memMb: 64, extraEal: ['--trace=lib\\.eal\\.mem\\..*', `--trace-dir=${traceDir}`] });
  try {
    const child = spawn(process.execPath, [CLI, 'leaks', '--file-prefix', tp.prefix, '--duration', '4s', '--interval', '100ms', '--min-age', '1s', '--json', '--trace', traceDir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stderr!.setEncoding('utf8').on('data', (d: string) => ((err += d), /baseline/.test(err) && resolve())));
    const leaked: string[] = [];
    for (let i = 0; i < 20; i++) {
      leaked.push((await tp.command('malloc leaky_type 3000')).ptr as string);
      const c = await tp.command('malloc churn_type 3000');
      await tp.command(`free ${c.ptr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const kept = await tp.command('malloc table_type 100000');
    await tp.command('memzone_reserve traced_zone 4096');
    await tp.command('trace_save');
    assert.equal(await exited, 0, err);
    const s = JSON.parse(out) as Suspects;
    // the 100 kB table made after the baseline is suspected too (alone in a class that grew): its type tells it apart
    assert.deepEqual(
      [...new Set(s.elements.map((e) => e.owner))].sort(),
      ['rte_malloc:leaky_type', 'rte_malloc:table_type'],
      JSON.stringify(s.elements.slice(0, 3)),
    );
    assert.equal(s.elements.filter((e) => e.owner === 'rte_malloc:leaky_type').length, 20);
    for (const q of leaked) assert.ok(s.elements.some((e) => contains(e, BigInt(q))));

    const f = path.join(dir, 'traced.memscope.json');
    const r = await runCli(['snapshot', '--file-prefix', tp.prefix, '--out', f, '--trace', traceDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /named \d+ elements by their rte_malloc type from the trace in /);
    const snap = JSON.parse(fs.readFileSync(f, 'utf8')) as { heaps: { elements: { addr: string; len: number; owner: string | null }[] }[] };
    const els = snap.heaps.flatMap((h) => h.elements);
    const ownerOf = (ptr: string) => els.find((e) => contains(e, BigInt(ptr)))?.owner;
    assert.equal(ownerOf(leaked[0]!), 'rte_malloc:leaky_type');
    assert.equal(ownerOf(kept.ptr as string), 'rte_malloc:table_type');
    assert.ok(!els.some((e) => e.owner === 'rte_malloc:churn_type'), 'freed allocations name nothing');
    assert.ok(els.some((e) => e.owner === 'memzone:traced_zone'), 'memzone owners are kept');
    // the agent follows the trace directory too (the extension's memscope.leaks.traceDir)
    const { startAgent } = await import('../helpers/cli');
    const { Methods } = await import('../../common/protocol');
    const agent = startAgent(['--file-prefix', tp.prefix]);
    try {
      await agent.rpc.sendRequest(Methods.attach, { filePrefix: tp.prefix, via: 'peek' });
      const sub = (await agent.rpc.sendRequest(Methods.subscribe, { intervalMs: 200, traceDir })) as { snapshot: typeof snap };
      const first = sub.snapshot.heaps.flatMap((h) => h.elements);
      assert.equal(first.find((e) => contains(e, BigInt(leaked[3]!)))?.owner, 'rte_malloc:leaky_type', 'the first snapshot is named');
      const again = (await agent.rpc.sendRequest(Methods.snapshot, {})) as typeof snap;
      assert.equal(again.heaps.flatMap((h) => h.elements).find((e) => contains(e, BigInt(kept.ptr as string)))?.owner, 'rte_malloc:table_type');
      await assert.rejects(agent.rpc.sendRequest(Methods.subscribe, { intervalMs: 200, traceDir: 'relative/dir' }), /traceDir must be an absolute path/);
    } finally {
      agent.kill();
      await agent.exited;
    }
    const bad = await runCli(['snapshot', '--file-prefix', tp.prefix, '--trace', path.join(dir, 'no-such-dir')]);
    assert.equal(bad.code, exitCodes['bad-arguments']);
    assert.match(bad.stderr, /cannot read the trace directory .*: pass the primary's --trace-dir\.$/m);
  } finally {
    await tp.stop();
  }
});

test('precision and recall, per scenario', { skip }, (t) => {
  t.diagnostic('scenario              leaked  suspected  precision  recall');
  for (const o of outcomes) t.diagnostic(`${o.scenario.padEnd(20)}  ${String(o.leaked).padStart(6)}  ${String(o.suspected).padStart(9)}  ${o.precision.toFixed(3).padStart(9)}  ${o.recall.toFixed(3).padStart(6)}`);
  assert.equal(outcomes.length, 15, 'all seven scenarios ran (elements and pools each), and the RPC one');
});
