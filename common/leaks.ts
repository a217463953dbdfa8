/**
 * Comparing two snapshots for leak hunting: per heap, the busy elements added
 * and freed (an element is the same element in both when its address and
 * length match), grouped by size class and by owner; per mempool the in-use
 * delta; memseg lists and segments added and removed; memzones added and
 * removed. Pure: the CLI (`memscope diff`), the agent and the extension share it.
 */
import type { Heap, HeapElement, Memseg, MemsegList, Memzone, Snapshot } from './snapshot';
import { printable } from './checks';
import { formatBytes } from './units';

export const DIFF_SCHEMA = 'memscope.diff/1';

export interface GroupDelta {
  /** The size class ("≤ 1 KiB") or owner (a memzone or mempool name, else "rte_malloc"). */
  key: string;
  added: number;
  freed: number;
  addedBytes: number;
  freedBytes: number;
  bytesDelta: number;
}

export interface HeapDiff {
  id: number;
  name: string;
  /** False when either snapshot lacks the heap's elements (then added/freed are empty). */
  elementsCompared: boolean;
  added: HeapElement[];
  freed: HeapElement[];
  /** Busy bytes in `to` minus busy bytes in `from` (element lengths, headers included). */
  bytesDelta: number;
  bySizeClass: GroupDelta[];
  byOwner: GroupDelta[];
}

export interface MempoolDiff {
  name: string;
  /** Whether the pool is in both snapshots, or new, or gone. */
  status: 'kept' | 'added' | 'removed';
  from: number | null;
  to: number | null;
  /** null when either count is unknown, or the pool exists in one snapshot only. */
  inUseDelta: number | null;
}

export interface MemsegListDiff {
  index: number;
  baseVa: string;
  change: 'added' | 'removed' | 'changed';
  segmentsAdded: Memseg[];
  segmentsRemoved: Memseg[];
}

export interface SnapshotRef {
  takenAt: string;
  name?: string;
  filePrefix: string;
  pid: number | null;
}

export interface SnapshotDiff {
  schema: typeof DIFF_SCHEMA;
  from: SnapshotRef;
  to: SnapshotRef;
  heaps: HeapDiff[];
  mempools: MempoolDiff[];
  memsegLists: MemsegListDiff[];
  memzones: { added: Memzone[]; removed: Memzone[] };
}

/** The power-of-two size class an element length falls in: its upper bound in bytes. */
export function sizeClassOf(len: number): number {
  if (len <= 64) return 64;
  return 2 ** Math.ceil(Math.log2(len));
}

export function sizeClassLabel(upper: number): string {
  return `≤ ${formatBytes(upper)}`;
}

const RTE_MALLOC = 'rte_malloc';

function ref(s: Snapshot & { name?: string }): SnapshotRef {
  return { takenAt: s.takenAt, ...(s.name ? { name: s.name } : {}), filePrefix: s.target.filePrefix, pid: s.target.pid };
}

class Groups {
  private readonly m = new Map<string, GroupDelta>();
  constructor(private readonly order: (a: GroupDelta, b: GroupDelta) => number) {}
  add(key: string, len: number, sign: 1 | -1): void {
    let g = this.m.get(key);
    if (!g) {
      g = { key, added: 0, freed: 0, addedBytes: 0, freedBytes: 0, bytesDelta: 0 };
      this.m.set(key, g);
    }
    if (sign > 0) {
      g.added++;
      g.addedBytes += len;
    } else {
      g.freed++;
      g.freedBytes += len;
    }
    g.bytesDelta += sign * len;
  }
  list(): GroupDelta[] {
    return [...this.m.values()].sort(this.order);
  }
}

const byBytes = (a: GroupDelta, b: GroupDelta) => Math.abs(b.bytesDelta) - Math.abs(a.bytesDelta) || b.added - a.added || (a.key < b.key ? -1 : 1);

function busy(h: Heap): HeapElement[] {
  const out: HeapElement[] = [];
  for (const e of h.elements) if (e.state === 'busy') out.push(e);
  return out;
}

/**
 * Hex address strings as snapshots write them ("0x…", lowercase, no leading
 * zeros) in numeric order. (Mixed case sorts wrongly; callers that walk in
 * order notice the disorder and match by key instead.)
 */
export function cmpAddr(x: string, y: string): number {
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** True when the elements' addresses strictly rise (as snapshots list them). */
export function inAddressOrder(els: readonly HeapElement[]): boolean {
  for (let i = 1; i < els.length; i++) if (cmpAddr(els[i - 1]!.addr, els[i]!.addr) >= 0) return false;
  return true;
}

/** One walk over two address-ordered lists. */
function mergeDiff(a: HeapElement[], b: HeapElement[], added: HeapElement[], freed: HeapElement[]): void {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    const c = !x ? 1 : !y ? -1 : cmpAddr(x.addr, y.addr);
    if (c === 0) {
      if (x!.len !== y!.len) {
        freed.push(x!);
        added.push(y!);
      }
      i++;
      j++;
    } else if (c < 0) {
      freed.push(x!);
      i++;
    } else {
      added.push(y!);
      j++;
    }
  }
}

/** The same, by "addr/len" keys, for lists in any order. */
function keyedDiff(a: HeapElement[], b: HeapElement[], added: HeapElement[], freed: HeapElement[]): void {
  const before = new Map<string, HeapElement>(a.map((e) => [`${e.addr}/${e.len}`, e]));
  for (const e of b) {
    const key = `${e.addr}/${e.len}`;
    if (before.has(key)) before.delete(key);
    else added.push(e);
  }
  for (const e of before.values()) freed.push(e);
}

function busyBytes(h: Heap | undefined): number {
  if (!h) return 0;
  return h.totalSize - h.freeSize;
}

function diffHeap(a: Heap | undefined, b: Heap | undefined): HeapDiff {
  const h = (b ?? a)!;
  const compared = !!a?.elementsAvailable && !!b?.elementsAvailable;
  const added: HeapElement[] = [];
  const freed: HeapElement[] = [];
  const classes = new Groups((x, y) => sizeOrder(x.key) - sizeOrder(y.key));
  const owners = new Groups(byBytes);
  if (compared || (!a && b?.elementsAvailable) || (!b && a?.elementsAvailable)) {
    const ba = a ? busy(a) : [];
    const bb = b ? busy(b) : [];
    (inAddressOrder(ba) && inAddressOrder(bb) ? mergeDiff : keyedDiff)(ba, bb, added, freed);
    for (const e of added) {
      classes.add(sizeClassLabel(sizeClassOf(e.len)), e.len, 1);
      owners.add(e.owner ?? RTE_MALLOC, e.len, 1);
    }
    for (const e of freed) {
      classes.add(sizeClassLabel(sizeClassOf(e.len)), e.len, -1);
      owners.add(e.owner ?? RTE_MALLOC, e.len, -1);
    }
  }
  return {
    id: h.id,
    name: h.name,
    elementsCompared: compared,
    added,
    freed,
    bytesDelta: busyBytes(b) - busyBytes(a),
    bySizeClass: classes.list(),
    byOwner: owners.list(),
  };
}

/** Sorts "≤ 64 B" < "≤ 1 KiB" < "≤ 2 MiB" by the bound they name. */
function sizeOrder(label: string): number {
  const m = /([\d.]+)\s*(B|KiB|MiB|GiB|TiB)/.exec(label);
  if (!m) return Number.MAX_SAFE_INTEGER;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[m[2] as 'B'];
  return Number(m[1]) * unit;
}

function diffLists(a: MemsegList[], b: MemsegList[]): MemsegListDiff[] {
  const out: MemsegListDiff[] = [];
  const key = (l: MemsegList) => `${l.index}@${l.baseVa}`;
  const before = new Map(a.map((l) => [key(l), l]));
  for (const l of b) {
    const old = before.get(key(l));
    before.delete(key(l));
    if (!old) {
      out.push({ index: l.index, baseVa: l.baseVa, change: 'added', segmentsAdded: l.segments, segmentsRemoved: [] });
      continue;
    }
    const segKey = (s: Memseg) => `${s.index}@${s.va}/${s.len}`;
    const oldSegs = new Map(old.segments.map((s) => [segKey(s), s]));
    const segmentsAdded: Memseg[] = [];
    for (const s of l.segments) if (!oldSegs.delete(segKey(s))) segmentsAdded.push(s);
    const segmentsRemoved = [...oldSegs.values()];
    if (segmentsAdded.length || segmentsRemoved.length) out.push({ index: l.index, baseVa: l.baseVa, change: 'changed', segmentsAdded, segmentsRemoved });
  }
  for (const l of before.values()) out.push({ index: l.index, baseVa: l.baseVa, change: 'removed', segmentsAdded: [], segmentsRemoved: l.segments });
  return out.sort((x, y) => x.index - y.index);
}

/** What changed from `a` (older) to `b` (newer). */
export function diffForLeaks(a: Snapshot, b: Snapshot): SnapshotDiff {
  const heapKey = (h: Heap) => `${h.id}:${h.name}`;
  const aHeaps = new Map(a.heaps.map((h) => [heapKey(h), h]));
  const heaps: HeapDiff[] = [];
  for (const h of b.heaps) {
    heaps.push(diffHeap(aHeaps.get(heapKey(h)), h));
    aHeaps.delete(heapKey(h));
  }
  for (const h of aHeaps.values()) heaps.push(diffHeap(h, undefined));
  heaps.sort((x, y) => x.id - y.id);

  const aPools = new Map(a.mempools.map((p) => [p.name, p]));
  const mempools: MempoolDiff[] = [];
  for (const p of b.mempools) {
    const old = aPools.get(p.name);
    aPools.delete(p.name);
    const from = old ? old.inUse : null;
    mempools.push({ name: p.name, status: old ? 'kept' : 'added', from, to: p.inUse, inUseDelta: from !== null && p.inUse !== null ? p.inUse - from : null });
  }
  for (const p of aPools.values()) mempools.push({ name: p.name, status: 'removed', from: p.inUse, to: null, inUseDelta: null });
  mempools.sort((x, y) => Math.abs(y.inUseDelta ?? 0) - Math.abs(x.inUseDelta ?? 0) || (x.name < y.name ? -1 : 1));

  const zoneKey = (z: Memzone) => `${z.name}@${z.addr}`;
  const aZones = new Map(a.memzones.map((z) => [zoneKey(z), z]));
  const added: Memzone[] = [];
  for (const z of b.memzones) if (!aZones.delete(zoneKey(z))) added.push(z);

  return {
    schema: DIFF_SCHEMA,
    from: ref(a),
    to: ref(b),
    heaps,
    mempools,
    memsegLists: diffLists(a.memsegLists, b.memsegLists),
    memzones: { added, removed: [...aZones.values()] },
  };
}

function poolChanged(p: MempoolDiff): boolean {
  return p.status !== 'kept' || (p.inUseDelta ?? (p.from === p.to ? 0 : 1)) !== 0;
}

/** True when nothing changed. */
export function diffIsEmpty(d: SnapshotDiff): boolean {
  return (
    d.heaps.every((h) => !h.added.length && !h.freed.length && h.bytesDelta === 0) &&
    !d.mempools.some(poolChanged) &&
    !d.memsegLists.length &&
    !d.memzones.added.length &&
    !d.memzones.removed.length
  );
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
const signedBytes = (n: number) => (n > 0 ? `+${formatBytes(n)}` : n < 0 ? `−${formatBytes(-n)}` : '0 B');
// names come from the target or from a file: no control character reaches a terminal or breaks a line
const label = (r: SnapshotRef) => printable(`${r.name ? `${r.name} ` : ''}(${r.filePrefix}, ${r.takenAt})`);

/** A Markdown report: what a bug ticket or a PR wants. */
export function diffToMarkdown(d: SnapshotDiff, maxElements = 50): string {
  const md = (s: string) => printable(s).replace(/[|\\`*_[\]<>]/g, (c) => `\\${c}`);
  const out: string[] = [`# Memscope diff`, '', `From ${md(label(d.from))} to ${md(label(d.to))}.`, ''];
  if (diffIsEmpty(d)) out.push('No change.', '');
  for (const h of d.heaps) {
    if (!h.added.length && !h.freed.length && h.bytesDelta === 0) continue;
    out.push(`## Heap ${md(h.name)} (id ${h.id})`, '');
    out.push(`${h.added.length} busy elements added, ${h.freed.length} freed, ${signedBytes(h.bytesDelta)} in use.${h.elementsCompared ? '' : ' (Elements were not available in both snapshots.)'}`, '');
    if (h.bySizeClass.length) {
      out.push('| size class | added | freed | bytes delta |', '|---|---:|---:|---:|');
      for (const g of h.bySizeClass) out.push(`| ${md(g.key)} | ${g.added} | ${g.freed} | ${signedBytes(g.bytesDelta)} |`);
      out.push('');
    }
    if (h.byOwner.length) {
      out.push('| owner | added | freed | bytes delta |', '|---|---:|---:|---:|');
      for (const g of h.byOwner) out.push(`| ${md(g.key)} | ${g.added} | ${g.freed} | ${signedBytes(g.bytesDelta)} |`);
      out.push('');
    }
    if (h.added.length) {
      out.push(`Added elements${h.added.length > maxElements ? ` (the ${maxElements} largest of ${h.added.length})` : ''}:`, '');
      for (const e of [...h.added].sort((x, y) => y.len - x.len).slice(0, maxElements)) out.push(`- \`${e.addr}\` ${formatBytes(e.len)}${e.owner ? ` (${md(e.owner)})` : ''}`);
      out.push('');
    }
  }
  const pools = d.mempools.filter(poolChanged);
  if (pools.length) {
    out.push('## Mempools', '', '| mempool | in use before | in use after | delta |', '|---|---:|---:|---:|');
    for (const p of pools) out.push(`| ${md(p.name)} | ${p.from ?? '?'} | ${p.to ?? '?'} | ${p.inUseDelta === null ? '?' : signed(p.inUseDelta)} |`);
    out.push('');
  }
  if (d.memsegLists.length) {
    out.push('## Memseg lists', '');
    for (const l of d.memsegLists) out.push(`- list ${l.index} at \`${l.baseVa}\`: ${l.change}, ${l.segmentsAdded.length} segments added, ${l.segmentsRemoved.length} removed`);
    out.push('');
  }
  if (d.memzones.added.length || d.memzones.removed.length) {
    out.push('## Memzones', '');
    for (const z of d.memzones.added) out.push(`- added ${md(z.name)} at \`${z.addr}\` (${formatBytes(z.len)})`);
    for (const z of d.memzones.removed) out.push(`- removed ${md(z.name)} at \`${z.addr}\` (${formatBytes(z.len)})`);
    out.push('');
  }
  return out.join('\n');
}

/** One CSV row per changed thing: spreadsheets and scripts. */
export function diffToCsv(d: SnapshotDiff): string {
  const q = (v: string | number | null) => {
    const s = v === null ? '' : String(v);
    // quote, and defuse formulas a spreadsheet would run
    const safe = /^[=+\-@\t\r]/.test(s) && typeof v === 'string' ? `'${s}` : s;
    return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const rows: (string | number | null)[][] = [['kind', 'heap_or_pool', 'change', 'address', 'length', 'owner_or_class', 'count_delta', 'bytes_delta']];
  for (const h of d.heaps) {
    for (const e of h.added) rows.push(['element', h.name, 'added', e.addr, e.len, e.owner ?? RTE_MALLOC, 1, e.len]);
    for (const e of h.freed) rows.push(['element', h.name, 'freed', e.addr, e.len, e.owner ?? RTE_MALLOC, -1, -e.len]);
    for (const g of h.bySizeClass) rows.push(['size_class', h.name, 'net', null, null, g.key, g.added - g.freed, g.bytesDelta]);
    for (const g of h.byOwner) rows.push(['owner', h.name, 'net', null, null, g.key, g.added - g.freed, g.bytesDelta]);
  }
  for (const p of d.mempools) if (poolChanged(p)) rows.push(['mempool', p.name, p.status === 'kept' ? 'in_use' : p.status, null, null, null, p.inUseDelta, null]);
  for (const l of d.memsegLists) rows.push(['memseg_list', String(l.index), l.change, l.baseVa, null, null, l.segmentsAdded.length - l.segmentsRemoved.length, null]);
  for (const z of d.memzones.added) rows.push(['memzone', z.name, 'added', z.addr, z.len, null, 1, z.len]);
  for (const z of d.memzones.removed) rows.push(['memzone', z.name, 'removed', z.addr, z.len, null, -1, -z.len]);
  return rows.map((r) => r.map(q).join(',')).join('\r\n') + '\r\n';
}

/** The CLI's plain-text summary. */
export function diffToText(d: SnapshotDiff, maxElements = 20): string {
  const out: string[] = [`from ${label(d.from)}`, `to   ${label(d.to)}`];
  if (diffIsEmpty(d)) return [...out, 'no change'].join('\n');
  for (const h of d.heaps) {
    if (!h.added.length && !h.freed.length && h.bytesDelta === 0) continue;
    out.push('', `HEAP ${printable(h.name)} (id ${h.id}): ${signed(h.added.length)} added, ${h.freed.length} freed, ${signedBytes(h.bytesDelta)} in use${h.elementsCompared ? '' : ' (elements not compared)'}`);
    for (const g of h.bySizeClass) out.push(`  size ${g.key.padEnd(12)} ${signed(g.added - g.freed).padStart(7)}  ${signedBytes(g.bytesDelta)}`);
    for (const g of h.byOwner) out.push(`  owner ${printable(g.key).padEnd(24)} ${signed(g.added - g.freed).padStart(7)}  ${signedBytes(g.bytesDelta)}`);
    for (const e of [...h.added].sort((x, y) => y.len - x.len).slice(0, maxElements)) out.push(`  + ${e.addr} ${formatBytes(e.len)}${e.owner ? ` ${printable(e.owner)}` : ''}`);
    if (h.added.length > maxElements) out.push(`  … ${h.added.length - maxElements} more added (--json lists all)`);
  }
  for (const p of d.mempools) if (poolChanged(p)) out.push(`MEMPOOL ${printable(p.name)}${p.status === 'kept' ? '' : ` (${p.status})`}: in use ${p.from ?? '?'} → ${p.to ?? '?'} (${p.inUseDelta === null ? '?' : signed(p.inUseDelta)})`);
  for (const l of d.memsegLists) out.push(`MEMSEG LIST ${l.index} at ${l.baseVa}: ${l.change} (+${l.segmentsAdded.length}/−${l.segmentsRemoved.length} segments)`);
  for (const z of d.memzones.added) out.push(`MEMZONE + ${printable(z.name)} at ${z.addr} (${formatBytes(z.len)})`);
  for (const z of d.memzones.removed) out.push(`MEMZONE − ${printable(z.name)} at ${z.addr} (${formatBytes(z.len)})`);
  return out.join('\n');
}
