/**
 * Struct layouts the lock-free reader copies by hand. Public structs have been
 * stable from v22.11 to v26.07; private ones (rte_mem_config, malloc_heap,
 * malloc_elem) are per DPDK release and per build options, so each supported
 * release has its own table, and every attach verifies it (reader.ts).
 *
 * 22.11 values were printed with offsetof against v22.11's headers
 * (RTE_MAX_MEMSEG_LISTS 128, RTE_MAX_TAILQ 32, RTE_MAX_HEAPS 32,
 * RTE_MAX_LCORE 128, no malloc debug/ASan: Debian's build).
 */

export interface Layout {
  /** "major.minor" this table applies to. */
  release: string;
  memConfig: {
    size: number;
    magic: number;
    version: number;
    memoryHotplugLock: number;
    memzones: number; // struct rte_fbarray
    memsegs: number; // struct rte_memseg_list[maxMemsegLists]
    tailqHead: number; // struct rte_tailq_head[maxTailq]
    mallocHeaps: number; // struct malloc_heap[maxHeaps]
    nextSocketId: number;
    memCfgAddr: number;
    legacyMem: number;
    singleFileSegments: number;
  };
  maxMemsegLists: number;
  maxTailq: number;
  maxHeaps: number;
  maxLcore: number;
  memsegList: { size: number; baseVa: number; pageSz: number; socketId: number; version: number; len: number; external: number; heap: number; memsegArr: number };
  fbarray: { size: number; name: number; nameLen: number; count: number; len: number; eltSz: number; data: number };
  memseg: { size: number; iova: number; addr: number; len: number; hugepageSz: number; socketId: number; flags: number };
  tailqHead: { size: number; first: number; name: number; nameLen: number };
  tailqEntry: { next: number; data: number };
  heap: { size: number; first: number; last: number; allocCount: number; socketId: number; totalSize: number; name: number; nameLen: number };
  elem: { headerLen: number; heap: number; prev: number; next: number; msl: number; stateWord: number; pad: number; size: number };
  memzone: { size: number; name: number; nameLen: number; iova: number; addr: number; len: number; hugepageSz: number; socketId: number; flags: number };
  mempool: {
    size: number; name: number; nameLen: number; poolData: number; mz: number; flags: number; socketId: number; poolSize: number;
    cacheSize: number; eltSize: number; headerSize: number; trailerSize: number; localCache: number; populatedSize: number;
    nbMemChunks: number; memListFirst: number;
  };
  mempoolCache: { size: number; len: number };
  memhdr: { next: number; addr: number; iova: number; len: number };
  ring: { name: number; nameLen: number; size: number; mask: number; capacity: number; prodTail: number; consTail: number };
}

const v22_11: Layout = {
  release: '22.11',
  memConfig: {
    size: 25344, magic: 0, version: 4, memoryHotplugLock: 32, memzones: 40, memsegs: 136,
    tailqHead: 17544, mallocHeaps: 19136, nextSocketId: 25280, memCfgAddr: 25288,
    legacyMem: 25296, singleFileSegments: 25300,
  },
  maxMemsegLists: 128,
  maxTailq: 32,
  maxHeaps: 32,
  maxLcore: 128,
  memsegList: { size: 136, baseVa: 0, pageSz: 8, socketId: 16, version: 20, len: 24, external: 32, heap: 36, memsegArr: 40 },
  fbarray: { size: 96, name: 0, nameLen: 64, count: 64, len: 68, eltSz: 72, data: 80 },
  memseg: { size: 48, iova: 0, addr: 8, len: 16, hugepageSz: 24, socketId: 32, flags: 44 },
  tailqHead: { size: 48, first: 0, name: 16, nameLen: 32 },
  tailqEntry: { next: 0, data: 16 },
  heap: { size: 192, first: 112, last: 120, allocCount: 128, socketId: 132, totalSize: 136, name: 144, nameLen: 32 },
  elem: { headerLen: 128, heap: 0, prev: 8, next: 16, msl: 40, stateWord: 48, pad: 52, size: 56 },
  memzone: { size: 72, name: 0, nameLen: 32, iova: 32, addr: 40, len: 48, hugepageSz: 56, socketId: 64, flags: 68 },
  mempool: {
    size: 192, name: 0, nameLen: 26, poolData: 32, mz: 48, flags: 56, socketId: 60, poolSize: 64, cacheSize: 68,
    eltSize: 72, headerSize: 76, trailerSize: 80, localCache: 96, populatedSize: 104, nbMemChunks: 128, memListFirst: 136,
  },
  mempoolCache: { size: 8256, len: 8 },
  memhdr: { next: 0, addr: 16, iova: 24, len: 32 },
  ring: { name: 0, nameLen: 29, size: 48, mask: 52, capacity: 56, prodTail: 128 + 4, consTail: 256 + 4 },
};

const layouts: Layout[] = [v22_11];

/** DPDK encodes versions as year<<24 | month<<16 | minor<<8 | release (99 = final). */
export function decodeVersion(word: number): { year: number; month: number; minor: number; release: number; text: string } {
  const year = (word >>> 24) & 0xff;
  const month = (word >>> 16) & 0xff;
  const minor = (word >>> 8) & 0xff;
  const release = word & 0xff;
  const text = `${year}.${String(month).padStart(2, '0')}.${minor}` + (release === 99 || release === 16 ? '' : `-rc${release}`);
  return { year, month, minor, release, text };
}

/** Parses rte_version()'s "DPDK 22.11.11" / "DPDK 23.11.0-rc2" into the config word. */
export function encodeVersion(text: string): number | null {
  const m = /(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?/.exec(text);
  if (!m) return null;
  const release = m[4] !== undefined ? Number(m[4]) : 99;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | release) >>> 0;
}

export function layoutFor(versionWord: number): Layout | null {
  const v = decodeVersion(versionWord);
  const rel = `${v.year}.${String(v.month).padStart(2, '0')}`;
  return layouts.find((l) => l.release === rel) ?? null;
}

export const MEMCONFIG_MAGIC = 0x012e6fee;
