/** Small /proc readers: file reads only, nothing here touches a target. */
import * as fs from 'node:fs';

export interface MapRange {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  inode: number;
  path: string;
}

export function parseMaps(text: string): MapRange[] {
  const out: MapRange[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt('0x' + m[1]),
      end: BigInt('0x' + m[2]),
      perms: m[3]!,
      offset: BigInt('0x' + m[4]),
      inode: Number(m[5]),
      path: m[6] ?? '',
    });
  }
  return out;
}

export function readMaps(pid: number | 'self'): MapRange[] | null {
  try {
    return parseMaps(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return null;
  }
}

export function readCmdline(pid: number): string[] | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    if (!raw) return null;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return null;
  }
}

/** Start time in clock ticks since boot: with the pid, a process identity that survives pid reuse. */
export function startTime(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return null;
  }
}

export function processState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  const s = processState(pid);
  return s !== null && s !== 'Z' && s !== 'X';
}

/** Resolves once `pid` has ended or `timeoutMs` has passed: true when it has ended. */
export async function untilGone(pid: number, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; isAlive(pid) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  return !isAlive(pid);
}

export function listPids(): number[] {
  try {
    return fs
      .readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}

export interface LockEntry {
  kind: 'POSIX' | 'FLOCK' | 'OFDLCK' | string;
  type: string;
  pid: number;
  dev: string;
  inode: number;
  /** A "->" line: a request blocked on the lock above it, not a lock held. */
  blocked: boolean;
}

/** Parses /proc/locks. */
export function parseLocks(text: string): LockEntry[] {
  const out: LockEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(->\s+)?(\S+)\s+\S+\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+:[0-9a-f]+):(\d+)/.exec(line);
    if (m) out.push({ kind: m[2]!, type: m[3]!, pid: Number(m[4]), dev: m[5]!, inode: Number(m[6]), blocked: m[1] !== undefined });
  }
  return out;
}

export function readLocks(): LockEntry[] {
  try {
    return parseLocks(fs.readFileSync('/proc/locks', 'latin1'));
  } catch {
    return [];
  }
}

/** A st_dev as /proc/locks prints it: hex major:minor ("fe:00"), glibc's encoding. */
export function devName(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/**
 * The pid F_GETLK would name for a write lock over the whole file (dev, ino):
 * a process other than `self` holding a POSIX lock on it, a write lock
 * first. Read from /proc/locks, so no native call is needed (DPDK's primary
 * write-locks part of its `config`).
 */
export function posixLockHolder(locks: readonly LockEntry[], dev: string, ino: number, self = process.pid): number | null {
  const on = locks.filter((k) => k.kind === 'POSIX' && !k.blocked && k.inode === ino && k.dev === dev && k.pid > 0 && k.pid !== self);
  return (on.find((k) => k.type === 'WRITE') ?? on[0])?.pid ?? null;
}

/** Parses a cpu list such as "0-3,8,10-11". */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

export function selfCpus(): number[] {
  try {
    const status = fs.readFileSync('/proc/self/status', 'latin1');
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (m) return parseCpuList(m[1]!);
  } catch {
    /* fall through */
  }
  return [0];
}
