/**
 * Discovery without cooperation: the memory behind an external memseg list,
 * found in /proc whoever registered it. The mapping that covers the list's
 * base_va in a candidate process names the object (dma-buf, memfd, hugetlbfs
 * file, anonymous memory, another file); the fd table of that process gives
 * the fd that holds it, and a dma-buf's fdinfo its size and exporter.
 *
 * Cheap by design (a snapshot pays for it): each pid's maps is read once per
 * call however many lists ask, the object is stat'ed through
 * /proc/<pid>/map_files (one syscall, no smaps), and the fd table is read
 * from the highest fd down, stopping at the first match — memory registered
 * after EAL init holds the newest fds. Nothing here touches the target's
 * memory or takes a lock.
 *
 * The parsers are pure and exported for unit tests; the /proc reads live in
 * ProcCache.
 */
import * as fs from 'node:fs';
import type { Backing, BackingKind, DmabufInfo } from '../common/snapshot';
import { readMaps, type MapRange } from './procfs';

export type { Backing, BackingKind } from '../common/snapshot';

/** statfs f_type of hugetlbfs (also the internal mount behind MFD_HUGETLB memfds and /anon_hugepage). */
export const HUGETLBFS_MAGIC = 0x958458f6;

// ----------------------------------------------------------------- pure parts

/** The lines of /proc/<pid>/fdinfo/<fd> Memscope uses (dma-bufs add size, count, exp_name, name). */
export interface Fdinfo {
  pos: number | null;
  /** Octal, as printed. */
  flags: number | null;
  mntId: number | null;
  ino: number | null;
  size: number | null;
  /** References to the dma-buf's file. */
  count: number | null;
  expName: string | null;
  name: string | null;
}

export function parseFdinfo(text: string): Fdinfo {
  const out: Fdinfo = { pos: null, flags: null, mntId: null, ino: null, size: null, count: null, expName: null, name: null };
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    const num = (radix = 10): number | null => {
      const n = radix === 8 ? (/^[0-7]+$/.test(value) ? parseInt(value, 8) : NaN) : /^\d+$/.test(value) ? Number(value) : NaN;
      return Number.isSafeInteger(n) ? n : null;
    };
    switch (key) {
      case 'pos':
        out.pos = num();
        break;
      case 'flags':
        out.flags = num(8);
        break;
      case 'mnt_id':
        out.mntId = num();
        break;
      case 'ino':
        out.ino = num();
        break;
      case 'size':
        out.size = num();
        break;
      case 'count':
        out.count = num();
        break;
      case 'exp_name':
        out.expName = value || null;
        break;
      case 'name':
        out.name = value || null;
        break;
    }
  }
  return out;
}

const DELETED = ' (deleted)';

/** A maps or fd-link path without the " (deleted)" the kernel appends to unlinked files. */
export function stripDeleted(path: string): string {
  return path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path;
}

/** How a dma-buf shows: `/dmabuf:<name>` (kernel 5.3+, maps and fd links) or `anon_inode:dmabuf` (older fd links). */
export function isDmabufPath(path: string): boolean {
  return path.startsWith('/dmabuf:') || path.startsWith('anon_inode:dmabuf');
}

/** Unescapes a /proc/mounts field (space, tab, newline and backslash are octal escapes). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points of every hugetlbfs in a /proc/<pid>/mounts text. */
export function parseHugetlbfsMounts(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length >= 3 && f[2] === 'hugetlbfs') out.push(unescapeMount(f[1]!));
  }
  return out;
}

function under(path: string, mount: string): boolean {
  if (mount === '/') return path.startsWith('/');
  const m = mount.endsWith('/') ? mount.slice(0, -1) : mount;
  return path === m || path.startsWith(m + '/');
}

/**
 * The kind of memory a maps path names. `hugetlbfsMounts` are the target's
 * hugetlbfs mount points; a file on another hugetlbfs (another mount
 * namespace) comes out 'file' here and is corrected by statfs (see
 * describeMapping). `/anon_hugepage` (MAP_ANONYMOUS|MAP_HUGETLB) and
 * `/dev/zero (deleted)` (MAP_SHARED|MAP_ANONYMOUS) are anonymous memory
 * that the kernel backs with an internal file; `[heap]`, `[anon:…]` and the
 * other bracketed names are anonymous too.
 */
export function classifyMapping(path: string, hugetlbfsMounts: readonly string[] = []): BackingKind {
  if (path === '') return 'anonymous';
  if (isDmabufPath(path)) return 'dmabuf';
  if (path.startsWith('/memfd:')) return 'memfd';
  if (path.startsWith('[')) return 'anonymous';
  const bare = stripDeleted(path);
  if (bare === '/anon_hugepage' || (bare === '/dev/zero' && path.endsWith(DELETED))) return 'anonymous';
  if (hugetlbfsMounts.some((m) => under(bare, m))) return 'hugetlbfs';
  return 'file';
}

/** The mapping that covers va, by binary search (maps lists mappings in address order). */
export function findMapping(maps: readonly MapRange[], va: bigint): MapRange | null {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = maps[mid]!;
    if (va < m.start) hi = mid - 1;
    else if (va >= m.end) lo = mid + 1;
    else return m;
  }
  return null;
}

/** Offset of va in the mapped object: the mapping's file offset plus va's distance from the mapping's start. */
export function backingOffset(m: MapRange, va: bigint): number {
  return Number(m.offset + (va - m.start));
}

/** True when the link of an fd (readlink /proc/<pid>/fd/<n>) can name the object a mapping shows as `mapPath`. */
export function linkMatches(kind: BackingKind, mapPath: string, link: string): boolean {
  if (kind === 'dmabuf') return isDmabufPath(link);
  return link === mapPath || stripDeleted(link) === stripDeleted(mapPath);
}

/** How /proc/<pid>/maps prints an address: at least 8 hex digits. */
export function mapsHex(v: bigint): string {
  return v.toString(16).padStart(8, '0');
}

/**
 * KernelPageSize (bytes) of the mapping starting at `start` in a
 * /proc/<pid>/smaps text, or null when that mapping or its line is not in
 * the text. Only a header at the start of a line counts: a VA can also
 * appear inside a path (DPDK names fbarray files after base_va).
 */
export function smapsKernelPageSize(text: string, start: bigint): number | null {
  const head = mapsHex(start) + '-';
  let at = text.startsWith(head) ? 0 : text.indexOf('\n' + head);
  if (at < 0) return null;
  if (text[at] === '\n') at++;
  const re = /^([0-9a-f]+-[0-9a-f]+ )|^KernelPageSize:\s+(\d+) kB/gm;
  re.lastIndex = text.indexOf('\n', at) + 1 || text.length;
  if (re.lastIndex === text.length) return null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]) return null; // the next mapping began first
    return Number(m[2]) * 1024;
  }
  return null;
}

// --------------------------------------------------------------- /proc reads

interface FdScan {
  /** fd numbers, highest first; null until the directory is read (or unreadable). */
  fds: number[] | null;
  next: number;
  links: { fd: number; link: string }[];
}

interface ObjectStat {
  ino: number;
  size: number;
  isCharDevice: boolean;
  fsType: number | null;
  fsBlockSize: number | null;
}

let systemPageSize: number | undefined;

/** PAGE_SIZE: KernelPageSize of any mapping that is not hugetlb (this process's first one). */
function pageSizeOfSystem(): number {
  if (systemPageSize !== undefined) return systemPageSize;
  systemPageSize = 4096;
  const first = readSmapsUntil('self', (text) => /^KernelPageSize:\s+(\d+) kB/m.exec(text));
  if (first) systemPageSize = Number(first[1]) * 1024;
  return systemPageSize;
}

/** Reads /proc/<pid>/smaps a chunk at a time until `found` answers (the kernel builds it lazily; it costs ~5 ms whole). */
function readSmapsUntil<T>(pid: number | 'self', found: (text: string) => T | null): T | null {
  let fd: number;
  try {
    fd = fs.openSync(`/proc/${pid}/smaps`, 'r');
  } catch {
    return null;
  }
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let text = '';
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n <= 0) return found(text);
      text += chunk.toString('latin1', 0, n);
      const r = found(text);
      if (r !== null) return r;
      // keep the last partial lines: a header may straddle two chunks
      const cut = text.lastIndexOf('\n', text.length - 2048);
      if (cut > 0) text = text.slice(cut);
    }
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** KernelPageSize of the mapping that starts at `start` in pid, from smaps (read only as far as that mapping). */
export function readSmapsPageSize(pid: number | 'self', start: bigint): number | null {
  return readSmapsUntil(pid, (text) => smapsKernelPageSize(text, start));
}

/**
 * What one call learns of /proc, per pid: maps, fd links (read lazily, highest
 * fd first), hugetlbfs mounts. Share one between calls made for the same
 * snapshot; make a new one for each snapshot.
 */
export class ProcCache {
  private readonly mapsByPid = new Map<number, MapRange[] | null>();
  private readonly fdScans = new Map<number, FdScan>();
  private readonly mounts = new Map<number, string[]>();

  maps(pid: number): MapRange[] | null {
    let m = this.mapsByPid.get(pid);
    if (m === undefined) {
      m = readMaps(pid);
      this.mapsByPid.set(pid, m);
    }
    return m;
  }

  hugetlbfsMounts(pid: number): string[] {
    let m = this.mounts.get(pid);
    if (!m) {
      try {
        m = parseHugetlbfsMounts(fs.readFileSync(`/proc/${pid}/mounts`, 'utf8'));
      } catch {
        m = [];
      }
      this.mounts.set(pid, m);
    }
    return m;
  }

  /** The first fd (highest number first) whose link passes `link` and whose object passes `object`. */
  findFd(pid: number, link: (text: string) => boolean, object: (fd: number) => boolean): number | null {
    let scan = this.fdScans.get(pid);
    if (!scan) {
      scan = { fds: null, next: 0, links: [] };
      try {
        scan.fds = fs
          .readdirSync(`/proc/${pid}/fd`)
          .map(Number)
          .filter((n) => Number.isInteger(n))
          .sort((a, b) => b - a);
      } catch {
        /* not ours to read */
      }
      this.fdScans.set(pid, scan);
    }
    for (const e of scan.links) if (link(e.link) && object(e.fd)) return e.fd;
    if (!scan.fds) return null;
    while (scan.next < scan.fds.length) {
      const fd = scan.fds[scan.next++]!;
      let text: string;
      try {
        text = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      scan.links.push({ fd, link: text });
      if (link(text) && object(fd)) return fd;
    }
    return null;
  }
}

function statObject(path: string): ObjectStat | null {
  try {
    const st = fs.statSync(path);
    let fsType: number | null = null;
    let fsBlockSize: number | null = null;
    try {
      const sfs = fs.statfsSync(path);
      fsType = sfs.type;
      fsBlockSize = sfs.bsize;
    } catch {
      /* stat is enough to go on */
    }
    return { ino: st.ino, size: st.size, isCharDevice: st.isCharacterDevice(), fsType, fsBlockSize };
  } catch {
    return null;
  }
}

function inodeOfFd(pid: number, fd: number): number | null {
  try {
    return fs.statSync(`/proc/${pid}/fd/${fd}`).ino;
  } catch {
    return null;
  }
}

function readFdinfo(pid: number, fd: number): Fdinfo | null {
  try {
    return parseFdinfo(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
  } catch {
    return null;
  }
}

/** A dma-buf's exporter from sysfs (CONFIG_DMABUF_SYSFS_STATS), for a dma-buf no fd holds any more. */
function sysfsExporter(inode: number): string | null {
  try {
    return fs.readFileSync(`/sys/kernel/dmabuf/buffers/${inode}/exporter_name`, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Everything /proc says about the object behind mapping m of pid, at va. */
function describeMapping(pid: number, m: MapRange, va: bigint, cache: ProcCache): Backing {
  let kind = classifyMapping(m.path);
  if (kind === 'file') kind = classifyMapping(m.path, cache.hugetlbfsMounts(pid));
  // map_files stats the mapped object itself, even when no fd holds it any more (root only)
  const obj = m.path === '' || m.path.startsWith('[') ? null : statObject(`/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`);
  const onHugetlbfs = obj?.fsType === HUGETLBFS_MAGIC;
  if (kind === 'file' && onHugetlbfs) kind = 'hugetlbfs';

  // KernelPageSize is the hstate's page size for hugetlb mappings and PAGE_SIZE
  // for everything else but device DAX (the only other vm_ops with a
  // pagesize): answered from statfs where it can be, from smaps (~5 ms for a
  // DPDK process) only where it must. A GPU's device file (/dev/nvidia*,
  // /dev/gdrdrv) is PAGE_SIZE and must not cost every snapshot an smaps read.
  let pageSize: number | null;
  if (onHugetlbfs && obj.fsBlockSize) pageSize = obj.fsBlockSize;
  else if (obj && obj.fsType !== null && !(obj.isCharDevice && m.path.startsWith('/dev/dax'))) pageSize = pageSizeOfSystem();
  else if (m.path === '' || m.path.startsWith('[')) pageSize = pageSizeOfSystem();
  else pageSize = readSmapsPageSize(pid, m.start);

  const inode = m.inode !== 0 ? m.inode : null;
  let fd: number | null = null;
  if (kind !== 'anonymous' && inode !== null) {
    fd = cache.findFd(
      pid,
      (link) => linkMatches(kind, m.path, link),
      (n) => inodeOfFd(pid, n) === inode,
    );
  }
  let size = obj?.size ?? null;
  let exporter: string | null = null;
  if (kind === 'dmabuf') {
    const info = fd !== null ? readFdinfo(pid, fd) : null;
    if (info?.size !== null && info?.size !== undefined) size = info.size;
    exporter = info?.expName ?? (inode !== null ? sysfsExporter(inode) : null);
  }
  if (kind === 'anonymous') size = null;
  return { kind, path: m.path, ownerPid: pid, offset: backingOffset(m, va), fd, size, inode, exporter, pageSize };
}

export interface BackingQuery {
  /** Memseg list index: the key of the result. */
  index: number;
  baseVa: bigint;
  len: number;
  /** Candidates tried before the shared `pids` (the list's own holders). */
  pids?: number[];
}

/**
 * The backing of each list: for each candidate pid in order (the list's own
 * `pids`, then `pids`), the mapping that covers base_va. A mapping that also
 * covers base_va + len − 1 and is not a PROT_NONE reservation wins over one
 * that does not; lists no candidate maps are left out of the result.
 */
export function findBackings(lists: readonly BackingQuery[], pids: readonly number[], cache: ProcCache = new ProcCache()): Map<number, Backing> {
  const out = new Map<number, Backing>();
  for (const l of lists) {
    const last = l.baseVa + BigInt(Math.max(l.len, 1)) - 1n;
    let fallback: { pid: number; m: MapRange } | null = null;
    let chosen: { pid: number; m: MapRange } | null = null;
    for (const pid of new Set([...(l.pids ?? []), ...pids])) {
      const maps = cache.maps(pid);
      const m = maps ? findMapping(maps, l.baseVa) : null;
      if (!m) continue;
      if (m.end > last && !m.perms.startsWith('---')) {
        chosen = { pid, m };
        break;
      }
      fallback ??= { pid, m };
    }
    const pick = chosen ?? fallback;
    if (pick) out.set(l.index, describeMapping(pick.pid, pick.m, l.baseVa, cache));
  }
  return out;
}

/** The backing of the memory at baseVa (len bytes) in the first of pids that maps it, or null. */
export function findBacking(baseVa: bigint, len: number, pids: number[]): Backing | null {
  return findBackings([{ index: 0, baseVa, len }], pids).get(0) ?? null;
}

/** The dma-buf a backing names, as the snapshot reports it; null unless a dma-buf whose fd was found. */
export function dmabufFromBacking(b: Backing): DmabufInfo | null {
  if (b.kind !== 'dmabuf' || b.fd === null) return null;
  return { fd: b.fd, offset: b.offset, ownerPid: b.ownerPid, exporter: b.exporter, size: b.size, inode: b.inode, source: 'proc' };
}
