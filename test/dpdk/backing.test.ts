// Discovery without cooperation: the memory behind each external memseg list,
// found from /proc whoever registered it (native-agent/backing.ts), on the
// demo primary (memfd and hugetlbfs external memory it registers itself) and
// on memory a secondary registered. A real dma-buf needs /dev/udmabuf or a
// dma-heap: where the kernel has one, a test makes one in this process.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import koffi from 'koffi';
import type { MemsegList, Snapshot } from '../../common/snapshot';
import { dmabufFromBacking, findBacking, findBackings, ProcCache } from '../../native-agent/backing';
import { snapshotOf, startOrphanMaker } from '../helpers/cli';
import { DemoPrimary, stopAll, whyNoDpdk } from '../helpers/primaries';
import { hostSkip, loudSkip } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ cc: true, hugepages: 200 }), 'DPDK');
const MiB = 1024 * 1024;
let p: DemoPrimary;

before(async () => {
  if (skip) return;
  p = await DemoPrimary.start({ memMb: 128 });
});
after(() => stopAll());

function noBackingOnInternalLists(snap: Snapshot): void {
  const internal = snap.memsegLists.filter((l) => !l.external);
  assert.ok(internal.length > 0);
  for (const l of internal) {
    assert.equal('backing' in l, false, `internal list ${l.index} has no backing`);
    assert.equal('dmabuf' in l, false, `internal list ${l.index} has no dmabuf`);
  }
}

function listAt(snap: Snapshot, va: string): MemsegList {
  const l = snap.memsegLists.find((x) => x.baseVa === va);
  assert.ok(l, `memseg list at ${va}`);
  return l;
}

test('memfd and hugetlbfs memory the primary registered: found in its maps and fd table, by peeking and as a secondary', { skip, timeout: 120_000 }, async (t) => {
  const m = await p.command('extmem bkA 4194304 memfd');
  const h = await p.command('extmem bkB 4194304 hugetlbfs');
  try {
    for (const via of [[], ['--via', 'secondary']]) {
      const snap = await snapshotOf(p.prefix, via);
      const how = via.length ? 'secondary' : 'peek';
      noBackingOnInternalLists(snap);
      for (const [reply, kind, pageSize] of [
        [m, 'memfd', 4096],
        [h, 'hugetlbfs', 2 * MiB],
      ] as const) {
        const l = listAt(snap, reply.va);
        assert.equal(l.state, 'ok');
        assert.deepEqual(l.ownerPids, [p.pid]);
        const b = l.backing;
        assert.ok(b, `${how}: list ${l.index} (${kind}) has a backing`);
        assert.equal(b.kind, kind, `${how}: ${b.path}`);
        if (kind === 'memfd') assert.equal(b.path, '/memfd:bkA (deleted)');
        else assert.match(b.path, new RegExp(`/${p.prefix}ext_bkB \\(deleted\\)$`));
        assert.equal(b.pageSize, pageSize);
        assert.equal(b.ownerPid, p.pid);
        assert.equal(b.offset, 0);
        assert.equal(b.size, 4194304);
        assert.equal(b.exporter, null);
        assert.equal(typeof b.fd, 'number', `${how}: the primary's fd of ${b.path}`);
        const fdPath = `/proc/${p.pid}/fd/${b.fd}`;
        assert.equal(fs.readlinkSync(fdPath), b.path, 'the fd names the object');
        assert.equal(fs.statSync(fdPath).ino, b.inode, 'and is the same inode');
        assert.equal(l.dmabuf, null, 'a memfd or hugetlbfs file is no dma-buf');
      }
    }

    // the offset is base_va's place in the object, wherever in the mapping it falls
    const mid = findBacking(BigInt(m.va) + 0x3000n, 4096, [p.pid]);
    assert.equal(mid?.offset, 0x3000);
    assert.equal(findBacking(BigInt(h.va) + BigInt(2 * MiB), 2 * MiB, [2 ** 22 + 7, p.pid])?.offset, 2 * MiB);

    // what a snapshot pays: its maps are read anyway (for the lists' owners)
    const q = [m, h].map((r, i) => ({ index: i, baseVa: BigInt(r.va), len: r.len as number, pids: [p.pid] }));
    const warm: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < 60; i++) {
      const cache = new ProcCache();
      cache.maps(p.pid);
      let t0 = performance.now();
      const found = findBackings(q, [p.pid], cache);
      warm.push(performance.now() - t0);
      assert.equal(found.size, 2);
      t0 = performance.now();
      findBackings(q, [p.pid]);
      cold.push(performance.now() - t0);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    t.diagnostic(`two external lists: ${median(warm).toFixed(3)} ms with the maps already read (median), ${median(cold).toFixed(3)} ms reading them too`);
    assert.ok(median(warm) < 3, `backings of two lists cost ${median(warm).toFixed(3)} ms on top of a snapshot`);
  } finally {
    await p.command('extmem_remove bkA');
    await p.command('extmem_remove bkB');
  }
  const snap = await snapshotOf(p.prefix);
  assert.equal(snap.memsegLists.filter((l) => l.external).length, 0);
  noBackingOnInternalLists(snap);
});

test('memory a secondary registered is found in that secondary, not in the primary', { skip, timeout: 60_000 }, async () => {
  const q = await DemoPrimary.start({ memMb: 64 });
  const maker = await startOrphanMaker(q.prefix, 2 * MiB);
  try {
    const reg = maker;
    const snap = await snapshotOf(q.prefix);
    const l = listAt(snap, reg.va);
    assert.equal(l.state, 'ok');
    assert.deepEqual(l.ownerPids, [maker.pid]);
    assert.ok(l.backing);
    assert.equal(l.backing.ownerPid, maker.pid, 'the registrant, tried before the primary');
    assert.equal(l.backing.kind, 'anonymous', 'it registered mmap(MAP_PRIVATE|MAP_ANONYMOUS) memory');
    assert.equal(l.backing.path, '');
    assert.equal(l.backing.offset, 0);
    assert.equal(l.backing.fd, null);
    assert.equal(l.backing.inode, null);
    assert.equal(l.backing.pageSize, 4096);
    assert.equal(l.dmabuf, null);
    noBackingOnInternalLists(snap);
  } finally {
    await maker.kill();
    fs.rmSync(path.join(os.tmpdir(), `memscope-orphan-${maker.pid}.log`), { force: true });
    await q.stop();
  }
});

// ---------------------------------------------------------------- a real dma-buf

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
const F_SEAL_SHRINK = 2;
const UDMABUF_CREATE = 0x40187542; // _IOW('u', 0x42, struct udmabuf_create { u32 memfd; u32 flags; u64 offset; u64 size; })
const DMA_HEAP_IOCTL_ALLOC = 0xc0184800; // _IOWR('H', 0, struct dma_heap_allocation_data { u64 len; u32 fd; u32 fd_flags; u64 heap_flags; })
const PROT_RW = 3;
const MAP_SHARED = 1;

function dmaHeaps(): string[] {
  try {
    return fs.readdirSync('/dev/dma_heap').sort((a, b) => (a === 'system' ? -1 : b === 'system' ? 1 : a < b ? -1 : 1));
  } catch {
    return [];
  }
}

test('a dma-buf mapped in this process: kind dmabuf, its fd, exporter and size from fdinfo', async (t) => {
  const udmabuf = fs.existsSync('/dev/udmabuf');
  const heaps = dmaHeaps();
  if (!udmabuf && heaps.length === 0) {
    hostSkip(t, 'no /dev/udmabuf or /dev/dma_heap on this host: the kernel has neither CONFIG_UDMABUF nor CONFIG_DMABUF_HEAPS, so no dma-buf can be made here (see the dma-buf section of dpdk-notes.md)');
    return;
  }
  const c = koffi.load('libc.so.6');
  const memfdCreate = c.func('int memfd_create(const char *name, unsigned int flags)');
  const ftruncate = c.func('int ftruncate(int fd, long len)');
  const fcntl = c.func('int fcntl(int fd, int cmd, int arg)');
  const open = c.func('int open(const char *path, int flags)');
  const ioctl = c.func('int ioctl(int fd, unsigned long req, void *arg)');
  const close = c.func('int close(int fd)');
  const mmap = c.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
  const munmap = c.func('int munmap(void *addr, size_t len)');

  const size = 4 * MiB;
  const mapOffset = 8192;
  const toClose: number[] = [];
  let exporter: string;
  let dmabuf: number;
  try {
    if (udmabuf) {
      exporter = 'udmabuf';
      const memfd = memfdCreate('memscope-backing', MFD_CLOEXEC | MFD_ALLOW_SEALING);
      assert.ok(memfd >= 0, `memfd_create: errno ${koffi.errno()}`);
      toClose.push(memfd);
      assert.equal(ftruncate(memfd, size), 0, `ftruncate: errno ${koffi.errno()}`);
      assert.equal(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0, `F_ADD_SEALS: errno ${koffi.errno()}`);
      const dev = open('/dev/udmabuf', O_RDWR | O_CLOEXEC);
      assert.ok(dev >= 0, `open /dev/udmabuf: errno ${koffi.errno()}`);
      const req = Buffer.alloc(24);
      req.writeUInt32LE(memfd, 0);
      req.writeUInt32LE(1, 4); // UDMABUF_FLAGS_CLOEXEC
      req.writeBigUInt64LE(0n, 8);
      req.writeBigUInt64LE(BigInt(size), 16);
      dmabuf = ioctl(dev, UDMABUF_CREATE, req);
      const err = koffi.errno();
      close(dev);
      assert.ok(dmabuf >= 0, `UDMABUF_CREATE: errno ${err}`);
    } else {
      exporter = heaps[0]!;
      const heap = open(`/dev/dma_heap/${exporter}`, O_RDWR | O_CLOEXEC);
      assert.ok(heap >= 0, `open /dev/dma_heap/${exporter}: errno ${koffi.errno()}`);
      const req = Buffer.alloc(24);
      req.writeBigUInt64LE(BigInt(size), 0);
      req.writeUInt32LE(O_RDWR | O_CLOEXEC, 12);
      const rc = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, req);
      const err = koffi.errno();
      close(heap);
      assert.equal(rc, 0, `DMA_HEAP_IOCTL_ALLOC: errno ${err}`);
      dmabuf = req.readUInt32LE(8);
    }
    toClose.push(dmabuf);
    const len = size - mapOffset;
    const ptr = mmap(null, len, PROT_RW, MAP_SHARED, dmabuf, mapOffset);
    const va = ptr ? BigInt(koffi.address(ptr)) : -1n;
    assert.ok(va > 0n && va !== 0xffffffffffffffffn, `mmap of the dma-buf: errno ${koffi.errno()}`);
    try {
      const b = findBacking(va + 4096n, 4096, [process.pid]);
      assert.ok(b, 'this process maps it');
      assert.equal(b.kind, 'dmabuf', b.path);
      assert.match(b.path, /^\/dmabuf:|^anon_inode:dmabuf/);
      assert.equal(b.ownerPid, process.pid);
      assert.equal(b.fd, dmabuf, 'the dma-buf fd, not the memfd behind it');
      assert.equal(b.exporter, exporter);
      assert.equal(b.size, size);
      assert.equal(b.offset, mapOffset + 4096);
      assert.equal(b.inode, fs.fstatSync(dmabuf).ino);
      assert.equal(b.pageSize, 4096);
      assert.deepEqual(dmabufFromBacking(b), { fd: dmabuf, offset: mapOffset + 4096, ownerPid: process.pid, exporter, size, inode: b.inode, source: 'proc' });
    } finally {
      munmap(ptr, len);
    }
  } finally {
    for (const fd of toClose) close(fd);
  }
});
