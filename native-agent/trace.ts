/**
 * Names heap elements by their rte_malloc type string, from the CTF trace a
 * primary started with `--trace=lib\.eal\.mem.*` saves (rte_trace_save() or
 * its exit) under `--trace-dir` (default $HOME/dpdk-traces). An element
 * gets the owner `rte_malloc:<type>` when a live malloc event's pointer lies
 * in it; memzone and mempool owners are kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, MemscopeError } from '../common/errors';
import { CtfError, liveAllocations, parseMetadata } from '../common/ctf';
import type { Snapshot } from '../common/snapshot';
import { BUSY } from '../common/columns';
import { columnsOf } from './elements';


/** `dir` itself when it holds a trace, else its newest subdirectory that does (named `<prefix>-…` when a prefix is given). */
export function findTraceDir(dir: string, prefix?: string): string {
  const holds = (d: string) => fs.existsSync(path.join(d, 'metadata'));
  if (holds(dir)) return dir;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new MemscopeError(ErrorCode.BadArguments, `cannot read the trace directory ${dir} (${(e as NodeJS.ErrnoException).code}): pass the primary's --trace-dir.`);
  }
  const found = entries
    .filter((e) => e.isDirectory() && (!prefix || e.name.startsWith(`${prefix}-`)) && holds(path.join(dir, e.name)))
    .map((e) => ({ d: path.join(dir, e.name), t: fs.statSync(path.join(dir, e.name, 'metadata')).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  if (!found.length) throw new MemscopeError(ErrorCode.BadArguments, `no saved DPDK trace${prefix ? ` of "${prefix}"` : ''} in ${dir}: start the primary with --trace=lib\\.eal\\.mem.* --trace-dir=${dir} and let it call rte_trace_save().`);
  return found[0]!.d;
}

export interface TraceNames {
  dir: string;
  live: Map<bigint, { type: string; size: bigint }>;
}

export function readTrace(dir: string, prefix?: string): TraceNames {
  const d = findTraceDir(dir, prefix);
  try {
    const meta = parseMetadata(fs.readFileSync(path.join(d, 'metadata'), 'utf8'));
    const channels = fs
      .readdirSync(d)
      .filter((f) => /^channel/.test(f))
      .map((f) => new Uint8Array(fs.readFileSync(path.join(d, f))));
    return { dir: d, live: liveAllocations(meta, channels) };
  } catch (e) {
    if (e instanceof CtfError) throw new MemscopeError(ErrorCode.BadArguments, `the trace in ${d} cannot be read (${e.message}): pass a trace DPDK saved.`);
    throw e;
  }
}

/** The type of the live traced allocation whose pointer lies in [start, start + len), if any. */
export function typeIn(t: TraceNames, start: bigint, len: number): string | null {
  const ptrs = sortedPointers(t);
  let lo = 0;
  let hi = ptrs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ptrs[mid]! <= start) lo = mid + 1;
    else hi = mid;
  }
  const p = ptrs[lo];
  return p !== undefined && p < start + BigInt(len) ? t.live.get(p)!.type : null;
}

const SORTED = new WeakMap<TraceNames, bigint[]>();
function sortedPointers(t: TraceNames): bigint[] {
  let s = SORTED.get(t);
  if (!s) {
    s = [...t.live.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    SORTED.set(t, s);
  }
  return s;
}

/**
 * Sets `rte_malloc:<type>` on busy, unowned elements that hold a live traced
 * allocation; returns how many. An agent's snapshot is named in its element
 * columns (before anything builds its objects), so deltas carry the names.
 */
export function nameElements(s: Snapshot, t: TraceNames): number {
  let named = 0;
  for (const h of s.heaps) {
    if (!h.elementsAvailable) continue;
    const c = columnsOf(h);
    if (c && Object.getOwnPropertyDescriptor(h, 'elements')?.get) {
      const index = new Map(c.owners.map((o, i) => [o, i] as const));
      for (let i = 0; i < c.count; i++) {
        if (c.state[i] !== BUSY || c.owner[i]! >= 0) continue;
        const type = typeIn(t, BigInt(c.addr[i]!), c.len[i]!);
        if (type === null) continue;
        const name = `rte_malloc:${type}`;
        let k = index.get(name);
        if (k === undefined) {
          k = c.owners.length;
          c.owners.push(name);
          index.set(name, k);
        }
        c.owner[i] = k;
        named++;
      }
      continue;
    }
    for (const e of h.elements) {
      if (e.state !== 'busy' || e.owner !== null) continue;
      const type = typeIn(t, BigInt(e.addr), e.len);
      if (type !== null) {
        e.owner = `rte_malloc:${type}`;
        named++;
      }
    }
  }
  return named;
}

/**
 * The newest trace under a directory, re-read when its files change (looked
 * at no more than every `everyMs`); null while there is none to read.
 */
export class TraceWatcher {
  private names: TraceNames | null = null;
  private signature = '';
  private lastLook = 0;
  private lastError = '';

  constructor(
    readonly dir: string,
    private readonly prefix: string,
    private readonly onError: (message: string) => void,
    private readonly everyMs = 2000,
  ) {}

  current(): TraceNames | null {
    const now = Date.now();
    if (now - this.lastLook < this.everyMs) return this.names;
    this.lastLook = now;
    try {
      const d = findTraceDir(this.dir, this.prefix);
      const sig = [
        d,
        ...fs.readdirSync(d).map((f) => {
          const st = fs.statSync(path.join(d, f));
          return `${f}:${st.size}:${st.mtimeMs}`;
        }),
      ].join('|');
      if (sig !== this.signature) {
        this.names = readTrace(d);
        this.signature = sig;
      }
      this.lastError = '';
    } catch (e) {
      const m = (e as Error).message;
      if (m !== this.lastError) this.onError(m);
      this.lastError = m;
    }
    return this.names;
  }
}
