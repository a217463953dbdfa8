/**
 * The userlands of other DPDK releases (scripts/setup-releases.mjs builds
 * them under /var/cache/memscope-releases): which are ready, the mounts a
 * primary needs in one (proc, sys, dev with its hugetlbfs), made only where
 * missing and undone by whoever made them, and paths between the host and a
 * root.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ReleaseRoot {
  /** Debian's name for it: trixie, sid. */
  name: string;
  /** The DPDK release it carries ("24.11"). */
  release: string;
  dir: string;
}

export const RELEASES_DIR = process.env.MEMSCOPE_RELEASES_DIR || '/var/cache/memscope-releases';
const KNOWN: { name: string; release: string }[] = [
  { name: 'trixie', release: '24.11' },
  { name: 'sid', release: '25.11' },
];

export function releaseRoot(name: string): ReleaseRoot {
  const k = KNOWN.find((r) => r.name === name);
  if (!k) throw new Error(`no release root named ${name}`);
  return { ...k, dir: path.join(RELEASES_DIR, name) };
}

/** Why the root cannot run a primary, or undefined when it can. */
export function whyNoRoot(r: ReleaseRoot): string | undefined {
  if (!fs.existsSync(path.join(r.dir, '.memscope-ready'))) return `the ${r.name} root (DPDK ${r.release}) is not set up at ${r.dir} (node scripts/setup-releases.mjs ${r.name}).`;
  for (const tool of ['usr/bin/dpdk-testpmd', 'usr/bin/dpdk-proc-info', 'usr/bin/node']) {
    if (!fs.existsSync(path.join(r.dir, tool))) return `the ${r.name} root has no /${tool} (node scripts/setup-releases.mjs ${r.name} makes it again).`;
  }
  return undefined;
}

/** Runtime dirs of the roots (cleanup of a prefix looks there too). */
export function releaseRuntimeDirs(prefix: string): string[] {
  return KNOWN.map((k) => path.join(RELEASES_DIR, k.name, 'run', 'dpdk', prefix));
}

function mounted(at: string): boolean {
  const real = fs.realpathSync(at);
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === real);
}

/**
 * Mounts what a DPDK primary needs inside the root (proc, sys, and /dev with
 * its submounts: /dev/hugepages is the host's), those missing only. Returns
 * the undo, which unmounts only what this call mounted.
 */
export function mountRoot(r: ReleaseRoot): () => void {
  const made: string[] = [];
  const undo = () => {
    for (const at of made.splice(0)) spawnSync('umount', ['-R', '-l', at], { stdio: 'ignore' });
  };
  try {
    for (const [dst, args] of [
      ['proc', ['-t', 'proc', 'proc']],
      ['sys', ['-t', 'sysfs', 'sys']],
      ['dev', ['--rbind', '/dev']],
    ] as const) {
      const at = path.join(r.dir, dst);
      if (mounted(at)) continue;
      const m = spawnSync('mount', [...args, at], { encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`could not mount ${dst} into ${r.dir}: ${(m.stderr || '').trim()}`);
      // a recursive bind must not send unmounts back to the host's /dev
      if (dst === 'dev') spawnSync('mount', ['--make-rslave', at], { stdio: 'ignore' });
      made.unshift(at);
    }
  } catch (e) {
    undo();
    throw e;
  }
  return undo;
}

/** argv for `cmd` run inside the root (chroot). */
export function inRoot(r: ReleaseRoot, cmd: string[]): string[] {
  return ['chroot', r.dir, ...cmd];
}

/** A file of this checkout as a process inside the root reaches it (through this process's /proc/<pid>/root). */
export function hostPathFromRoot(p: string): string {
  return path.join(`/proc/${process.pid}/root`, path.resolve(p));
}
