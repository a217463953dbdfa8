// The agent against the project's demo primary: 100k elements, external
// memory registered by the primary on memfd and hugetlbfs with malloc heaps
// on it, mempools with objects taken out, live deltas, and proof that reads
// need none of the target's locks. The primary's own rte_malloc_dump_heaps is
// the oracle where another process could not dump (external heaps).
import type { SnapshotDelta } from '../../common/delta';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { type ColumnSnapshot, Methods, Notifications, type DeltaNotification, type SubscribeResult } from '../../common/protocol';
import { explainToWebview, validateToWebview } from '../../common/webview-protocol';
import { hydrate, snapshotMessage } from '../../extension/src/map-message';
import type { Heap, Snapshot } from '../../common/snapshot';
import { routeFree, snapshotOf, attachedAgent } from '../helpers/cli';
import { DemoPrimary, parseHeapDump, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ cc: true, hugepages: 300 }), 'DPDK');
let p: DemoPrimary;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-demo-test-'));

before(async () => {
  if (skip) return;
  p = await DemoPrimary.start({ memMb: 256 });
});
after(async () => {
  await stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The primary's own view of its heaps. */
async function primaryDump(): Promise<ReturnType<typeof parseHeapDump>> {
  const file = path.join(tmp, `dump-${Date.now()}.txt`);
  await p.command(`dump_heaps ${file}`);
  return parseHeapDump(fs.readFileSync(file, 'utf8'));
}

function sameAsDump(h: Heap, dump: ReturnType<typeof parseHeapDump>): void {
  const d = dump.find((x) => x.id === h.id);
  assert.ok(d, `heap ${h.id} in the primary's dump`);
  assert.equal(h.totalSize, d.size, `heap ${h.name} size`);
  assert.equal(h.allocCount, d.allocCount, `heap ${h.name} alloc count`);
  assert.deepEqual(
    h.elements.map((e) => `${e.addr} ${e.state} ${e.len} ${e.pad}`),
    d.elements.map((e) => `0x${e.addr.toString(16)} ${e.state.toLowerCase()} ${e.len} ${e.pad}`),
  );
}

test('100k busy elements: every one found, heaps identical to the primary\u2019s own dump', { skip, timeout: 120_000 }, async () => {
  const r = await p.command('fill 100000 64 bench100k');
  assert.equal(r.count, 100000);
  const snap = await snapshotOf(p.prefix);
  const heap = snap.heaps.find((h) => h.name === 'socket_0')!;
  assert.equal(heap.elementsAvailable, true);
  const busy192 = heap.elements.filter((e) => e.state === 'busy' && e.len === 64 + 128);
  assert.ok(busy192.length >= 100000, `${busy192.length} elements of 64 B + header`);
  const addrs = new Set(heap.elements.map((e) => e.addr));
  for (const ptr of [r.first, r.last]) assert.ok(addrs.has('0x' + (BigInt(ptr) - 128n).toString(16)), `element of ${ptr}`);
  sameAsDump(heap, await primaryDump());
  await p.command('freeall');
});

test('external memory on memfd and hugetlbfs, with malloc heaps, read from the primary that maps it', { skip, timeout: 120_000 }, async () => {
  const m = await p.command('extmem extA 8388608 memfd');
  const h = await p.command('extmem extB 8388608 hugetlbfs');
  for (let i = 0; i < 3; i++) await p.command(`malloc onA ${1000 * (i + 1)} 0 heap:extA`);
  await p.command('malloc onB 65536 0 heap:extB');
  await p.command('memzone_reserve mzA 4096 heap:extA').catch(() => p.command(`memzone_reserve mzA 4096 ${m.socket}`));
  try {
    const snap = await snapshotOf(p.prefix);
    const dump = await primaryDump();
    for (const [name, reply, page] of [
      ['extA', m, 4096],
      ['extB', h, 2 * 1024 * 1024],
    ] as const) {
      const list = snap.memsegLists.find((l) => l.baseVa === reply.va);
      assert.ok(list, `memseg list of ${name} at ${reply.va}`);
      assert.equal(list.external, true);
      assert.equal(list.state, 'ok');
      assert.equal(list.pageSize, page);
      assert.equal(list.socketId, reply.socket);
      assert.deepEqual(list.ownerPids, [p.pid]);
      assert.equal(list.segments.length, 8388608 / page);
      assert.equal(list.segments.reduce((a, s) => a + s.len, 0), 8388608);
      const heap = snap.heaps.find((x) => x.name === name)!;
      assert.ok(heap, `heap ${name}`);
      assert.equal(heap.external, true);
      assert.equal(heap.socketId, reply.socket);
      assert.equal(heap.elementsAvailable, true, heap.reason);
      sameAsDump(heap, dump);
    }
    const extA = snap.heaps.find((x) => x.name === 'extA')!;
    assert.equal(extA.elements.filter((e) => e.state === 'busy' && e.owner === null).length, 3);
    assert.ok(extA.elements.some((e) => e.owner === 'memzone:mzA'), 'the memzone on the external heap is named');
  } finally {
    await p.command('memzone_free mzA').catch(() => undefined);
    await p.command('extmem_remove extA');
    await p.command('extmem_remove extB');
  }
  const snap = await snapshotOf(p.prefix);
  assert.equal(snap.memsegLists.filter((l) => l.external).length, 0, 'removed lists are gone');
  assert.equal(snap.heaps.filter((x) => x.external).length, 0);
});

test('external heaps read the same by peeking and as an attached secondary', { skip, timeout: 60_000 }, async () => {
  await p.command('extmem extP 4194304 memfd');
  try {
    await p.command('malloc onP 777 0 heap:extP');
    const a = await snapshotOf(p.prefix, ['--via', 'peek']);
    const b = await snapshotOf(p.prefix, ['--via', 'secondary']);
    assert.equal(a.access, 'peek');
    assert.equal(b.access, 'secondary');
    assert.equal(routeFree(a), routeFree(b));
    assert.ok(a.heaps.find((h) => h.name === 'extP')?.elementsAvailable);
  } finally {
    await p.command('extmem_remove extP');
  }
});

test('mempool objects taken out show as in use, exactly as DPDK counts them', { skip, timeout: 60_000 }, async () => {
  await p.command('mempool_create mpA 1023 256 32');
  await p.command('mempool_create mbA 2047 2048 64 mbuf');
  try {
    await p.command('mempool_get mpA 100');
    await p.command('mempool_get mbA 300');
    await p.command('mempool_put mbA 120');
    const snap = await snapshotOf(p.prefix);
    for (const [name, held] of [
      ['mpA', 100],
      ['mbA', 180],
    ] as const) {
      const pool = snap.mempools.find((x) => x.name === name)!;
      const st = await p.command(`mempool_stats ${name}`);
      assert.equal(st.held, held);
      assert.equal(pool.inUse, st.inUse, `${name} in use`);
      assert.equal(pool.avail, st.avail, `${name} available`);
      assert.equal(pool.inUse, held);
      assert.equal(pool.populated, pool.size);
    }
    const owners = new Set(snap.heaps.flatMap((h) => h.elements.map((e) => e.owner)));
    assert.ok(owners.has('mempool:mpA') && owners.has('mempool:mbA'), [...owners].join(', '));
  } finally {
    await p.command('mempool_free mpA');
    await p.command('mempool_free mbA');
  }
});

test('an attached agent reads while the primary write-holds the hot-plug, tailq and mempool locks', { skip, timeout: 60_000 }, async () => {
  const { agent, result: res } = await attachedAgent<{ lcore: number; readMethod: string }>({ filePrefix: p.prefix });
  try {
    assert.equal(res.readMethod, 'lock-free');
    assert.notEqual(res.lcore, 0, 'an lcore id the primary (-l 0) does not use');
    // EAL pinned nothing: every thread of the agent may still run on every CPU
    const cpus = (pid: number | string, tid: number | string) => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1];
    for (const tid of fs.readdirSync(`/proc/${agent.child.pid}/task`)) assert.equal(cpus(agent.child.pid!, tid), cpus('self', process.pid), `thread ${tid}`);
    await p.command('mempool_create mpL 511 128 0');
    await p.command('mempool_get mpL 7');
    for (const l of ['hotplug', 'tailq', 'mempool']) await p.command(`lock ${l}`);
    const t0 = Date.now();
    const snap = (await Promise.race([
      agent.rpc.sendRequest(Methods.snapshot, {}),
      new Promise((_, reject) => setTimeout(() => reject(new Error('snapshot waited on a lock')), 5000)),
    ])) as Snapshot;
    const ms = Date.now() - t0;
    assert.ok(ms < 5000);
    assert.equal(snap.readMethod, 'lock-free');
    assert.equal(snap.mempools.find((x) => x.name === 'mpL')?.inUse, 7);
    assert.ok(snap.heaps[0]!.elements.length > 0);
  } finally {
    for (const l of ['hotplug', 'tailq', 'mempool']) await p.command(`unlock ${l}`).catch(() => undefined);
    await p.command('mempool_free mpL').catch(() => undefined);
    agent.kill();
    await agent.exited;
  }
});

test('subscribe: deltas name the elements the primary allocates and frees', { skip, timeout: 60_000 }, async () => {
  const { agent } = await attachedAgent({ filePrefix: p.prefix });
  try {
    const deltas: DeltaNotification[] = [];
    agent.rpc.onNotification(Notifications.delta, (n: DeltaNotification) => deltas.push(n));
    const first = (await agent.rpc.sendRequest(Methods.subscribe, { intervalMs: 100 })) as SubscribeResult;
    assert.ok(first.snapshot.heaps.length >= 1);
    const m = await p.command('malloc live 4096');
    const elem = '0x' + (BigInt(m.ptr) - 128n).toString(16);
    const waitFor = async (pred: () => boolean, what: string) => {
      const end = Date.now() + 3000;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`no delta with ${what} in ${JSON.stringify(deltas).slice(0, 2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor(() => deltas.some((d) => (d.delta as SnapshotDelta).heaps.changed.some((h) => h.added.some((e) => e.addr === elem && e.state === 'busy' && e.len >= 4096))), `element ${elem} added`);
    await p.command(`free ${m.ptr}`);
    await waitFor(() => deltas.some((d) => (d.delta as SnapshotDelta).heaps.changed.some((h) => h.removed.includes(elem))), `element ${elem} removed`);
    const seqs = deltas.map((d) => d.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'deltas arrive in order');
  } finally {
    agent.kill();
    await agent.exited;
  }
});

test('columns (the extension\u2019s form): the same elements as the JSON form, on a quiet primary, through the extension\u2019s own decoding', { skip, timeout: 60_000 }, async () => {
  await p.command('fill 3000 200 cols');
  await p.command('mempool_create mpC 511 128 0');
  const { agent } = await attachedAgent({ filePrefix: p.prefix });
  try {
    const plain = (await agent.rpc.sendRequest(Methods.snapshot, {})) as Snapshot;
    const cs = (await agent.rpc.sendRequest(Methods.snapshot, { columns: true })) as ColumnSnapshot;
    for (const h of cs.snapshot.heaps) assert.deepEqual(h.elements, [], `heap ${h.name} travels without element objects`);
    assert.deepEqual(cs.columns.map((c) => c.heapId).sort(), plain.heaps.filter((h) => h.elementsAvailable).map((h) => h.id).sort());
    const live = hydrate(cs);
    const strip = (s: Snapshot) => ({ ...s, takenAt: '', retries: 0 });
    assert.deepEqual(JSON.parse(JSON.stringify(strip(live))), JSON.parse(JSON.stringify(strip(plain))));
    const total = live.heaps.reduce((n, h) => n + h.elements.length, 0);
    assert.ok(total > 3000, `${total} elements`);
    const msg = snapshotMessage(live);
    assert.equal(validateToWebview(structuredClone(msg)) !== null, true, explainToWebview(structuredClone(msg)) ?? '');
    // subscribe takes the same form, and deltas stay JSON
    const sub = (await agent.rpc.sendRequest(Methods.subscribe, { intervalMs: 100, columns: true })) as SubscribeResult;
    assert.ok(sub.columns && sub.columns.length === cs.columns.length);
  } finally {
    agent.kill();
    await agent.exited;
    await p.command('mempool_free mpC').catch(() => undefined);
  }
});

test('the agent reports a primary that dies and ends within 2 s', { skip, timeout: 60_000 }, async () => {
  const q = await DemoPrimary.start({ memMb: 64 });
  const { agent } = await attachedAgent({ filePrefix: q.prefix });
  let exitedAt = 0;
  const message = new Promise<string>((resolve) => agent.rpc.onNotification(Notifications.targetExited, (n: { message: string }) => resolve(n.message)));
  const t0 = Date.now();
  q.kill('SIGKILL');
  const [msg, exit] = await Promise.all([message, agent.exited.then((e) => ((exitedAt = Date.now()), e))]);
  assert.match(msg, new RegExp(`primary of "${q.prefix}" \\(pid ${q.pid}\\) has exited`));
  assert.equal(exit.code, 11);
  assert.ok(exitedAt - t0 < 2000, `ended ${exitedAt - t0} ms after the primary died`);
  await q.stop();
});
