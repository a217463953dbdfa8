/**
 * Decoding of rte_mem_config (the `config` file of a runtime dir is this very
 * struct, shared by every process of the target) and of the fixed-size structs
 * it holds. Pure functions over buffers: no process memory is touched here.
 */
import type { Layout } from './layout';

export interface FbarrayHdr {
  name: string;
  count: number;
  len: number;
  eltSz: number;
  data: bigint;
}

export interface MemsegListHdr {
  index: number;
  baseVa: bigint;
  pageSz: number;
  socketId: number;
  version: number;
  len: number;
  external: boolean;
  heap: boolean;
  arr: FbarrayHdr;
}

export interface HeapHdr {
  index: number;
  addr: bigint;
  first: bigint;
  last: bigint;
  allocCount: number;
  socketId: number;
  totalSize: number;
  name: string;
}

export interface TailqHdr {
  name: string;
  first: bigint;
}

export interface MemConfig {
  magic: number;
  version: number;
  /** The hot-plug rwlock word (L.rwlock: bits that keep readers out, then 4 per reader). */
  hotplugLock: number;
  memzones: FbarrayHdr;
  lists: MemsegListHdr[];
  heaps: HeapHdr[];
  tailqs: TailqHdr[];
  nextSocketId: number;
  memCfgAddr: bigint;
  legacyMem: boolean;
  singleFileSegments: boolean;
}

export function cstr(b: Buffer, off: number, max: number): string {
  let end = off;
  const lim = Math.min(b.length, off + max);
  while (end < lim && b[end] !== 0) end++;
  return b.toString('latin1', off, end);
}

const TWO32 = 4294967296;

/** A pointer or size as a Number: exact for user-space addresses (< 2^47) and any real size. */
export function ptr(b: Buffer, off: number): number {
  return b.readUInt32LE(off) + b.readUInt32LE(off + 4) * TWO32;
}

export function decodeFbarray(L: Layout, b: Buffer, off: number): FbarrayHdr {
  const f = L.fbarray;
  return {
    name: cstr(b, off + f.name, f.nameLen),
    count: b.readUInt32LE(off + f.count),
    len: b.readUInt32LE(off + f.len),
    eltSz: b.readUInt32LE(off + f.eltSz),
    data: b.readBigUInt64LE(off + f.data),
  };
}

export function decodeMemsegList(L: Layout, b: Buffer, index: number, off: number): MemsegListHdr {
  const m = L.memsegList;
  return {
    index,
    baseVa: b.readBigUInt64LE(off + m.baseVa),
    pageSz: ptr(b, off + m.pageSz),
    socketId: b.readInt32LE(off + m.socketId),
    version: b.readUInt32LE(off + m.version),
    len: ptr(b, off + m.len),
    external: b.readUInt32LE(off + m.external) !== 0,
    heap: b.readUInt32LE(off + m.heap) !== 0,
    arr: decodeFbarray(L, b, off + m.memsegArr),
  };
}

/**
 * Decodes a whole rte_mem_config. `base` is the address the buffer was read
 * from (heap addresses are derived from it); pass memCfgAddr for file copies.
 */
export function decodeMemConfig(L: Layout, b: Buffer, base?: bigint): MemConfig {
  const c = L.memConfig;
  const memCfgAddr = b.readBigUInt64LE(c.memCfgAddr);
  const at = base ?? memCfgAddr;
  const lists: MemsegListHdr[] = [];
  for (let i = 0; i < L.build.maxMemsegLists; i++) {
    // most of the 128 slots are unused (base_va 0): not worth decoding
    const off = c.memsegs + i * L.memsegList.size;
    if (b.readBigUInt64LE(off + L.memsegList.baseVa) !== 0n) lists.push(decodeMemsegList(L, b, i, off));
  }
  const heaps: HeapHdr[] = [];
  const H = L.heap;
  for (let i = 0; i < L.build.maxHeaps; i++) {
    const off = c.mallocHeaps + i * H.size;
    const name = cstr(b, off + H.name, H.nameLen);
    if (!name) continue;
    heaps.push({
      index: i,
      addr: at + BigInt(off),
      first: b.readBigUInt64LE(off + H.first),
      last: b.readBigUInt64LE(off + H.last),
      allocCount: b.readUInt32LE(off + H.allocCount),
      socketId: b.readUInt32LE(off + H.socketId),
      totalSize: ptr(b, off + H.totalSize),
      name,
    });
  }
  const tailqs: TailqHdr[] = [];
  for (let i = 0; i < L.build.maxTailq; i++) {
    const off = c.tailqHead + i * L.tailqHead.size;
    const name = cstr(b, off + L.tailqHead.name, L.tailqHead.nameLen);
    if (name) tailqs.push({ name, first: b.readBigUInt64LE(off + L.tailqHead.first) });
  }
  return {
    magic: b.readUInt32LE(c.magic),
    version: b.readUInt32LE(c.version),
    hotplugLock: b.readInt32LE(c.memoryHotplugLock),
    memzones: decodeFbarray(L, b, c.memzones),
    lists,
    heaps,
    tailqs,
    nextSocketId: b.readUInt32LE(c.nextSocketId),
    memCfgAddr,
    legacyMem: b.readUInt32LE(c.legacyMem) !== 0,
    singleFileSegments: b.readUInt32LE(c.singleFileSegments) !== 0,
  };
}

/** Where an fbarray's used mask starts (right after its elements), its words and its bytes. */
export function fbarrayMask(L: Layout, arr: FbarrayHdr): { offset: number; words: number; bytes: number } {
  const M = L.fbarrayMask;
  const words = Math.ceil(arr.len / (M.wordSize * 8));
  return { offset: arr.len * arr.eltSz, words, bytes: M.words + words * M.wordSize };
}

/** Indexes of used elements from a mask buffer (n_masks, then 64-bit words, L.fbarrayMask). */
export function usedIndexes(L: Layout, mask: Buffer, len: number): number[] {
  const M = L.fbarrayMask;
  const out: number[] = [];
  const words = Math.min(mask.readUInt32LE(M.nMasks), Math.ceil(len / 64));
  for (let w = 0; w < words; w++) {
    let lo = mask.readUInt32LE(M.words + w * 8);
    let hi = mask.readUInt32LE(M.words + 4 + w * 8);
    while (lo !== 0) {
      const bit = 31 - Math.clz32(lo & -lo);
      out.push(w * 64 + bit);
      lo &= lo - 1;
    }
    while (hi !== 0) {
      const bit = 31 - Math.clz32(hi & -hi);
      out.push(w * 64 + 32 + bit);
      hi &= hi - 1;
    }
  }
  // words ascending, bits ascending within each: already sorted
  return out.length && out[out.length - 1]! >= len ? out.filter((i) => i < len) : out;
}
