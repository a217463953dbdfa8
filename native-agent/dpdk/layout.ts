/**
 * Struct layouts the lock-free reader copies by hand. Public structs have been
 * stable from v22.11 to v26.07; private ones (rte_mem_config, malloc_heap,
 * malloc_elem) are per DPDK release and per build options, so each release
 * has its own data file (releases/YY.MM.json, listed in releases/index.ts),
 * every attach checks the target against it (checkBuild, reader.ts's
 * verifyLayout), and scripts/verify-layout.mjs checks a file field by field
 * against a live primary of its release. No other module knows an offset.
 */
import { RELEASE_FILES } from './releases';

export interface Layout {
  /** "YY.MM", the version word's year and month. */
  release: string;
  /** "supported": a real primary of this release passed the suite here; "unverified": read from sources only. */
  status: 'supported' | 'unverified';
  /** Where the numbers come from and how they were checked. */
  source: string;
  sonames: { eal: string; mempool: string; pmds: string };
  /** rte_rwlock_t's word: the bits that keep readers out (a writer holds or waits; readers add 4 each, since 22.11). */
  rwlock: { blocksReaders: number };
  /** Build constants of the distribution's build this table is for. */
  build: { maxMemsegLists: number; maxTailq: number; maxHeaps: number; maxLcore: number; cacheLine: number; externalSocketMin: number; mallocDebug: boolean };
  memConfig: {
    size: number;
    magic: number;
    version: number;
    /** The shared lock words by DPDK's field name (mlock memzones, qlock tailqs, mplock mempools, tlock timers; ethdev from 23.11). */
    locks: Record<string, number>;
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
  memsegList: { size: number; baseVa: number; pageSz: number; socketId: number; version: number; len: number; external: number; heap: number; memsegArr: number };
  fbarray: { size: number; name: number; nameLen: number; count: number; len: number; eltSz: number; data: number; rwlock: number };
  /** The used mask after an fbarray's elements: u32 n_masks, then u64 words from `words`. */
  fbarrayMask: { nMasks: number; words: number; wordSize: number };
  memseg: { size: number; iova: number; addr: number; len: number; hugepageSz: number; socketId: number; flags: number };
  tailqHead: { size: number; first: number; name: number; nameLen: number };
  tailqEntry: { size: number; next: number; data: number };
  heap: { size: number; lock: number; first: number; last: number; allocCount: number; socketId: number; totalSize: number; name: number; nameLen: number };
  elem: {
    headerLen: number;
    trailerLen: number;
    heap: number;
    prev: number;
    next: number;
    msl: number;
    stateWord: number;
    /** Width of the state bit-field at the bottom of stateWord (a dirty bit follows it). */
    stateBits: number;
    states: { free: number; busy: number; pad: number };
    pad: number;
    size: number;
    /** Where RTE_MALLOC_DEBUG's header cookie would sit (inside the header's padding otherwise). */
    headerCookie: number;
  };
  memzone: { size: number; name: number; nameLen: number; iova: number; addr: number; len: number; hugepageSz: number; socketId: number; flags: number };
  mempool: {
    size: number; name: number; nameLen: number; poolData: number; mz: number; flags: number; socketId: number; poolSize: number;
    cacheSize: number; eltSize: number; headerSize: number; trailerSize: number; localCache: number; populatedSize: number;
    nbMemChunks: number; memListFirst: number;
  };
  mempoolCache: { size: number; len: number };
  memhdr: { size: number; next: number; addr: number; iova: number; len: number };
  ring: { name: number; nameLen: number; size: number; mask: number; capacity: number; prodTail: number; consTail: number };
}

/** The shape every release file must have: section -> field -> kind (`locks`: any names, numbers). */
function shape(v: unknown, key = ''): unknown {
  if (key === 'locks') return 'record';
  if (v === null || typeof v !== 'object') return typeof v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, shape(x, k)]));
}

/**
 * Checks a release file against the shape of the first one (22.11): the same
 * fields, numbers that are non-negative integers, a YY.MM release. Returns
 * the problem as a phrase, or null.
 */
export function releaseFileProblem(data: unknown, reference: unknown): string | null {
  const want = shape(reference) as Record<string, unknown>;
  const walk = (a: unknown, w: unknown, at: string): string | null => {
    if (w === 'record') {
      if (a === null || typeof a !== 'object' || !Object.keys(a).length) return `${at} is not a set of named offsets`;
      for (const [k, x] of Object.entries(a)) if (!Number.isSafeInteger(x) || (x as number) < 0) return `${at}.${k} is ${String(x)}, not a non-negative integer`;
      return null;
    }
    if (typeof w === 'string') {
      if (typeof a !== w) return `${at} is ${a === undefined ? 'missing' : typeof a}, not a ${w}`;
      if (w === 'number' && (!Number.isSafeInteger(a) || (a as number) < 0)) return `${at} is ${String(a)}, not a non-negative integer`;
      return null;
    }
    if (a === null || typeof a !== 'object') return `${at} is missing`;
    const ao = a as Record<string, unknown>;
    const wo = w as Record<string, unknown>;
    for (const k of Object.keys(ao)) if (!(k in wo)) return `${at ? at + '.' : ''}${k} is not a field Memscope reads`;
    for (const [k, x] of Object.entries(wo)) {
      const p = walk(ao[k], x, at ? `${at}.${k}` : k);
      if (p) return p;
    }
    return null;
  };
  const p = walk(data, want, '');
  if (p) return p;
  const d = data as Layout;
  if (!/^\d{2}\.\d{2}$/.test(d.release)) return `release "${d.release}" is not YY.MM`;
  if (d.status !== 'supported' && d.status !== 'unverified') return `status "${d.status}" is neither supported nor unverified`;
  return null;
}

function load(): Layout[] {
  const out: Layout[] = [];
  for (const data of RELEASE_FILES) {
    const problem = releaseFileProblem(data, RELEASE_FILES[0]);
    // a broken data file is a build error of Memscope's, never the target's
    if (problem) throw new Error(`internal error: the layout file of DPDK ${(data as { release?: string }).release ?? '?'} is broken (${problem}): report this as a bug.`);
    out.push(data as Layout);
  }
  return out;
}

export const layouts: readonly Layout[] = load();

/** "22.11, 24.11 and 25.11": the releases a real primary of which passed the suite. */
export function supportedReleases(): string {
  const r = layouts.filter((l) => l.status === 'supported').map((l) => l.release);
  return r.length > 1 ? `${r.slice(0, -1).join(', ')} and ${r[r.length - 1]}` : (r[0] ?? 'none');
}

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

/** "YY.MM" of a version word: the key of its release file. */
export function releaseOf(versionWord: number): string {
  const v = decodeVersion(versionWord);
  return `${v.year}.${String(v.month).padStart(2, '0')}`;
}

/** The table of a release, whatever its status (callers refuse unverified ones). */
export function tableFor(versionWord: number): Layout | null {
  const rel = releaseOf(versionWord);
  return layouts.find((l) => l.release === rel) ?? null;
}

/** The table of a supported release, or null. */
export function layoutFor(versionWord: number): Layout | null {
  const l = tableFor(versionWord);
  return l && l.status === 'supported' ? l : null;
}

export const MEMCONFIG_MAGIC = 0x012e6fee;
