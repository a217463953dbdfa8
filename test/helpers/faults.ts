/**
 * What the fault tests look at in a target after something of ours died:
 * DPDK's shared lock words, the processes Memscope started for a prefix, the
 * runtime dir's files, and the hugepage pool.
 */
import * as fs from 'node:fs';
import { listPids, readCmdline } from '../../native-agent/procfs';
import { readConfigView } from './judge';

/** The shared lock words of a prefix that are not free ("name=value"), the malloc heaps' own locks included. */
export function heldLocks(runtimeDir: string): string[] {
  return readConfigView(runtimeDir).held;
}

/** Pids of Memscope's own background processes (helper, holder, guardian) for a prefix. */
export function memscopeProcesses(prefix: string): number[] {
  const tag = `"prefix":${JSON.stringify(prefix)}`;
  return listPids().filter((pid) => {
    const argv = readCmdline(pid);
    return !!argv && argv.some((a) => a === '__secondary' || a === '__hold' || a === '__guard') && argv.some((a) => a.includes(tag));
  });
}

export function hugePagesFree(): number {
  const m = /HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : -1;
}

/** Names in a runtime dir, sorted. */
export function runtimeFiles(runtimeDir: string): string[] {
  try {
    return fs.readdirSync(runtimeDir).sort();
  } catch {
    return [];
  }
}

/** Waits until cond() holds, polling; false on timeout. */
export async function until(cond: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Who maps hugetlb memory now (pid, command, mapping count): for a failure message. */
export function hugepageMappers(): string {
  const out: string[] = [];
  for (const pid of listPids()) {
    let maps = '';
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      continue;
    }
    const n = maps.split('\n').filter((l) => /\/dev\/hugepages|hugetlb/.test(l)).length;
    if (n) out.push(`${pid} ${(readCmdline(pid) ?? []).slice(0, 3).join(' ').slice(0, 80)} (${n} mappings)`);
  }
  return out.join('; ') || 'nobody';
}

/**
 * The prefix's hugepage files that no process maps: a segment the primary
 * freed while a secondary still held it, which that secondary never got to
 * release (DPDK unlinks a freed page's file only when its last user lets go).
 */
export function unmappedPageFiles(prefix: string, dirs: string[]): string[] {
  const files = dirs.flatMap((d) => {
    try {
      return fs
        .readdirSync(d)
        .filter((n) => n.startsWith(`${prefix}map_`))
        .map((n) => `${d}/${n}`);
    } catch {
      return [];
    }
  });
  if (!files.length) return [];
  const mapped = new Set<string>();
  for (const pid of listPids()) {
    try {
      for (const l of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const i = l.indexOf('/');
        if (i >= 0) mapped.add(l.slice(i).replace(/ \(deleted\)$/, ''));
      }
    } catch {
      /* gone */
    }
  }
  return files.filter((f) => !mapped.has(f));
}
