/**
 * Targets in other roots: a primary in a chroot or a container keeps its
 * runtime dir and libraries under its own root, which this process reaches
 * through /proc/<pid>/root. Paths inside such a root are resolved here by
 * hand: an absolute symlink in it (Debian's /var/run -> /run) means the
 * root's /run, while the kernel would follow it to this process's /run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listPids } from './procfs';

export interface ForeignRoot {
  /** How this process reaches the root: /proc/<pid>/root. */
  path: string;
  /** A process living in it (the primary, once known). */
  pid: number;
  /** Another mount namespace than this process's (a container), not only another root (a chroot). */
  otherMountNs: boolean;
  /** For people: "chroot /srv/trixie" or "container pid 1234". */
  label: string;
}

const key = (st: fs.Stats) => `${st.dev}:${st.ino}`;

function link(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}

/** The root of `pid`, when it is not this process's own; null otherwise or when it cannot be read. */
export function rootOf(pid: number, ownRoot: string | null = ownRootKey()): ForeignRoot | null {
  const p = `/proc/${pid}/root`;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return null;
  }
  if (key(st) === ownRoot) return null;
  const otherMountNs = link(`/proc/${pid}/ns/mnt`) !== link('/proc/self/ns/mnt');
  const where = link(p);
  return { path: p, pid, otherMountNs, label: otherMountNs || !where ? `container pid ${pid}` : `chroot ${where}` };
}

function ownRootKey(): string | null {
  try {
    return key(fs.statSync('/'));
  } catch {
    return null;
  }
}

/** One entry per root other than this process's that some process lives in (the lowest pid of each). */
export function foreignRoots(): ForeignRoot[] {
  const own = ownRootKey();
  const seen = new Set<string>();
  const out: ForeignRoot[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    let st: fs.Stats;
    try {
      st = fs.statSync(`/proc/${pid}/root`);
    } catch {
      continue; // another user's process, or gone
    }
    const k = key(st);
    if (k === own || seen.has(k)) continue;
    seen.add(k);
    const r = rootOf(pid, own);
    if (r) out.push(r);
  }
  return out;
}

/**
 * `p` (absolute, as the root's processes see it) as this process reaches it:
 * `root` + p with every symlink on the way resolved inside the root. Null
 * when a component is missing or the links loop.
 */
export function resolveInRoot(root: string, p: string): string | null {
  const parts = p.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const c = parts.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const here = path.join(root, ...done, c);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(here);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const t = fs.readlinkSync(here);
      if (t.startsWith('/')) done.length = 0;
      parts.unshift(...t.split('/').filter(Boolean));
      continue;
    }
    done.push(c);
  }
  return path.join(root, ...done);
}

/** The runtime-dir roots DPDK uses in that root (root's /var/run/dpdk), as this process reaches them. */
export function runtimeRootsIn(root: ForeignRoot): string[] {
  const out: string[] = [];
  for (const p of ['/var/run/dpdk', '/run/dpdk']) {
    const r = resolveInRoot(root.path, p);
    if (r && !out.includes(r)) out.push(r);
  }
  return out;
}

/**
 * Where a path of this process's root is, seen from inside another root:
 * through /proc/1/root (init's root, which outlives us) when it is this
 * process's root and may be entered, else through this process's own
 * (valid while it lives: a helper reads its script when it starts).
 */
export function ownPathFromElsewhere(p: string): string {
  let via = `/proc/${process.pid}/root`;
  try {
    fs.accessSync('/proc/1/root/', fs.constants.X_OK);
    if (key(fs.statSync('/proc/1/root')) === ownRootKey()) via = '/proc/1/root';
  } catch {
    /* init's root is not ours to enter (no CAP_SYS_PTRACE, another namespace) */
  }
  return path.join(via, p);
}

/**
 * A file path from the maps of a process in `root`, as that process sees it.
 * The kernel writes maps paths from the reader's root: a chroot's files show
 * as /srv/trixie/usr/lib/…, a container's (not reachable from here) as the
 * container sees them.
 */
export function pathInRoot(root: ForeignRoot, mapsPath: string): string {
  const where = root.otherMountNs ? null : link(root.path);
  return where && where !== '/' && mapsPath.startsWith(where + '/') ? mapsPath.slice(where.length) : mapsPath;
}

/** A path as a process in `root` sees it, reached from here. */
export function reachInRoot(root: ForeignRoot, inner: string): string {
  return resolveInRoot(root.path, inner) ?? path.join(root.path, inner);
}
