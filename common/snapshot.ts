/**
 * The snapshot model: what Memscope knows of a DPDK process's memory at one
 * moment. Agent, CLI, extension and webview all speak it. Addresses and IOVAs
 * are "0x…" strings (they exceed 2^53); sizes are numbers.
 */

export const SNAPSHOT_SCHEMA = 'memscope.snapshot/1';

export type Hex = string;

export interface TargetInfo {
  filePrefix: string;
  pid: number | null;
  dpdkVersion: string;
  runtimeDir: string;
  alive: boolean;
  /** The data Memscope read it with: "24.11 table, verified at attach". */
  layout?: string;
  /** Where the primary lives when not in Memscope's root: "chroot /srv/trixie", "container pid 1234". */
  root?: string;
  /** The seed's unlocked getter as the loaded librte_eal spells it (secondary route), or null when it carries none. */
  dmabufGetter?: string | null;
}

export type MemsegListState = 'ok' | 'orphaned' | 'unattached';

export interface Memseg {
  index: number;
  va: Hex;
  iova: Hex;
  len: number;
  hugepageSize: number;
  socketId: number;
  flags: number;
}

export interface DmabufInfo {
  fd: number;
  offset: number;
  ownerPid: number;
  exporter: string | null;
  size: number | null;
  inode: number | null;
  source: 'table' | 'native' | 'proc';
}

/** What kind of object the memory behind a mapping is, judged from /proc. */
export type BackingKind = 'dmabuf' | 'memfd' | 'hugetlbfs' | 'anonymous' | 'file';

/**
 * The memory behind an external memseg list, found in /proc without the
 * registering process's help: the mapping that covers the list's base_va in
 * `ownerPid`, and the fd through which that process holds the object.
 */
export interface Backing {
  kind: BackingKind;
  /** The mapping's path as /proc/<pid>/maps prints it ('' when anonymous). */
  path: string;
  /** The process whose mapping (and fd) this is. */
  ownerPid: number;
  /** Offset of base_va in the object: the mapping's file offset + (base_va − mapping start). */
  offset: number;
  /** The fd in `ownerPid` that holds the object; null when none is open (closed after mmap) or unreadable. */
  fd: number | null;
  /** Size of the object (the dma-buf's fdinfo size, or the file's size), when known. */
  size: number | null;
  /** Inode of the object (null for anonymous memory). */
  inode: number | null;
  /** A dma-buf's exporter (fdinfo `exp_name`), e.g. 'udmabuf'; null otherwise. */
  exporter: string | null;
  /** The mapping's kernel page size (smaps KernelPageSize): 2 MiB on hugetlbfs, hugetlb memfds and /anon_hugepage. */
  pageSize: number | null;
}

export interface RegistrationInfo {
  /** The registered fd, valid in the owner process. */
  fd: number;
  offset: number;
  ownerPid: number;
  ownerAlive: boolean;
  kind: 'dmabuf' | 'memfd';
  exporter: string | null;
  size: number;
  inode: number;
  pageSize: number;
}

export interface MemsegList {
  index: number;
  baseVa: Hex;
  pageSize: number;
  socketId: number;
  len: number;
  external: boolean;
  heap: boolean;
  capacity: number;
  segmentCount: number;
  state: MemsegListState;
  /** Why the list is not `ok`, and what that means for the target. */
  warning?: string;
  /** Processes that hold the list's fbarray (its owners, for external lists). */
  ownerPids?: number[];
  dmabuf?: DmabufInfo | null;
  /** Memscope's shared table entry for this list (a registration made through Memscope's API). */
  registration?: RegistrationInfo | null;
  /**
   * External lists in state 'ok': the memory behind the list as /proc shows
   * it (dma-buf, memfd, hugetlbfs file, anonymous memory or another file),
   * whoever registered it; null when no candidate process maps base_va.
   * Absent on internal lists and on lists that are not 'ok'.
   */
  backing?: Backing | null;
  segments: Memseg[];
}

export type ElementState = 'busy' | 'free' | 'pad';

export interface HeapElement {
  addr: Hex;
  len: number;
  pad: number;
  state: ElementState;
  owner: string | null;
}

export interface Heap {
  id: number;
  name: string;
  socketId: number;
  totalSize: number;
  freeSize: number;
  /** The largest free element, bytes (with freeSize: how fragmented the free space is); absent in older snapshot files. */
  largestFree?: number;
  allocCount: number;
  external: boolean;
  elementsAvailable: boolean;
  /** Why elements are missing, when they are. */
  reason?: string;
  elements: HeapElement[];
}

export interface Memzone {
  name: string;
  addr: Hex;
  iova: Hex;
  len: number;
  hugepageSize: number;
  socketId: number;
  flags: number;
}

export interface MempoolChunk {
  addr: Hex;
  len: number;
}

export interface Mempool {
  name: string;
  size: number;
  eltSize: number;
  cacheSize: number;
  populated: number;
  /** null when the pool's ops are not a ring this reader understands. */
  inUse: number | null;
  avail: number | null;
  reason?: string;
  chunks: MempoolChunk[];
}

export type ReadMethod = 'lock-free' | 'locking';

export interface Snapshot {
  schema: typeof SNAPSHOT_SCHEMA;
  takenAt: string;
  target: TargetInfo;
  readMethod: ReadMethod;
  /**
   * How the memory was reached: 'secondary' (attached as a DPDK secondary)
   * or 'peek' (read from the primary's address space, no attach).
   */
  access?: 'secondary' | 'peek';
  /** A name given when the snapshot was saved (`memscope snapshot --name`, Take Snapshot). */
  name?: string;
  /** Copy attempts needed before the shared state held still. */
  retries: number;
  warnings: string[];
  memsegLists: MemsegList[];
  heaps: Heap[];
  memzones: Memzone[];
  mempools: Mempool[];
}

export function hex(v: bigint): Hex {
  return '0x' + v.toString(16);
}

/** 4-digit hex of every 16-bit value: built once a process has formatted many addresses (it costs ~7 ms, a cold CLI run's snapshot needs a few hundred). */
let HEX4: string[] | null = null;
let untabled = 0;

/**
 * "0x…" of an address held as a number (exact below 2^53; user-space
 * addresses end below 2^47). With its table, four times faster than
 * toString(16), which matters at 100k elements a snapshot.
 */
export function hexAddr(n: number): Hex {
  if (n < 65536) return '0x' + n.toString(16);
  if (HEX4 === null) {
    if (++untabled < 16384) return '0x' + n.toString(16);
    HEX4 = Array.from({ length: 65536 }, (_, i) => i.toString(16).padStart(4, '0'));
  }
  const hi = Math.floor(n / 4294967296);
  const lo = n >>> 0;
  if (hi === 0) return '0x' + (lo >>> 16).toString(16) + HEX4[lo & 0xffff]!;
  return '0x' + hi.toString(16) + HEX4[lo >>> 16]! + HEX4[lo & 0xffff]!;
}

export function parseHex(s: Hex): bigint {
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(s)) throw new Error(`not a 64-bit hex address: ${s}`);
  return BigInt(s);
}
