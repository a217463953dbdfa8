/**
 * V8 maps its heap pages at random addresses, and the longer a process runs
 * the likelier one lands in the fixed ranges a secondary must map (the
 * primary's memseg lists, its shared config, their fbarrays). A process that
 * knows its target when it starts (the CLI, an agent started for a prefix)
 * holds those ranges with PROT_NONE placeholders right away; the attach
 * pre-flight then takes them over instead of finding them taken.
 */
import { findTarget, readConfig } from './discovery';
import { type Layout, layoutFor } from './dpdk/layout';
import { fbarrayMask, type MemConfig } from './dpdk/memconfig';
import { reserveRange } from './native/libc';

export interface Range {
  start: bigint;
  end: bigint;
  what: string;
}

function alignUp(n: bigint, a: bigint): bigint {
  return ((n + a - 1n) / a) * a;
}

/** Address ranges a secondary must map at fixed addresses. */
export function fixedRanges(cfg: MemConfig, L: Layout): Range[] {
  const out: Range[] = [{ start: cfg.memCfgAddr, end: cfg.memCfgAddr + BigInt(L.memConfig.size), what: 'the shared config' }];
  for (const l of cfg.lists) {
    if (l.external) continue;
    out.push({ start: l.baseVa, end: l.baseVa + BigInt(l.len), what: `memseg list ${l.index}` });
    const mask = fbarrayMask(L, l.arr);
    const bytes = BigInt(mask.offset + mask.bytes);
    out.push({ start: l.arr.data, end: l.arr.data + alignUp(bytes, 4096n), what: `memseg list ${l.index}'s fbarray` });
  }
  return out;
}

const held = new Map<string, () => void>();
const key = (start: bigint, end: bigint) => `${start.toString(16)}-${end.toString(16)}`;

/**
 * Best effort, never throws: holds the fixed ranges of `prefix`'s primary.
 * Returns how many ranges are held.
 */
export function reserveEarly(prefix: string, runtimeDirs: string[] = []): number {
  try {
    const t = findTarget(prefix, { runtimeDirs });
    if (!t.attachable || t.versionWord === null) return 0;
    const L = layoutFor(t.versionWord);
    const { cfg } = readConfig(`${t.runtimeDir}/config`);
    if (!L || !cfg) return 0;
    for (const r of fixedRanges(cfg, L)) {
      const k = key(r.start, r.end);
      if (held.has(k)) continue;
      const release = reserveRange(r.start, r.end);
      if (release) held.set(k, release);
    }
  } catch {
    /* the attach itself will say what is wrong */
  }
  return held.size;
}

/** Hands over the placeholder for exactly this range, if one is held. */
export function takeEarly(start: bigint, end: bigint): (() => void) | null {
  const k = key(start, end);
  const release = held.get(k);
  if (!release) return null;
  held.delete(k);
  return release;
}

/** Gives back whatever is still held (ranges the attach did not need). */
export function releaseEarly(): void {
  for (const release of held.values()) release();
  held.clear();
}
