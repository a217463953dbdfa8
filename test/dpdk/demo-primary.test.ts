// The demo primary, a real DPDK primary: every command once, checked against
// its own statistics, rte_malloc_dump_heaps and dpdk-proc-info.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import {
  DemoPrimary,
  hugepageFiles,
  parseHeapDump,
  procInfo,
  runtimeDirs,
  stopAll,
  sweepStalePrefixes,
  whyNoDpdk,
} from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

// 128 pages for -m 256, about as many again for `grow`, 2 for hugetlbfs extmem.
const skip = loudSkip(whyNoDpdk({ cc: true, procInfo: true, hugepages: 260 }), 'DPDK');

after(() => stopAll());

const addr = (s: string): bigint => {
  assert.match(s, /^0x[0-9a-f]+$/);
  return BigInt(s);
};

interface HeapStats {
  socket: number;
  name?: string;
  external: boolean;
  totalSize: number;
  freeSize: number;
  allocSize: number;
  allocCount: number;
  freeCount: number;
  greatestFree: number;
}

async function heaps(p: DemoPrimary): Promise<HeapStats[]> {
  return (await p.command('stats')).heaps;
}

async function allocCount(p: DemoPrimary, socket = 0): Promise<number> {
  const h = (await heaps(p)).find((x) => x.socket === socket);
  assert.ok(h, `no heap with socket ${socket}`);
  return h.allocCount;
}

function assertGone(prefix: string): void {
  for (const d of runtimeDirs(prefix)) assert.equal(existsSync(d), false, `${d} is left behind`);
  assert.deepEqual(hugepageFiles(prefix), [], 'hugepage files are left behind');
}

test('demo primary: every command, checked against DPDK views', { skip, timeout: 180_000 }, async (t) => {
  const started = Date.now();
  const p = await DemoPrimary.start({ memMb: 256 });
  t.diagnostic(`start-up ${Date.now() - started} ms, ${p.ready.dpdkVersion}`);
  const prefix = p.prefix;
  try {
    assert.equal(p.ready.pid, p.pid);
    assert.equal(p.ready.prefix, prefix);
    assert.equal(existsSync(join(p.ready.runtimeDir, 'config')), true);
    assert.ok(hugepageFiles(prefix).length >= 128, 'EAL maps -m 256 as 128 hugepage files');

    await t.test('ping and bad input', async () => {
      assert.deepEqual(await p.command('ping'), { ok: true });
      await assert.rejects(p.command('no_such_command 1 2'), /Unknown command 'no_such_command'/);
      await assert.rejects(p.command('malloc t'), /Usage: malloc/);
      await assert.rejects(p.command('malloc t 100 3'), /power of two/);
      await assert.rejects(p.command('malloc t 100 0 heap:nope'), /no malloc heap named 'nope'/);
      await assert.rejects(p.command('free 0x1234'), /not a pointer this primary allocated/);
      await assert.rejects(p.command('free banana'), /not an address/);
      await assert.rejects(p.command('fill -5 10'), /count must be a number/);
      assert.deepEqual(await p.command('ping'), { ok: true }, 'bad commands do not hurt it');
    });

    await t.test('malloc and free move the heap counters', async () => {
      const base = await allocCount(p);
      const a = await p.command('malloc memscope_a 100');
      assert.equal(a.size, 100);
      const b = await p.command('malloc memscope_b 1000 4096 0');
      assert.equal(addr(b.ptr) % 4096n, 0n, 'aligned as asked');
      assert.equal(await allocCount(p), base + 2);
      await p.command(`free ${a.ptr}`);
      await assert.rejects(p.command(`free ${a.ptr}`), /not a pointer this primary allocated/);
      await p.command(`free ${b.ptr}`);
      assert.equal(await allocCount(p), base);
    });

    await t.test('fill 100000 and freeall', async () => {
      const base = await allocCount(p);
      const t0 = Date.now();
      const r = await p.command('fill 100000 64 memscope_fill', 60_000);
      t.diagnostic(`fill 100000 x 64 B: ${Date.now() - t0} ms`);
      assert.equal(r.count, 100000);
      assert.notEqual(r.first, r.last);
      const h0 = (await heaps(p)).find((h) => h.socket === 0)!;
      assert.equal(h0.allocCount, base + 100000);
      assert.ok(h0.allocSize >= base + 100000 * 64);
      const freed = await p.command('freeall', 60_000);
      assert.equal(freed.count, 100000);
      assert.equal(await allocCount(p), base);
    });

    await t.test('memzones and memsegs agree with dpdk-proc-info', async () => {
      const mz = await p.command('memzone_reserve ms_test_zone 100000');
      assert.equal(mz.name, 'ms_test_zone');
      assert.ok(mz.len >= 100000);
      await assert.rejects(p.command('memzone_reserve ms_test_zone 64'), /File exists/);
      const segs = await p.command('memsegs');
      const t0 = Date.now();
      const info = await procInfo(prefix);
      t.diagnostic(`dpdk-proc-info: ${Date.now() - t0} ms`);
      assert.equal(info.code, 0, info.raw);
      assert.equal(info.segments.length, segs.segments);
      const total = info.segments.reduce((s, x) => s + x.len, 0);
      assert.equal(total, 256 * 1024 * 1024);
      const zone = info.memzones.find((z) => z.name === 'ms_test_zone');
      assert.ok(zone, 'proc-info lists the memzone');
      assert.equal(zone.va, addr(mz.addr));
      assert.equal(zone.len, mz.len);
      // Every used list holds the segments proc-info saw in it.
      const used = segs.lists.filter((l: any) => l.used > 0);
      assert.equal(used.reduce((s: number, l: any) => s + l.used, 0), info.segments.length);
      assert.ok(info.segments.every((s) => s.hugepageSz === 2 * 1024 * 1024));
      await p.command('memzone_free ms_test_zone');
      await assert.rejects(p.command('memzone_free ms_test_zone'), /no memzone named/);
    });

    await t.test('mempools: get, put, stats, free', async () => {
      const c = await p.command('mempool_create ms_pool 1023 128 32');
      assert.deepEqual([c.size, c.populated, c.eltSize, c.ops], [1023, 1023, 128, 'ring_mp_mc']);
      await p.command('mempool_get ms_pool 100');
      let s = await p.command('mempool_stats ms_pool');
      assert.deepEqual([s.avail, s.inUse, s.held], [923, 100, 100]);
      await p.command('mempool_put ms_pool 40');
      s = await p.command('mempool_stats ms_pool');
      assert.deepEqual([s.avail, s.inUse, s.held], [963, 60, 60]);
      await assert.rejects(p.command('mempool_get ms_pool 5000'), /fewer than 5000 free objects/);
      await assert.rejects(p.command('mempool_put ms_pool 61'), /holds only 60/);
      s = await p.command('mempool_stats ms_pool');
      assert.deepEqual([s.avail, s.inUse, s.held], [963, 60, 60], 'a failed get changes nothing');

      const m = await p.command('mempool_create ms_mbufs 2047 2048 64 mbuf');
      assert.equal(m.size, 2047);
      assert.ok(m.eltSize >= 2048 + 128, 'mbuf header plus data room');
      await p.command('mempool_get ms_mbufs 10');
      s = await p.command('mempool_stats ms_mbufs');
      assert.deepEqual([s.inUse, s.held], [10, 10]);
      await p.command('mempool_free ms_mbufs');
      await p.command('mempool_free ms_pool');
      await assert.rejects(p.command('mempool_stats ms_pool'), /no mempool named/);
    });

    await t.test('leakgen keeps exactly the leaks', async () => {
      const base = await allocCount(p);
      const r = await p.command('leakgen 5 64 1000 256 memscope_leak');
      assert.equal(r.leaked.length, 5);
      assert.equal(new Set(r.leaked).size, 5);
      assert.equal(await allocCount(p), base + 5, 'churn is all freed');
      for (const ptr of r.leaked) await p.command(`free ${ptr}`);
      assert.equal(await allocCount(p), base);
    });

    await t.test('latency percentiles are ordered', async () => {
      const r = await p.command('latency 20000 64', 60_000);
      t.diagnostic(`malloc+free 64 B: clock ${r.clockNs} ns, p50 ${r.p50} ns, p99 ${r.p99} ns, p999 ${r.p999} ns, max ${r.max} ns`);
      assert.equal(r.n, 20000);
      assert.ok(r.p50 > 0);
      assert.ok(r.clockNs >= 0 && r.clockNs < r.p50, 'the clock costs less than what it times');
      assert.ok(r.p50 <= r.p90 && r.p90 <= r.p99 && r.p99 <= r.p999 && r.p999 <= r.max);
    });

    await t.test('grow hot-plugs hugepages and gives them back', async () => {
      const r = await p.command('grow', 60_000);
      t.diagnostic(`grow: ${r.size} B, segments ${r.before} -> ${r.after} -> ${r.afterFree}, ${r.us} us (free ${r.freeUs} us)`);
      assert.ok(r.after > r.before);
      assert.equal(r.afterFree, r.before, 'rte_free returns hot-plugged pages');
      assert.equal((await p.command('memsegs')).segments, r.before);
    });

    await t.test('external memory: memfd and hugetlbfs heaps', async () => {
      const e1 = await p.command('extmem ms_ext1 1000000');
      assert.equal(e1.pageSize, 4096);
      assert.equal(e1.len, 1003520, 'rounded up to pages');
      assert.ok(e1.socket >= 256, 'external heaps get socket ids from 256');
      const va1 = addr(e1.va);
      const a = await p.command('malloc t 5000 0 heap:ms_ext1');
      assert.ok(addr(a.ptr) >= va1 && addr(a.ptr) < va1 + BigInt(e1.len), 'allocated inside the external memory');

      const e2 = await p.command('extmem ms_ext2 4194304 hugetlbfs');
      assert.equal(e2.pageSize, 2 * 1024 * 1024);
      assert.equal(e2.socket, e1.socket + 1);
      assert.deepEqual(hugepageFiles(prefix).filter((f) => f.includes('ext_')), [], 'the backing file is unlinked once mapped');
      const f = await p.command('fill 10 1000 memscope_ext heap:ms_ext2');
      const va2 = addr(e2.va);
      for (const x of [f.first, f.last]) assert.ok(addr(x) >= va2 && addr(x) < va2 + BigInt(e2.len));

      const z = await p.command('memzone_reserve ms_ext_zone 1000 heap:ms_ext1');
      assert.equal(z.socket, e1.socket);
      assert.equal(z.iova, '0xffffffffffffffff', 'external memory added without IOVAs has RTE_BAD_IOVA');
      assert.ok(addr(z.addr) >= va1 && addr(z.addr) < va1 + BigInt(e1.len));

      const st = await heaps(p);
      const h1 = st.find((h) => h.name === 'ms_ext1');
      const h2 = st.find((h) => h.name === 'ms_ext2');
      assert.ok(h1 && h2);
      assert.deepEqual([h1.socket, h1.external, h1.totalSize, h1.allocCount], [e1.socket, true, e1.len, 2]);
      assert.deepEqual([h2.socket, h2.totalSize, h2.allocCount], [e2.socket, e2.len, 10]);

      const segs = await p.command('memsegs');
      const ext = segs.lists.filter((l: any) => l.external);
      assert.deepEqual(
        ext.map((l: any) => [l.baseVa, l.pageSize, l.used]),
        [
          [e1.va, 4096, e1.len / 4096],
          [e2.va, 2 * 1024 * 1024, 2],
        ],
      );

      // The primary's own dump is the oracle for external heaps.
      const path = join(tmpdir(), `ms-dump-${process.pid}.txt`);
      await p.command(`dump_heaps ${path}`);
      const dump = parseHeapDump(await readFile(path, 'utf8'));
      await rm(path, { force: true });
      const d1 = dump.find((h) => h.size === e1.len && h.elements[0]?.addr === va1);
      assert.ok(d1, 'the dump has the memfd heap');
      assert.equal(d1.allocCount, 2, 'the malloc and the memzone');
      const ptr = addr(a.ptr);
      assert.ok(
        d1.elements.some((e) => e.state === 'BUSY' && e.addr < ptr && ptr + 5000n <= e.addr + BigInt(e.len)),
        'a busy element holds the allocation',
      );
      const d0 = dump.find((h) => h.id === 0)!;
      const s0 = st.find((h) => h.socket === 0)!;
      assert.equal(d0.size, s0.totalSize);
      assert.equal(d0.allocCount, s0.allocCount);
      assert.equal(d0.elements.filter((e) => e.state === 'BUSY').length, s0.allocCount);
      for (const h of dump) assert.equal(h.elements.reduce((s, e) => s + e.len, 0), h.size, `heap ${h.id} is tiled`);

      // Removing frees the primary's allocations in the heap first.
      await p.command('extmem_remove ms_ext1');
      await p.command('extmem_remove ms_ext2');
      await assert.rejects(p.command('extmem_remove ms_ext1'), /no external heap named/);
      await assert.rejects(p.command('malloc t 10 0 heap:ms_ext1'), /no malloc heap named/);
      await assert.rejects(p.command('memzone_free ms_ext_zone'), /no memzone named/, 'removing the heap freed its memzone');
      const after = await heaps(p);
      assert.equal(after.some((h) => h.external), false);
      assert.equal((await p.command('memsegs')).lists.some((l: any) => l.external), false);
      assert.equal((await p.command('freeall')).count, 0, 'nothing of theirs is left in the table');
    });

    await t.test('dump_heaps reports a bad path', async () => {
      await assert.rejects(p.command('dump_heaps /nonexistent-dir/x'), /Cannot open/);
    });
  } finally {
    await p.stop();
  }
  assert.equal(p.alive(), false);
  assertGone(prefix);
});

test('demo primary exits cleanly on SIGTERM and on end of input', { skip, timeout: 120_000 }, async () => {
  const a = await DemoPrimary.start({ memMb: 64 });
  await a.command('fill 1000 128');
  await a.command('extmem ms_sig 65536');
  a.kill('SIGTERM');
  const ea = await a.waitExit(10_000);
  assert.deepEqual(ea, { code: 0, signal: null }, a.log());
  assertGone(a.prefix);

  const b = await DemoPrimary.start({ memMb: 64 });
  await b.command('mempool_create ms_eof 511 64 16');
  await b.command('mempool_get ms_eof 10');
  // Closing stdin (the controller went away) is a clean exit too.
  b.closeInput();
  const eb = await b.waitExit(10_000);
  assert.deepEqual(eb, { code: 0, signal: null }, b.log());
  assertGone(b.prefix);
  await assert.rejects(b.command('ping'), /exited with status 0/);
});

test('a killed demo primary is cleaned up', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  assert.ok(hugepageFiles(p.prefix).length > 0);
  p.kill('SIGKILL');
  const e = await p.waitExit(10_000);
  assert.equal(e?.signal, 'SIGKILL');
  assertGone(p.prefix);
});

test('a second primary on a live prefix fails without touching the first one', { skip, timeout: 60_000 }, async () => {
  const a = await DemoPrimary.start({ memMb: 64 });
  try {
    const files = hugepageFiles(a.prefix).length;
    await assert.rejects(DemoPrimary.start({ prefix: a.prefix, memMb: 64 }), /Is another primary process running\?/);
    assert.equal(existsSync(join(a.ready.runtimeDir, 'config')), true, 'the live runtime dir is kept');
    assert.equal(hugepageFiles(a.prefix).length, files);
    assert.deepEqual(await a.command('ping'), { ok: true });
  } finally {
    await a.stop();
  }
  assertGone(a.prefix);
});

test('what a SIGKILLed test process left is swept by the next one', { skip, timeout: 60_000 }, async () => {
  const helpers = require.resolve('../helpers/primaries');
  const script = `const h = require(${JSON.stringify(helpers)});
    h.DemoPrimary.start({ memMb: 64 }).then((p) => {
      console.log(JSON.stringify({ prefix: p.prefix, pid: p.pid }));
      process.kill(process.pid, 'SIGKILL');
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: process.cwd(), timeout: 30_000 });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  const { prefix, pid } = JSON.parse(r.stdout.trim());
  // The orphaned primary sees EOF on stdin and exits cleanly by itself ...
  const deadline = Date.now() + 10_000;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  // ... but EAL never removes its runtime dir.
  assert.equal(runtimeDirs(prefix).some((d) => existsSync(d)), true);
  assert.ok(sweepStalePrefixes().includes(prefix));
  assertGone(prefix);
});

test('EAL output never reaches the reply channel', { skip, timeout: 60_000 }, async () => {
  // A bad EAL option makes rte_eal_init printf() its usage text: the demo
  // primary sends that to stderr, and its one reply says what failed.
  const err = await DemoPrimary.start({ extraEal: ['--no-such-eal-option'] }).then(
    () => assert.fail('started with a bad EAL option'),
    (e: Error) => e,
  );
  assert.match(err.message, /exited before it was ready \(rte_eal_init failed \(Invalid argument\)\.\)/);
  assert.match(err.message, /--file-prefix|EAL/, 'the log tail carries the EAL usage text');
  assert.doesNotMatch(err.message, /not JSON/);
});
