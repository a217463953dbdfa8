/**
 * The fault campaigns' judge: what a target looks like after a kill, read
 * without any of Memscope's own readers. The shared config is read as a file
 * with the offsets of its release's data file (native-agent/dpdk/releases)
 * and decoding of the judge's own, file locks come from /proc/locks, and the
 * target's health from DPDK itself: `dpdk-proc-info -m` and the primary's
 * own rte_malloc / rte_free / hot-plug on every heap.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Layout, tableFor } from '../../native-agent/dpdk/layout';
import { hugepageFiles, procInfo, type DemoPrimary } from './primaries';

/** DPDK's names of the lock words, as the judge reports them. */
const LOCK_NAMES: Record<string, string> = { mlock: 'memzone lock', qlock: 'tailq lock', mplock: 'mempool lock', tlock: 'timer lock', ethdev: 'ethdev lock' };

/** The release's data file for a config buffer (its version word), or a thrown sentence. */
function tableOf(b: Buffer, where: string): Layout {
  const L = b.length >= 8 ? tableFor(b.readUInt32LE(4)) : null;
  if (!L) throw new Error(`${where} holds no config of a DPDK release Memscope has a data file for`);
  if (b.length < L.memConfig.size) throw new Error(`${where} is ${b.length} bytes, not the ${L.memConfig.size} of a ${L.release} config`);
  return L;
}

export interface Heap {
  index: number;
  name: string;
  socketId: number;
  totalSize: number;
  /** rte_spinlock_t: 1 while someone holds it. */
  lock: number;
}

export interface ExternalList {
  index: number;
  baseVa: bigint;
  len: number;
  fbarray: string;
}

export interface ConfigView {
  /** Every shared lock word that is not free: "name=value". */
  held: string[];
  heaps: Heap[];
  external: ExternalList[];
}

function cstr(b: Buffer, at: number, max: number): string {
  const end = b.indexOf(0, at);
  return b.toString('latin1', at, end < 0 || end > at + max ? at + max : end);
}

/** The config file of a runtime dir, decoded by hand. */
export function readConfigView(runtimeDir: string): ConfigView {
  const b = fs.readFileSync(path.join(runtimeDir, 'config'));
  // the offsets are the release's data file's; the decoding here is the judge's own
  const L = tableOf(b, `${runtimeDir}/config`);
  const C = L.memConfig;
  const MSL = L.memsegList;
  const FB = L.fbarray;
  const H = L.heap;
  const held: string[] = [];
  const word = (name: string, off: number) => {
    const v = b.readInt32LE(off);
    if (v !== 0) held.push(`${name}=${v}`);
  };
  for (const [k, off] of Object.entries(C.locks)) word(LOCK_NAMES[k] ?? `${k} lock`, off);
  word('memory hot-plug lock', C.memoryHotplugLock);
  word('memzone fbarray lock', C.memzones + FB.rwlock);
  const external: ExternalList[] = [];
  for (let i = 0; i < L.build.maxMemsegLists; i++) {
    const at = C.memsegs + i * MSL.size;
    word(`memseg list ${i} fbarray lock`, at + MSL.memsegArr + FB.rwlock);
    const baseVa = b.readBigUInt64LE(at + MSL.baseVa);
    if (baseVa !== 0n && b.readUInt32LE(at + MSL.external) !== 0) {
      external.push({ index: i, baseVa, len: Number(b.readBigUInt64LE(at + MSL.len)), fbarray: cstr(b, at + MSL.memsegArr + FB.name, FB.nameLen) });
    }
  }
  const heaps: Heap[] = [];
  for (let i = 0; i < L.build.maxHeaps; i++) {
    const at = C.mallocHeaps + i * H.size;
    const name = cstr(b, at + H.name, H.nameLen);
    const lock = b.readInt32LE(at + H.lock);
    if (lock !== 0) held.push(`heap ${i} (${name || 'unnamed'}) lock=${lock}`);
    if (!name) continue;
    heaps.push({ index: i, name, socketId: b.readUInt32LE(at + H.socketId), totalSize: Number(b.readBigUInt64LE(at + H.totalSize)), lock });
  }
  return { held, heaps, external };
}

function alive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const s = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return s !== 'Z' && s !== 'X';
  } catch {
    return false;
  }
}

function devKey(dev: number, ino: number): string {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major.toString(16)}:${minor.toString(16)}:${ino}`;
}

export interface FileLock {
  file: string;
  pid: number;
  kind: string;
  type: string;
}

/**
 * Locks /proc/locks shows on a prefix's files: the runtime dir's (config,
 * fbarray_*, ...) and its hugepage files, mapped by device and inode.
 */
export function prefixLocks(runtimeDir: string, prefix: string): FileLock[] {
  const byKey = new Map<string, string>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(runtimeDir).map((n) => path.join(runtimeDir, n));
  } catch {
    /* no runtime dir */
  }
  for (const f of [...names, ...hugepageFiles(prefix)]) {
    try {
      const st = fs.statSync(f);
      byKey.set(devKey(st.dev, st.ino), f);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: FileLock[] = [];
  for (const line of fs.readFileSync('/proc/locks', 'latin1').split('\n')) {
    const m = /^\d+:\s+(->\s+)?(\S+)\s+\S+\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m || m[1]) continue;
    const file = byKey.get(`${parseInt(m[5]!, 16).toString(16)}:${parseInt(m[6]!, 16).toString(16)}:${m[7]}`);
    if (file) out.push({ file, pid: Number(m[4]), kind: m[2]!, type: m[3]! });
  }
  return out;
}

/** Pids that have `file` open now, with their command (a lock outlives its taker in whoever inherited the descriptor). */
export function openers(file: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target === file) {
        let argv = '';
        try {
          argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, 3).join(' ').slice(0, 60);
        } catch {
          /* gone */
        }
        out.push(`${pid} (${argv})`);
        break;
      }
    }
  }
  return out;
}

/**
 * Locks on the prefix's files not held by the live primary: by a dead pid, or
 * by anyone else. `who` names a pid (its recorded role and stage); for the
 * first such lock, the processes that have its file open now are named too.
 */
export function strayLocks(runtimeDir: string, prefix: string, primaryPid: number, who: (pid: number) => string = () => ''): string[] {
  const stray = prefixLocks(runtimeDir, prefix).filter((l) => l.pid !== primaryPid || !alive(primaryPid));
  return stray.map(
    (l, i) => `${path.basename(l.file)} ${l.kind} ${l.type} by ${l.pid}${alive(l.pid) ? '' : ' (dead)'}${who(l.pid)}${i === 0 ? ` [open now in: ${openers(l.file).join(', ') || 'nobody'}]` : ''}`,
  );
}

/** `dpdk-proc-info -m` against the prefix; null when it exited 0 within the time, else what went wrong. */
export async function procInfoProblem(prefix: string, timeoutMs = 10_000): Promise<string | null> {
  const t0 = Date.now();
  const r = await procInfo(prefix, timeoutMs);
  if (r.code === 0) return null;
  return `dpdk-proc-info -m exited ${r.code} after ${Date.now() - t0} ms: ${r.raw.trim().split('\n').slice(-3).join(' | ')}`;
}

/**
 * The primary allocates and frees 4 KiB on every heap of `heaps` (internal
 * ones by socket id, external ones by name), each call within `boundMs`.
 * Returns what failed. Only for heaps the primary itself maps.
 */
export async function mallocEveryHeap(p: DemoPrimary, heaps: Heap[], boundMs = 1000): Promise<string[]> {
  const bad: string[] = [];
  for (const h of heaps) {
    const where = h.socketId >= 256 ? `heap:${h.name}` : String(h.socketId);
    try {
      const m = await p.command(`malloc judge ${4096} 0 ${where}`, boundMs);
      await p.command(`free ${m.ptr}`, boundMs);
    } catch (e) {
      bad.push(`malloc/free on heap ${h.name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return bad;
}
