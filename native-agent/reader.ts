/**
 * The lock-free snapshot reader. It copies DPDK's shared structures with
 * process_vm_readv (never a plain dereference), takes no DPDK lock, and
 * retries a part whose version counter or heap counters moved during the
 * copy. External memory is read from the process that maps it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  hex,
  type Heap,
  type Memseg,
  type MemsegList,
  type Memzone,
  type Mempool,
  type MempoolChunk,
  SNAPSHOT_SCHEMA,
  type Snapshot,
  type TargetInfo,
} from '../common/snapshot';
import { byAddr, byName } from '../common/delta';
import type { Layout } from './dpdk/layout';
import { cstr, decodeMemConfig, decodeMemsegList, ptr, fbarrayMask, type FbarrayHdr, type HeapHdr, type MemConfig, type MemsegListHdr, usedIndexes } from './dpdk/memconfig';
import { VmReader, VmReadError } from './native/vm';
import { decodeLive, type LiveEntry, TABLE_MEMZONE, TABLE_SIZE } from './dmabuf/table';
import { ElementColumns, nameOwners, type OwnerRange, recycleColumns, setColumns } from './elements';
import { isAlive, readLocks } from './procfs';
import { dmabufFromBacking, findBackings, ProcCache } from './backing';

const MAX_RETRIES = 8;
/** Element counts of the last snapshot, per heap: the next one allocates its columns once. */
const sizeHint = new Map<number, number>();

/**
 * Room for a heap's elements before its first walk: its busy ones (the
 * heap's alloc count) and a quarter more for the free ones between them, so
 * that a 100k-element heap's first snapshot does not grow its columns by
 * doubling and leave the smaller ones behind as garbage.
 */
function firstSize(allocCount: number): number {
  return Math.min(1 << 22, 1024 + allocCount + (allocCount >> 2));
}

export { ptr };

export interface ReaderContext {
  L: Layout;
  /**
   * Reads the target's shared memory (config, fbarrays, internal heaps):
   * this process after a secondary attach, or the primary itself (peek).
   */
  shared: VmReader;
  mcfgAddr: number;
  runtimeDir: string;
  target: () => TargetInfo;
  /** The seed's own query, where the loaded librte_eal carries it (secondary route only). */
  nativeDmabuf?: (mslIndex: number) => { fd: number; offset: number } | null;
  /** Reader for another process's memory (external memory it maps). */
  readerFor(pid: number): VmReader;
}

class Inconsistent extends Error {}

export interface ReadStats {
  retries: number;
}

/**
 * The whole picture, read without a lock. `recycle`: a previous snapshot the
 * caller is done with, whose element buffers this one reuses.
 */
export function takeSnapshot(ctx: ReaderContext, recycle?: Snapshot): Snapshot {
  const spare = recycle ? recycleColumns(recycle.heaps) : new Map<number, ElementColumns>();
  const stats: ReadStats = { retries: 0 };
  const warnings: string[] = [];
  const cfg = readMemConfig(ctx);
  // one read of each process's maps serves owners and backings alike
  const procs = new ProcCache();
  const external = externalOwners(ctx, cfg, procs);
  const memsegLists = cfg.lists.map((l) => readMemsegList(ctx, l, external.get(l.index) ?? null, stats));
  const target = ctx.target();
  const memzones = readMemzones(ctx, cfg.memzones, stats);
  addRegistrations(ctx, memsegLists, memzones, warnings);
  addBackings(memsegLists, cfg, target.pid, procs);
  for (const l of memsegLists) if (l.warning) warnings.push(`memseg list ${l.index}: ${l.warning}`);
  const mempools = readMempools(ctx, cfg);
  const owners = ownersOf(ctx, cfg, memzones, mempools);
  const heaps = cfg.heaps.map((h) => readHeap(ctx, h, cfg, external, owners, stats, spare.get(h.index)));
  for (const h of heaps) if (!h.elementsAvailable && h.reason) warnings.push(`heap ${h.name}: ${h.reason}`);
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt: new Date().toISOString(),
    target,
    readMethod: 'lock-free',
    retries: stats.retries,
    warnings,
    memsegLists,
    heaps,
    memzones: memzones.sort(byAddr),
    mempools: mempools.sort(byName),
  };
}

export function readMemConfig(ctx: ReaderContext): MemConfig {
  const buf = ctx.shared.read(ctx.mcfgAddr, ctx.L.memConfig.size);
  if (!buf) throw new VmReadError(14, `the shared config at ${hex(BigInt(ctx.mcfgAddr))} is not mapped`);
  return decodeMemConfig(ctx.L, buf, BigInt(ctx.mcfgAddr));
}

// ---------------------------------------------------------------- registrations

/**
 * What Memscope's shared table (dmabuf/table.ts) says of each list, then what
 * the loaded EAL itself answers where it carries the seed (its side table is
 * process-local: only the registering process gets an answer).
 */
function addRegistrations(ctx: ReaderContext, lists: MemsegList[], memzones: Memzone[], warnings: string[]): void {
  const z = memzones.find((m) => m.name === TABLE_MEMZONE);
  const table = z ? ctx.shared.read(Number(z.addr), TABLE_SIZE) : null;
  const entries = table ? decodeLive(table) : new Map<number, LiveEntry>();
  for (const l of lists) {
    const e = entries.get(l.index);
    if (e && e.baseVa === BigInt(l.baseVa)) {
      l.registration = { fd: e.fd, offset: e.offset, ownerPid: e.ownerPid, ownerAlive: e.ownerAlive, kind: e.kind, exporter: e.exporter || null, size: e.size, inode: e.inode, pageSize: e.pageSize };
      if (!e.ownerAlive) warnings.push(`memseg list ${l.index}: its Memscope registration's holder (pid ${e.ownerPid}) is gone; \`memscope repair\` clears it.`);
      else if (e.kind === 'dmabuf') l.dmabuf = { fd: e.fd, offset: e.offset, ownerPid: e.ownerPid, exporter: e.exporter || null, size: e.size, inode: e.inode, source: 'table' };
    }
    if (!l.dmabuf && l.external && ctx.nativeDmabuf) {
      const n = ctx.nativeDmabuf(l.index);
      if (n && n.fd >= 0) l.dmabuf = { fd: n.fd, offset: n.offset, ownerPid: process.pid, exporter: null, size: null, inode: null, source: 'native' };
    }
  }
}

// ---------------------------------------------------------------- memseg lists

interface ExternalOwner {
  /** Live processes holding the list's fbarray (flock), i.e. attached to it. */
  holders: number[];
  /** The process whose address space maps the list's memory, if found. */
  mapper: number | null;
  fbarrayFile: string;
  fileExists: boolean;
}

/**
 * Who holds each external memseg list. DPDK flocks an fbarray's file in every
 * process that created or attached it, so /proc/locks names them; the one
 * whose maps cover base_va holds the memory itself.
 */
function externalOwners(ctx: ReaderContext, cfg: MemConfig, procs: ProcCache): Map<number, ExternalOwner> {
  const out = new Map<number, ExternalOwner>();
  const ext = cfg.lists.filter((l) => l.external);
  if (!ext.length) return out;
  const locks = readLocks();
  for (const l of ext) {
    const file = path.join(ctx.runtimeDir, `fbarray_${l.arr.name}`);
    let inode = -1;
    try {
      inode = fs.statSync(file).ino;
    } catch {
      /* the file is gone */
    }
    const holders = inode < 0 ? [] : [...new Set(locks.filter((k) => k.inode === inode && k.pid > 0 && !k.blocked).map((k) => k.pid))].filter(isAlive);
    let mapper: number | null = null;
    const base = l.baseVa;
    for (const pid of holders) {
      const maps = procs.maps(pid);
      if (maps?.some((r) => r.start <= base && base < r.end)) {
        mapper = pid;
        break;
      }
    }
    out.set(l.index, { holders, mapper, fbarrayFile: file, fileExists: inode >= 0 });
  }
  return out;
}

/**
 * The memory behind each external list that is 'ok', from /proc: first in
 * the processes that hold the list (its registrant among them), then in the
 * primary. Sets `backing`, and `dmabuf` from it unless a dma-buf is already
 * known from a better source (a shared table, the registrant itself).
 * Internal lists get neither.
 */
function addBackings(lists: MemsegList[], cfg: MemConfig, primaryPid: number | null, procs: ProcCache): void {
  const want = lists.filter((l) => l.external && l.state === 'ok');
  if (!want.length) return;
  const hdrs = new Map(cfg.lists.map((h) => [h.index, h] as const));
  const found = findBackings(
    want.map((l) => ({ index: l.index, baseVa: hdrs.get(l.index)!.baseVa, len: l.len, pids: l.ownerPids ?? [] })),
    primaryPid !== null ? [primaryPid] : [],
    procs,
  );
  for (const l of want) {
    const b = found.get(l.index) ?? null;
    l.backing = b;
    if (!l.dmabuf) l.dmabuf = b ? dmabufFromBacking(b) : null;
  }
}

function readMemsegList(ctx: ReaderContext, l: MemsegListHdr, ext: ExternalOwner | null, stats: ReadStats): MemsegList {
  const base: MemsegList = {
    index: l.index,
    baseVa: hex(l.baseVa),
    pageSize: l.pageSz,
    socketId: l.socketId,
    len: l.len,
    external: l.external,
    heap: l.heap,
    capacity: l.arr.len,
    segmentCount: l.arr.count,
    state: 'ok',
    segments: [],
  };
  if (l.external && ext) {
    base.ownerPids = ext.holders;
    if (!ext.fileExists || ext.holders.length === 0) {
      base.state = 'orphaned';
      base.warning = ext.fileExists
        ? `external memory at ${base.baseVa} was registered by a process that is gone without unregistering it: any process that walks memsegs without rte_extmem_attach will crash; run \`memscope repair\` or restart the primary.`
        : `external memory at ${base.baseVa} is orphaned and its fbarray file is deleted: processes that walk memsegs will crash, and only a restart of the primary clears it.`;
      return base;
    }
    // Never dereference an external list: its fbarray lives in the file.
    const segs = readFbarrayFromFile(ctx.L, ext.fbarrayFile, l.arr);
    if (!segs) {
      base.state = 'unattached';
      base.warning = `cannot read ${ext.fbarrayFile}: run Memscope as the user that registered this memory, or root.`;
      return base;
    }
    base.segments = segs;
    base.segmentCount = segs.length;
    return base;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const segs = readFbarraySegments(ctx, l.arr);
      const after = ctx.shared.borrow(ctx.mcfgAddr + ctx.L.memConfig.memsegs + l.index * ctx.L.memsegList.size + ctx.L.memsegList.version, 4);
      if (!after || after.readUInt32LE(0) !== l.version) throw new Inconsistent();
      base.segments = segs;
      base.segmentCount = segs.length;
      return base;
    } catch (e) {
      if (!(e instanceof Inconsistent) || attempt >= MAX_RETRIES) {
        base.state = 'unattached';
        base.warning = `its segments changed during ${attempt + 1} copies or are not mapped here; try again.`;
        return base;
      }
      stats.retries++;
      // take the header again, the list may have grown
      const hdr = ctx.shared.borrow(ctx.mcfgAddr + ctx.L.memConfig.memsegs + l.index * ctx.L.memsegList.size, ctx.L.memsegList.size);
      if (hdr) {
        const fresh = decodeMemsegList(ctx.L, Buffer.from(hdr), l.index, 0);
        l = fresh;
      }
    }
  }
}


function decodeMemseg(L: Layout, b: Buffer, off: number, index: number): Memseg | null {
  const S = L.memseg;
  const addr = ptr(b, off + S.addr);
  if (addr === 0) return null; // freed segments are zeroed
  return {
    index,
    va: '0x' + addr.toString(16),
    iova: hex(b.readBigUInt64LE(off + S.iova)),
    len: ptr(b, off + S.len),
    hugepageSize: ptr(b, off + S.hugepageSz),
    socketId: b.readInt32LE(off + S.socketId),
    flags: b.readUInt32LE(off + S.flags),
  };
}

/** Used element indexes of an fbarray mapped in this process, then their bytes, run by run. */
function readFbarrayUsed(ctx: ReaderContext, arr: FbarrayHdr): { idx: number[]; data: (Buffer | null)[]; runs: [number, number][] } {
  const data = Number(arr.data);
  const { offset, bytes } = fbarrayMask(ctx.L, arr);
  const mask = ctx.shared.read(data + offset, bytes);
  if (!mask) throw new Inconsistent();
  const idx = usedIndexes(ctx.L, mask, arr.len);
  const runs: [number, number][] = [];
  for (const i of idx) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === i) last[1]++;
    else runs.push([i, 1]);
  }
  const bufs = ctx.shared.readMany(runs.map(([i, n]) => [data + i * arr.eltSz, n * arr.eltSz] as const));
  return { idx, data: bufs, runs };
}

function readFbarraySegments(ctx: ReaderContext, arr: FbarrayHdr): Memseg[] {
  const { data, runs } = readFbarrayUsed(ctx, arr);
  const out: Memseg[] = [];
  runs.forEach(([first, n], r) => {
    const b = data[r];
    if (!b) throw new Inconsistent();
    for (let k = 0; k < n; k++) {
      const s = decodeMemseg(ctx.L, b, k * arr.eltSz, first + k);
      if (s) out.push(s);
    }
  });
  return out;
}

function readFbarrayFromFile(L: Layout, file: string, arr: FbarrayHdr): Memseg[] | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const { offset, bytes } = fbarrayMask(L, arr);
    const mask = Buffer.alloc(bytes);
    if (fs.readSync(fd, mask, 0, mask.length, offset) !== mask.length) return null;
    const out: Memseg[] = [];
    const one = Buffer.alloc(arr.eltSz);
    for (const i of usedIndexes(L, mask, arr.len)) {
      if (fs.readSync(fd, one, 0, one.length, i * arr.eltSz) !== one.length) return null;
      const s = decodeMemseg(L, one, 0, i);
      if (s) out.push(s);
    }
    return out;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

// -------------------------------------------------------------------- memzones

export function readMemzones(ctx: ReaderContext, arr: FbarrayHdr, stats: ReadStats = { retries: 0 }): Memzone[] {
  const Z = ctx.L.memzone;
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    try {
      const { data, runs } = readFbarrayUsed(ctx, arr);
      const out: Memzone[] = [];
      runs.forEach(([, n], r) => {
        const b = data[r];
        if (!b) throw new Inconsistent();
        for (let k = 0; k < n; k++) {
          const o = k * arr.eltSz;
          const addr = ptr(b, o + Z.addr);
          if (addr === 0) continue;
          out.push({
            name: cstr(b, o + Z.name, Z.nameLen),
            addr: '0x' + addr.toString(16),
            iova: hex(b.readBigUInt64LE(o + Z.iova)),
            len: ptr(b, o + Z.len),
            hugepageSize: ptr(b, o + Z.hugepageSz),
            socketId: b.readInt32LE(o + Z.socketId),
            flags: b.readUInt32LE(o + Z.flags),
          });
        }
      });
      return out;
    } catch (e) {
      if (!(e instanceof Inconsistent)) throw e;
      stats.retries++;
    }
  }
  return [];
}

// -------------------------------------------------------------------- mempools

/**
 * Calls `fn(entry, data)` for each entry of the named tailq (an rte_malloc'ed
 * `struct rte_tailq_entry` and the object it points at), cycles and runaway
 * lists cut off.
 */
function walkTailq(ctx: ReaderContext, cfg: MemConfig, name: string, fn: (entry: number, data: number) => void): void {
  const q = cfg.tailqs.find((t) => t.name === name);
  const seen = new Set<number>();
  let entry = q ? Number(q.first) : 0;
  while (entry !== 0 && !seen.has(entry) && seen.size < 65536) {
    seen.add(entry);
    const e = ctx.shared.borrow(entry, ctx.L.tailqEntry.size);
    if (!e) break;
    // both words before `fn` borrows again
    const data = ptr(e, ctx.L.tailqEntry.data);
    const next = ptr(e, ctx.L.tailqEntry.next);
    fn(entry, data);
    entry = next;
  }
}

function readMempools(ctx: ReaderContext, cfg: MemConfig): Mempool[] {
  const out: Mempool[] = [];
  walkTailq(ctx, cfg, 'RTE_MEMPOOL', (_, mpAddr) => {
    const mp = mpAddr ? ctx.shared.read(mpAddr, ctx.L.mempool.size) : null;
    if (mp) out.push(decodeMempool(ctx, mp));
  });
  return out;
}

export function decodeMempool(ctx: ReaderContext, mp: Buffer): Mempool {
  const P = ctx.L.mempool;
  const name = cstr(mp, P.name, P.nameLen);
  const populated = mp.readUInt32LE(P.populatedSize);
  const pool: Mempool = {
    name,
    size: mp.readUInt32LE(P.poolSize),
    eltSize: mp.readUInt32LE(P.eltSize),
    cacheSize: mp.readUInt32LE(P.cacheSize),
    populated,
    inUse: null,
    avail: null,
    chunks: [],
  };
  const bookkeeping: number[] = [];
  pool.chunks = readChunks(ctx, ptr(mp, P.memListFirst), bookkeeping);
  // not part of the wire format: addresses of the pool's own rte_malloc allocations
  Object.defineProperty(pool, BOOKKEEPING, { value: bookkeeping, enumerable: false });
  const ring = ringCount(ctx, ptr(mp, P.poolData), name);
  if (ring === null) {
    pool.reason = 'its ops are not a DPDK ring this reader understands (Memscope never calls a target\u2019s mempool ops), so objects in use are unknown.';
    return pool;
  }
  // with cache_size 0, local_cache points past the header at no caches at all
  const cached = pool.cacheSize === 0 ? 0 : cacheCount(ctx, ptr(mp, P.localCache));
  pool.avail = Math.min(populated, ring + cached);
  pool.inUse = populated - pool.avail;
  return pool;
}

/**
 * A mempool's bookkeeping allocations (its tailq entry, one header per memory
 * chunk), made with rte_malloc by DPDK itself: their heap elements belong to
 * the pool, not to whoever called rte_malloc.
 */
const BOOKKEEPING = Symbol('memscope.mempoolBookkeeping');
type PoolWithBookkeeping = Mempool & { [BOOKKEEPING]?: number[] };

function readChunks(ctx: ReaderContext, first: number, headers: number[] = []): MempoolChunk[] {
  const H = ctx.L.memhdr;
  const out: MempoolChunk[] = [];
  const seen = new Set<number>();
  let cur = first;
  while (cur !== 0 && !seen.has(cur) && out.length < 65536) {
    seen.add(cur);
    const b = ctx.shared.borrow(cur, H.size);
    if (!b) break;
    out.push({ addr: '0x' + ptr(b, H.addr).toString(16), len: ptr(b, H.len) });
    headers.push(cur);
    cur = ptr(b, H.next);
  }
  return out;
}

/**
 * Objects in a ring-backed pool's ring, read from the ring's head/tail words.
 * Accepted only when the struct looks like the ring the mempool ring driver
 * creates for it ("MP_<pool name>", power-of-two size).
 */
function ringCount(ctx: ReaderContext, addr: number, poolName: string): number | null {
  if (!addr) return null;
  const R = ctx.L.ring;
  const b = ctx.shared.borrow(addr, R.consTail + 4);
  if (!b) return null;
  const name = cstr(b, R.name, R.nameLen);
  if (name !== ('MP_' + poolName).slice(0, R.nameLen - 1)) return null;
  const size = b.readUInt32LE(R.size);
  const mask = b.readUInt32LE(R.mask);
  const capacity = b.readUInt32LE(R.capacity);
  if (size === 0 || (size & (size - 1)) !== 0 || mask !== size - 1 || capacity > size) return null;
  const count = (b.readUInt32LE(R.prodTail) - b.readUInt32LE(R.consTail)) & mask;
  return Math.min(count, capacity);
}

function cacheCount(ctx: ReaderContext, localCache: number): number {
  if (!localCache) return 0;
  const C = ctx.L.mempoolCache;
  const ranges: [number, number][] = [];
  for (let i = 0; i < ctx.L.build.maxLcore; i++) ranges.push([localCache + i * C.size + C.len, 4]);
  let total = 0;
  for (const b of ctx.shared.readMany(ranges)) if (b) total += b.readUInt32LE(0);
  return total;
}

// ------------------------------------------------------------------- ownership


/** Memzones sorted by address, each named by the mempool it belongs to if any. */
export function ownerIndex(memzones: Memzone[], mempools: Mempool[]): OwnerRange[] {
  const chunks = mempools.flatMap((p) => p.chunks.map((c) => ({ start: Number(c.addr), end: Number(c.addr) + c.len, pool: p.name })));
  const byName = new Map(mempools.map((p) => [p.name, p] as const));
  return memzones
    .map((z) => {
      const start = Number(z.addr);
      const end = start + z.len;
      const chunk = chunks.find((c) => c.start < end && start < c.end);
      // the pool's own struct is "MP_<pool>", its ring "RG_MP_<pool>"
      const bare = z.name.replace(/^RG_/, '').replace(/^MP_/, '');
      const pool = chunk?.pool ?? (bare !== z.name && byName.has(bare) ? bare : null);
      const name = pool !== null ? `mempool:${pool}` : `memzone:${z.name}`;
      return { start, end, name };
    })
    .concat(mempools.flatMap((p) => ((p as PoolWithBookkeeping)[BOOKKEEPING] ?? []).map((a) => ({ start: a, end: a + 1, name: `mempool:${p.name}` }))))
    .sort((a, b) => a.start - b.start);
}

/**
 * Who owns what: memzones (named by their mempool when they are one's), and
 * the rte_malloc allocations DPDK makes for pools and rings (their tailq
 * entries, the pools' chunk headers), named after the pool or ring.
 */
export function ownersOf(ctx: ReaderContext, cfg: MemConfig, memzones: Memzone[], mempools: Mempool[]): OwnerRange[] {
  const byName = new Map(mempools.map((p) => [p.name, p] as const));
  walkTailq(ctx, cfg, 'RTE_MEMPOOL', (entry, mpAddr) => {
    const P = ctx.L.mempool;
    const mp = mpAddr ? ctx.shared.borrow(mpAddr, P.name + P.nameLen) : null;
    const pool = mp ? byName.get(cstr(mp, P.name, P.nameLen)) : undefined;
    // the tailq entry is the pool's own rte_malloc allocation
    if (pool) ((pool as PoolWithBookkeeping)[BOOKKEEPING] ??= []).push(entry);
  });
  const owners = ownerIndex(memzones, mempools);
  // a ring's tailq entry belongs to whoever owns the ring's memzone (a mempool's ring is the pool's)
  const rings: OwnerRange[] = [];
  walkTailq(ctx, cfg, 'RTE_RING', (entry, ring) => {
    const owner = owners.find((o) => o.start <= ring && ring < o.end);
    if (owner) rings.push({ start: entry, end: entry + 1, name: owner.name });
  });
  return rings.length ? [...owners, ...rings].sort((a, b) => a.start - b.start) : owners;
}

// ----------------------------------------------------------------------- heaps

function heapReader(ctx: ReaderContext, h: HeapHdr, cfg: MemConfig, external: Map<number, ExternalOwner>): { reader: VmReader | null; reason?: string } {
  const extLists = cfg.lists.filter((l) => l.external && l.socketId === h.socketId);
  if (!extLists.length) return { reader: ctx.shared };
  for (const l of extLists) {
    const o = external.get(l.index);
    if (o && !o.fileExists) return { reader: null, reason: 'its memory is orphaned (the process that registered it is gone); only a restart of the primary clears it.' };
    if (o?.mapper) {
      try {
        return { reader: ctx.readerFor(o.mapper) };
      } catch (e) {
        return { reader: null, reason: `its memory is mapped only in pid ${o.mapper} and cannot be read from it (${(e as Error).message}): run Memscope as root.` };
      }
    }
  }
  return { reader: null, reason: 'its memory is external and no live process attached to the target maps it, so its elements cannot be read.' };
}

function readHeap(ctx: ReaderContext, h: HeapHdr, cfg: MemConfig, external: Map<number, ExternalOwner>, owners: OwnerRange[], stats: ReadStats, spare?: ElementColumns): Heap {
  const heap: Heap = {
    id: h.index,
    name: h.name,
    socketId: h.socketId,
    totalSize: h.totalSize,
    freeSize: 0,
    allocCount: h.allocCount,
    external: h.socketId >= ctx.L.build.externalSocketMin || cfg.lists.some((l) => l.external && l.socketId === h.socketId),
    elementsAvailable: false,
    elements: [],
  };
  const { reader, reason } = heapReader(ctx, h, cfg, external);
  if (!reader) {
    heap.reason = reason;
    return heap;
  }
  let hdr = h;
  for (let attempt = 0; ; attempt++) {
    try {
      const cols = walkElements(ctx, reader, hdr, spare?.reset() ?? new ElementColumns(sizeHint.get(hdr.index) ?? firstSize(hdr.allocCount)));
      // the heap must not have moved while we walked it
      const again = ctx.shared.borrow(hdr.addr, ctx.L.heap.size);
      if (!again) throw new Inconsistent();
      const H = ctx.L.heap;
      if (
        again.readUInt32LE(H.allocCount) !== hdr.allocCount ||
        ptr(again, H.totalSize) !== hdr.totalSize ||
        ptr(again, H.first) !== Number(hdr.first) ||
        ptr(again, H.last) !== Number(hdr.last)
      ) {
        throw new Inconsistent();
      }
      const { total, free, largestFree } = cols.sums();
      if (total !== hdr.totalSize) throw new Inconsistent();
      nameOwners(cols, owners);
      sizeHint.set(hdr.index, cols.count);
      setColumns(heap, cols);
      heap.freeSize = free;
      heap.largestFree = largestFree;
      heap.allocCount = hdr.allocCount;
      heap.totalSize = hdr.totalSize;
      heap.elementsAvailable = true;
      return heap;
    } catch (e) {
      if (e instanceof VmReadError) {
        heap.reason = `its elements cannot be read: ${e.message}.`;
        return heap;
      }
      if (!(e instanceof Inconsistent) || attempt >= MAX_RETRIES) {
        if (!(e instanceof Inconsistent)) throw e;
        heap.reason = `it changed during each of ${attempt + 1} copies; try again.`;
        return heap;
      }
      stats.retries++;
      const fresh = ctx.shared.borrow(hdr.addr, ctx.L.heap.size);
      if (!fresh) throw new Inconsistent();
      const H = ctx.L.heap;
      hdr = {
        ...hdr,
        first: BigInt(ptr(fresh, H.first)),
        last: BigInt(ptr(fresh, H.last)),
        allocCount: fresh.readUInt32LE(H.allocCount),
        totalSize: ptr(fresh, H.totalSize),
      };
    }
  }
}

const BIG_READ = 1024 * 1024;
const TWO32 = 4294967296;

/**
 * Follows first → next. Elements are kept in address order, so addresses
 * must rise; each must point back at its heap and at its predecessor.
 * Reads are windows: wide over runs of small elements, a header's worth
 * after a large one.
 */
function walkElements(ctx: ReaderContext, reader: VmReader, h: HeapHdr, out: ElementColumns): ElementColumns {
  const E = ctx.L.elem;
  const heapAddr = Number(h.addr);
  let cur = Number(h.first);
  let prev = 0;
  let buf: Buffer = Buffer.alloc(0);
  let bufAddr = 0;
  let lastSize = 0;
  const hdrLen = E.headerLen;
  // DPDK's enum elem_state values -> common/columns.ts's state codes (free, busy, pad); the
  // bits above the state's (a dirty flag) are not the state
  const stateMask = (1 << E.stateBits) - 1;
  const stateIndex = new Int8Array(stateMask + 1).fill(-1);
  stateIndex[E.states.free] = 0;
  stateIndex[E.states.busy] = 1;
  stateIndex[E.states.pad] = 2;
  // the header's fields read as 32-bit words of the buffer's own memory (no
  // bounds-checked Buffer reads: ~4x faster on a million elements); element
  // headers are cache-line aligned in every DPDK build, and an unaligned one
  // takes Buffer's reads
  let u: Uint32Array = new Uint32Array(0);
  let uBase = 0;
  const [wHeap, wPrev, wNext, wSize, wState, wPad] = [E.heap, E.prev, E.next, E.size, E.stateWord, E.pad].map((f) => f >> 2) as [number, number, number, number, number, number];
  const aligned = [E.heap, E.prev, E.next, E.size, E.stateWord, E.pad].every((f) => (f & 3) === 0);
  while (cur !== 0) {
    if (cur < bufAddr || cur + hdrLen > bufAddr + buf.length) {
      const want = lastSize > BIG_READ / 4 ? hdrLen : BIG_READ;
      buf = reader.borrowUpTo(cur, want);
      bufAddr = cur;
      if (buf.length < hdrLen) throw new Inconsistent();
      if (u.buffer !== buf.buffer) u = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >> 2);
      uBase = buf.byteOffset;
    }
    const o = cur - bufAddr;
    let heap: number, back: number, state: number, size: number, next: number, pad: number;
    if (aligned && ((uBase + o) & 3) === 0) {
      const w = (uBase + o) >> 2;
      heap = u[w + wHeap]! + u[w + wHeap + 1]! * TWO32;
      back = u[w + wPrev]! + u[w + wPrev + 1]! * TWO32;
      state = stateIndex[u[w + wState]! & stateMask]!;
      size = u[w + wSize]! + u[w + wSize + 1]! * TWO32;
      next = u[w + wNext]! + u[w + wNext + 1]! * TWO32;
      pad = u[w + wPad]!;
    } else {
      heap = ptr(buf, o + E.heap);
      back = ptr(buf, o + E.prev);
      state = stateIndex[buf.readUInt32LE(o + E.stateWord) & stateMask]!;
      size = ptr(buf, o + E.size);
      next = ptr(buf, o + E.next);
      pad = buf.readUInt32LE(o + E.pad);
    }
    if (heap !== heapAddr || back !== prev) throw new Inconsistent();
    if (state < 0 || size === 0 || (next !== 0 && next < cur + size)) throw new Inconsistent();
    out.push(cur, size, pad, state);
    lastSize = size;
    prev = cur;
    cur = next;
    if (out.count > 50_000_000) throw new Inconsistent();
  }
  if (prev !== Number(h.last)) throw new Inconsistent();
  return out;
}
