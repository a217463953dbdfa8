// The agent against dpdk-testpmd, a primary nobody here wrote, checked with
// DPDK's own tools: dpdk-proc-info -m for segments and memzones, and
// rte_malloc_dump_heaps / rte_mempool_in_use_count from a separate secondary.
// Once per DPDK release: Debian 12's 22.11 on the host, and the testpmd of
// Debian 13 (24.11) and sid (25.11) in their own roots (chroots, found by
// `memscope list` through /proc/<pid>/root; their oracles run in the root).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Snapshot } from '../../common/snapshot';
import { oracle, routeFree, runArgv, runCli, snapshotOf } from '../helpers/cli';
import { procInfo, runtimeDirs, stopAll, Testpmd, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';
import { describePixels, firstViewProblems, lanePixels } from '../helpers/map-pixels';
import { openMap, postSnapshot } from '../browser/harness';
import { mountRoot, releaseRoot, type ReleaseRoot, whyNoRoot } from '../helpers/releases';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const noDpdk = whyNoDpdk({ testpmd: true, procInfo: true, hugepages: 300 });
after(() => stopAll());

const targets: { release: string; root?: ReleaseRoot; skip: string | undefined }[] = [
  { release: '22.11', skip: loudSkip(noDpdk, 'DPDK') },
  ...['trixie', 'sid'].map((name) => {
    const root = releaseRoot(name);
    return { release: root.release, root, skip: noDpdk ?? loudSkip(whyNoRoot(root), `the DPDK ${root.release} root`) };
  }),
];

for (const { release, root, skip } of targets) describe(`DPDK ${release}${root ? ` (${root.name}'s testpmd, in its root)` : ' (Debian 12\u2019s testpmd)'}`, { skip }, () => {
  let tp: Testpmd;
  let unmount: () => void = () => undefined;
  /** The same target read both ways: as an attached secondary, and by peeking. */
  const snaps: Record<'secondary' | 'peek', Snapshot> = {} as never;

  before(async () => {
    if (skip) return;
    if (root) unmount = mountRoot(root);
    tp = await Testpmd.start({ memMb: 512, mbufs: 4096, ...(root ? { root } : {}) });
    snaps.secondary = await snapshotOf(tp.prefix, ['--via', 'secondary']);
    snaps.peek = await snapshotOf(tp.prefix, ['--via', 'peek']);
  });
  after(async () => {
    if (skip) return;
    const dirs = runtimeDirs(tp.prefix);
    await tp.stop();
    unmount();
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} is left behind`);
  });

  test('list finds testpmd alive without flags, with its pid, version, table, root and hugepages', async () => {
    const r = await runCli(['list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    type Listed = { filePrefix: string; pid: number; alive: boolean; dpdkVersion: string; layout: string | null; root: { label: string } | null; runtimeDirInRoot: string; hugepageBytes: number; attachable: boolean; mode: string; reason?: string };
    const t = (JSON.parse(r.stdout) as Listed[]).find((x) => x.filePrefix === tp.prefix);
    assert.ok(t, 'the prefix is listed');
    assert.equal(t.pid, tp.pid);
    assert.equal(t.alive, true);
    assert.equal(t.mode, 'hugepages');
    assert.match(t.dpdkVersion, new RegExp(`^${release.replace('.', '\\.')}\\.\\d+$`));
    assert.equal(t.layout, release);
    if (root) {
      assert.equal(t.root?.label, `chroot ${root.dir}`);
      assert.equal(t.runtimeDirInRoot, `/run/dpdk/${tp.prefix}`);
    } else assert.equal(t.root, null);
    assert.equal(t.hugepageBytes, 512 * 1024 * 1024);
    assert.equal(t.attachable, true, t.reason);
  });

  for (const access of ['secondary', 'peek'] as const) {
    test(`${access}: segments match dpdk-proc-info -m (va, iova, len)`, async () => {
      const info = await procInfo(tp.prefix, 20000, root);
      assert.equal(info.code, 0, info.raw);
      const ours = snaps[access].memsegLists.flatMap((l) => l.segments.map((s) => `${l.index}-${s.index} ${BigInt(s.va)} ${BigInt(s.iova)} ${s.len}`)).sort();
      const theirs = info.segments.map((s) => `${s.list}-${s.seg} ${s.va} ${s.iova} ${s.len}`).sort();
      assert.equal(ours.length, 256);
      assert.deepEqual(ours, theirs);
      for (const l of snaps[access].memsegLists) {
        assert.equal(l.state, 'ok');
        assert.equal(l.segmentCount, l.segments.length);
        assert.equal(l.pageSize, 2 * 1024 * 1024);
      }
    });

    test(`${access}: memzones match dpdk-proc-info -m (name, addr, len)`, async () => {
      const info = await procInfo(tp.prefix, 20000, root);
      const ours = snaps[access].memzones.map((z) => `${z.name} ${BigInt(z.addr)} ${z.len} ${z.socketId}`).sort();
      const theirs = info.memzones.map((z) => `${z.name} ${z.va} ${z.len} ${z.socket}`).sort();
      assert.ok(ours.length >= 5);
      assert.deepEqual(ours, theirs);
    });

    test(`${access}: heap elements match rte_malloc_dump_heaps from another process`, async () => {
      const o = await oracle(tp.prefix, root);
      const dumped = o.heaps.filter((h) => h.size > 0);
      assert.equal(snaps[access].heaps.length, dumped.length);
      for (const h of snaps[access].heaps) {
        const d = dumped.find((x) => x.id === h.id)!;
        assert.ok(d, `heap ${h.id} dumped`);
        assert.equal(h.elementsAvailable, true);
        assert.equal(h.name, `socket_${h.socketId}`);
        assert.equal(h.totalSize, d.size);
        assert.equal(h.allocCount, d.allocCount);
        assert.deepEqual(
          h.elements.map((e) => [e.addr, e.state, e.len, e.pad]),
          d.elements.map((e) => [e.addr, e.state, e.len, e.pad]),
        );
        const st = o.stats[String(h.socketId)]!;
        assert.equal(h.freeSize, st.heap_freesz_bytes);
        assert.equal(h.allocCount, st.alloc_count);
      }
    });

    test(`${access}: mempool in-use counts match rte_mempool_in_use_count; owners name pools and memzones`, async () => {
      const o = await oracle(tp.prefix, root);
      assert.ok(snaps[access].mempools.length >= 1);
      for (const p of snaps[access].mempools) {
        const d = o.mempools.find((x) => x.name === p.name);
        assert.ok(d, `pool ${p.name} known to DPDK`);
        assert.equal(p.inUse, d.inUse, `in use of ${p.name}`);
        assert.equal(p.avail, d.avail);
        assert.equal(p.populated, p.size);
        assert.ok(p.chunks.length >= 1 && p.chunks.every((c) => c.len > 0));
      }
      const owners = new Set(snaps[access].heaps.flatMap((h) => h.elements.map((e) => e.owner)));
      assert.ok(owners.has('mempool:mb_pool_0'), [...owners].join(', '));
      assert.ok(owners.has('memzone:rte_eth_dev_data'), [...owners].join(', '));
      // every memzone lies in exactly one busy element, which names it
      for (const z of snaps[access].memzones) {
        const holders = snaps[access].heaps.flatMap((h) => h.elements).filter((e) => e.state === 'busy' && Number(e.addr) <= Number(z.addr) && Number(z.addr) < Number(e.addr) + e.len);
        assert.equal(holders.length, 1, z.name);
        assert.match(holders[0]!.owner ?? '', /^(memzone|mempool):/);
      }
    });
  }

  test('peeking and attaching see the same memory, and peeking is the default', async () => {
    const byDefault = await snapshotOf(tp.prefix);
    assert.equal(byDefault.access, 'peek');
    assert.equal(snaps.secondary.access, 'secondary');
    // a secondary says which spelling of the seed's getters its librte_eal carries: none, in these builds
    assert.equal(snaps.secondary.target.dmabufGetter, null);
    assert.equal('dmabufGetter' in snaps.peek.target, false);
    assert.equal(routeFree(snaps.peek), routeFree(snaps.secondary));
  });

  test('the Memory Map opens on this testpmd showing every lane that holds memory, free space as free (from the pixels)', async () => {
    const m = await openMap({ width: 1440, height: 900 });
    try {
      await postSnapshot(m.page, JSON.stringify(snaps.peek));
      await m.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const px = await lanePixels(m.page);
      assert.deepEqual(firstViewProblems(px), [], describePixels(px));
      assert.ok(px.some((l) => l.kind === 'heap' && l.items > 0 && l.drawn >= 3), describePixels(px));
      assert.deepEqual(m.problems, []);
    } finally {
      await m.close();
    }
  });

  test('attaching again and again leaves the target as it was', async () => {
    for (let i = 0; i < 3; i++) await snapshotOf(tp.prefix, ['--via', 'secondary']);
    const again = await snapshotOf(tp.prefix, ['--via', 'secondary']);
    const snap = snaps.secondary;
    assert.equal(again.access, 'secondary');
    assert.deepEqual(
      again.heaps.map((h) => [h.allocCount, h.totalSize, h.freeSize, h.elements.length]),
      snap.heaps.map((h) => [h.allocCount, h.totalSize, h.freeSize, h.elements.length]),
    );
    assert.deepEqual(again.heaps[0]!.elements, snap.heaps[0]!.elements);
  });

  test('the opt-in locking read (DPDK\u2019s own walks and dumps) sees the same picture, or is refused for another root', async () => {
    if (root) {
      const r = await runCli(['snapshot', '--file-prefix', tp.prefix, '--read-method', 'locking']);
      assert.equal(r.code, 25, r.stderr);
      assert.match(r.stderr, new RegExp(`runs in another root \\(chroot ${root.dir}\\), whose DPDK this process cannot load.*read it lock-free`));
      return;
    }
    const locked = await snapshotOf(tp.prefix, ['--read-method', 'locking']);
    const free = await snapshotOf(tp.prefix);
    assert.equal(locked.readMethod, 'locking');
    assert.equal(free.readMethod, 'lock-free');
    const segs = (s: Snapshot) => s.memsegLists.map((l) => [l.index, l.baseVa, l.pageSize, l.segments.map((x) => [x.index, x.va, x.iova, x.len])]);
    assert.deepEqual(segs(locked), segs(free));
    assert.deepEqual(locked.memzones, free.memzones);
    assert.deepEqual(locked.mempools, free.mempools);
    assert.deepEqual(
      locked.heaps.map((h) => [h.id, h.name, h.socketId, h.totalSize, h.freeSize, h.allocCount, h.elements]),
      free.heaps.map((h) => [h.id, h.name, h.socketId, h.totalSize, h.freeSize, h.allocCount, h.elements]),
    );
  });

  test('scripts/verify-layout.mjs checks every field of the release file against this primary, and finds a shifted one', async () => {
    const script = path.join(__dirname, '../../../scripts/verify-layout.mjs');
    const ok = await runArgv([process.execPath, script, '--file-prefix', tp.prefix], { timeoutMs: 60_000 });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`^DPDK ${release.replace('.', '\\.')} layout: \\d+ fields in \\d+ checks, 0 checks wrong, 0 fields unchecked$`, 'm'));
    if (root) return;
    // the same file with the memseg lists 8 bytes off, and the ring size where its mask is
    const bad = JSON.parse(readFileSync(path.join(__dirname, '../../../native-agent/dpdk/releases/22.11.json'), 'utf8')) as { memConfig: { memsegs: number }; ring: { size: number } };
    bad.memConfig.memsegs += 8;
    bad.ring.size += 4;
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'memscope-layout-')), 'shifted.json');
    writeFileSync(file, JSON.stringify(bad));
    const r = await runArgv([process.execPath, script, '--file-prefix', tp.prefix, '--layout', file], { timeoutMs: 60_000 });
    rmSync(path.dirname(file), { recursive: true, force: true });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^WRONG  memConfig\.memsegs memsegList\.memsegArr fbarray\.name fbarray\.nameLen: list 0's fbarray is named/m);
    assert.match(r.stdout, /^WRONG  ring\.size ring\.mask ring\.capacity: /m);
  });

  test('the runtime dir holds only what the primary made: every helper cleaned up after itself', () => {
    const files = readdirSync(runtimeDirs(tp.prefix).find((d) => existsSync(d))!).sort();
    assert.deepEqual(files.filter((f) => /_\d+(_[0-9a-f]+)?$/.test(f) && f !== 'mp_socket'), []);
  });
});
