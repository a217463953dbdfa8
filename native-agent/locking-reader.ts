/**
 * The opt-in fallback (`--allow-locking-reads`) for DPDK builds whose private
 * layout failed the self-check: it reads through DPDK's public calls, which
 * take the target's locks (memory hot-plug read lock, memzone lock, each
 * heap's spinlock for a whole dump). Only public, ABI-stable structs are
 * decoded here. A reader that dies inside one of these calls wedges the
 * primary, which is why this path is never the default.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import koffi from 'koffi';
import {
  hex,
  type Heap,
  type ElementState,
  type MemsegList,
  type Memzone,
  SNAPSHOT_SCHEMA,
  type Snapshot,
} from '../common/snapshot';
import type { EalLib } from './eal';
import { cstr } from './dpdk/memconfig';
import { libc } from './native/libc';
import { decodeMempool, ownersOf, ptr, type ReaderContext, readMemConfig } from './reader';
import { ElementColumns, nameOwners, setColumns } from './elements';
import { byAddr, byName } from '../common/delta';
import type { Mempool } from '../common/snapshot';

export interface DumpedHeap {
  id: number;
  size: number;
  allocCount: number;
  elements: { addr: string; state: ElementState; len: number; pad: number }[];
}

/** Parses rte_malloc_dump_heaps output (format unchanged from v22.11 to v26.07). */
export function parseHeapDump(text: string): DumpedHeap[] {
  const heaps: DumpedHeap[] = [];
  let cur: DumpedHeap | null = null;
  let el: DumpedHeap['elements'][number] | null = null;
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^Heap id:\s*(\d+)/.exec(line))) {
      cur = { id: Number(m[1]), size: 0, allocCount: 0, elements: [] };
      heaps.push(cur);
    } else if (cur && (m = /^Heap size:\s*0x([0-9a-f]+)/i.exec(line))) {
      cur.size = parseInt(m[1]!, 16);
    } else if (cur && (m = /^Heap alloc count:\s*(\d+)/.exec(line))) {
      cur.allocCount = Number(m[1]);
    } else if (cur && (m = /^Malloc element at (0x[0-9a-f]+) \((\w+)\)/i.exec(line))) {
      el = { addr: m[1]!.toLowerCase(), state: m[2]!.toLowerCase() as ElementState, len: 0, pad: 0 };
      cur.elements.push(el);
    } else if (el && (m = /^\s+len:\s*0x([0-9a-f]+)\s+pad:\s*0x([0-9a-f]+)/i.exec(line))) {
      el.len = parseInt(m[1]!, 16);
      el.pad = parseInt(m[2]!, 16);
    }
  }
  return heaps;
}

function dumpToString(write: (stream: unknown) => void): string {
  const file = path.join(os.tmpdir(), `memscope-dump-${process.pid}-${Date.now()}.txt`);
  const c = libc();
  const f = c.fopen(file, 'w');
  try {
    write(f);
  } finally {
    c.fclose(f);
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.unlinkSync(file);
  }
}

export function lockedSnapshot(eal: EalLib, ctx: ReaderContext): Snapshot {
  const lib = eal.lib;
  const warnings = ['read with DPDK\u2019s locking calls (--allow-locking-reads): the layout self-check failed for this build.'];

  // memseg lists and segments: rte_memseg_walk holds the hot-plug read lock
  const lists = new Map<number, MemsegList>();
  const order: number[] = [];
  koffi.proto('int ms_list_cb(const void *msl, void *arg)');
  koffi.proto('int ms_cb(const void *msl, const void *ms, void *arg)');
  const listWalk = lib.func('int rte_memseg_list_walk(ms_list_cb *cb, void *arg)');
  const segWalk = lib.func('int rte_memseg_walk(ms_cb *cb, void *arg)');
  const view = (p: unknown, n: number) => Buffer.from(koffi.view(p as never, n));
  const M = ctx.L.memsegList;
  let hasExternal = false;
  listWalk((msl: unknown) => {
    const b = Buffer.from(view(msl, ctx.L.memsegList.size));
    const at = Number(koffi.address(msl as never));
    order.push(at);
    const external = b.readUInt32LE(M.external) !== 0;
    hasExternal ||= external;
    lists.set(at, {
      index: Math.round((at - ctx.mcfgAddr - ctx.L.memConfig.memsegs) / M.size),
      baseVa: hex(b.readBigUInt64LE(M.baseVa)),
      pageSize: ptr(b, M.pageSz),
      socketId: b.readInt32LE(M.socketId),
      len: ptr(b, M.len),
      external,
      heap: b.readUInt32LE(M.heap) !== 0,
      capacity: b.readUInt32LE(M.memsegArr + ctx.L.fbarray.len),
      segmentCount: b.readUInt32LE(M.memsegArr + ctx.L.fbarray.count),
      state: external ? 'unattached' : 'ok',
      segments: [],
    });
    return 0;
  }, null);
  const S = ctx.L.memseg;
  segWalk((msl: unknown, ms: unknown) => {
    const l = lists.get(Number(koffi.address(msl as never)));
    if (!l || l.external) return 0;
    const b = view(ms, S.size);
    const va = ptr(b, S.addr);
    l.segments.push({
      index: Math.round((va - Number(l.baseVa)) / l.pageSize),
      va: '0x' + va.toString(16),
      iova: hex(b.readBigUInt64LE(S.iova)),
      len: ptr(b, S.len),
      hugepageSize: ptr(b, S.hugepageSz),
      socketId: b.readInt32LE(S.socketId),
      flags: b.readUInt32LE(S.flags),
    });
    return 0;
  }, null);

  // memzones: rte_memzone_walk holds the memzone read lock
  const memzones: Memzone[] = [];
  koffi.proto('void mz_cb(const void *mz, void *arg)');
  const mzWalk = lib.func('void rte_memzone_walk(mz_cb *cb, void *arg)');
  const Z = ctx.L.memzone;
  mzWalk((mz: unknown) => {
    const b = view(mz, Z.size);
    memzones.push({
      name: cstr(b, Z.name, Z.nameLen),
      addr: '0x' + ptr(b, Z.addr).toString(16),
      iova: hex(b.readBigUInt64LE(Z.iova)),
      len: ptr(b, Z.len),
      hugepageSize: ptr(b, Z.hugepageSz),
      socketId: b.readInt32LE(Z.socketId),
      flags: b.readUInt32LE(Z.flags),
    });
  }, null);

  // heaps: a dump holds each heap's lock and walks every element, including
  // external ones; never run it while external memory exists (it would fault)
  // mempools: rte_mempool_walk holds the mempool read lock; counts come from
  // the pool's ring and caches as in the lock-free path (never the pool's ops)
  const mempools: Mempool[] = [];
  try {
    // the release's librte_mempool, beside the librte_eal loaded
    const so = ctx.L.sonames.mempool;
    const mp = koffi.load(eal.path.startsWith('/') ? path.join(path.dirname(eal.path), so) : so);
    koffi.proto('void mp_cb(void *mp, void *arg)');
    const mpWalk = mp.func('void rte_mempool_walk(mp_cb *cb, void *arg)');
    mpWalk((p: unknown) => {
      const b = ctx.shared.read(Number(koffi.address(p as never)), ctx.L.mempool.size);
      if (b) mempools.push(decodeMempool(ctx, b));
    }, null);
  } catch (e) {
    warnings.push(`mempools are not read: ${(e as Error).message}.`);
  }

  const heaps: Heap[] = [];
  if (hasExternal) {
    warnings.push('heap elements are not read: the target has external memory, which DPDK\u2019s dump would walk without having it mapped.');
  } else {
    const dumpHeaps = lib.func('void rte_malloc_dump_heaps(void *f)');
    const dumpStats = lib.func('void rte_malloc_dump_stats(void *f, const char *type)');
    const socketOf = lib.func('int rte_malloc_heap_get_socket(const char *name)');
    const names = new Map<number, string>();
    for (const m of dumpToString((f) => dumpStats(f, null)).matchAll(/Heap id:\s*(\d+)\s+Heap name:([^\n]*)/g)) names.set(Number(m[1]), m[2]!.trim());
    for (const d of parseHeapDump(dumpToString((f) => dumpHeaps(f)))) {
      if (d.size === 0 && d.elements.length === 0) continue;
      const name = names.get(d.id) ?? `heap ${d.id}`;
      heaps.push({
        id: d.id,
        name,
        socketId: socketOf(name),
        totalSize: d.size,
        freeSize: d.elements.filter((e) => e.state === 'free').reduce((a, e) => a + e.len, 0),
        largestFree: d.elements.reduce((a, e) => (e.state === 'free' && e.len > a ? e.len : a), 0),
        allocCount: d.allocCount,
        external: false,
        elementsAvailable: true,
        elements: d.elements.map((e) => ({ ...e, owner: null })),
      });
    }
  }
  const owners = ownersOf(ctx, readMemConfig(ctx), memzones, mempools);
  for (const h of heaps) {
    const cols = ElementColumns.from(h.elements);
    nameOwners(cols, owners);
    setColumns(h, cols);
  }
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt: new Date().toISOString(),
    target: ctx.target(),
    readMethod: 'locking',
    retries: 0,
    warnings,
    memsegLists: order.map((a) => lists.get(a)!),
    heaps,
    memzones: memzones.sort(byAddr),
    mempools: mempools.sort(byName),
  };
}
