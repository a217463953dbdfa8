/**
 * Words for what the map shows: lane headers, tooltips and the details
 * pane. Plain strings only; the page puts them in with textContent, so a
 * memzone named "<img onerror=…>" stays text.
 */
import type { MemsegList } from '../../common/snapshot';
import { ELEMENT_STATES } from '../../common/columns';
import { BUSY, FREE, PAD } from './columns';
import { fmtBytes, fmtBytesExact, fmtCount, fmtPct, hexOf } from './format';
import type { Item } from './items';
import type { LaneGeom } from './layout';
import { segmentAt, usedBytes } from './lists';
import type { BinSummary } from './lod';
import { mempoolNamed, memzoneNamed, type MapModel, ownerParts } from './map';

export type Row = [label: string, value: string];

export interface Description {
  title: string;
  rows: Row[];
  /** Shown in a warning style (orphaned lists, heaps without elements). */
  warning?: string;
}

export interface LaneLabel {
  title: string;
  subtitle: string;
  /** memseg: the list's state; heap: 'ok' or 'unavailable'. */
  state: string;
  /** External memory, e.g. "dma-buf udmabuf · fd 12 · +0x0 · pid 4242". */
  external?: string;
  /** Heaps: the largest free element and the fragmentation of the free space. */
  free?: string;
  warning?: string;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** What backs an external list, in one line: dma-buf fd, offset, exporter, owner. */
export function externalLabel(l: MemsegList): string {
  const d = l.dmabuf;
  if (d) return `dma-buf${d.exporter ? ` ${d.exporter}` : ''} · fd ${d.fd} · +${hexOf(d.offset)} · pid ${d.ownerPid}`;
  const b = l.backing;
  if (b) {
    const kind = b.kind === 'dmabuf' ? 'dma-buf' : b.kind;
    return `${kind}${b.exporter ? ` ${b.exporter}` : ''} · fd ${b.fd ?? '–'} · +${hexOf(b.offset)} · pid ${b.ownerPid}`;
  }
  const r = l.registration;
  if (r) return `${r.kind === 'dmabuf' ? 'dma-buf' : r.kind}${r.exporter ? ` ${r.exporter}` : ''} · fd ${r.fd} · +${hexOf(r.offset)} · pid ${r.ownerPid}`;
  const owners = l.ownerPids?.length ? ` · pid ${l.ownerPids.join(', ')}` : '';
  return `external${owners}`;
}

/** What backs an external list, short enough to write on its segments: "memfd · pid 4242". */
export function externalBacking(l: MemsegList): string {
  const src = l.dmabuf ? { kind: 'dmabuf', exporter: l.dmabuf.exporter, ownerPid: l.dmabuf.ownerPid } : (l.backing ?? l.registration);
  if (!src) return `external${l.ownerPids?.length ? ` · pid ${l.ownerPids.join(', ')}` : ''}`;
  const kind = src.kind === 'dmabuf' ? 'dma-buf' : src.kind;
  return `${kind}${src.exporter ? ` ${src.exporter}` : ''} · pid ${src.ownerPid}`;
}

/** A heap's largest free element and how fragmented its free space is (1 − largest / free). */
export function heapFreeSummary(m: MapModel, ref: number): { largest: number; free: number; fragmentation: number } {
  const h = m.heaps[ref]!;
  const free = h.header.freeSize;
  const largest = h.header.largestFree ?? largestFreeOf(h.cols);
  return { largest, free, fragmentation: free > 0 ? Math.max(0, 1 - largest / free) : 0 };
}

const largestMemo = new WeakMap<object, { version: number; largest: number }>();

/** From the elements, for snapshots that do not carry it (older files); once per heap version. */
function largestFreeOf(c: MapModel['heaps'][number]['cols']): number {
  const hit = largestMemo.get(c);
  if (hit && hit.version === c.version) return hit.largest;
  let largest = 0;
  for (let i = 0; i < c.n; i++) if (c.state[i] === FREE && c.len[i]! > largest) largest = c.len[i]!;
  largestMemo.set(c, { version: c.version, largest });
  return largest;
}

/** A heap's largest free element and fragmentation, for its details. */
function freeRows(m: MapModel, heap: number): Row[] {
  const t = m.heaps[heap]!.header;
  if (!t.elementsAvailable || t.freeSize <= 0) return [];
  const f = heapFreeSummary(m, heap);
  return [
    ['Largest free', fmtBytesExact(f.largest)],
    ['Fragmentation', `${fmtPct(f.fragmentation)} (1 − largest free / free)`],
  ];
}

export function laneLabel(m: MapModel, g: LaneGeom): LaneLabel {
  if (g.kind === 'memseg') {
    const lc = m.lists[g.ref]!;
    const l = lc.list;
    const label: LaneLabel = {
      title: `memseg list ${l.index}`,
      subtitle: `${fmtBytes(l.pageSize)} · socket ${l.socketId} · ${fmtCount(l.segmentCount)}/${fmtCount(l.capacity)} used`,
      state: l.state,
    };
    if (l.external) label.external = externalLabel(l);
    if (l.warning) label.warning = l.warning;
    return label;
  }
  const h = m.heaps[g.ref]!;
  const t = h.header;
  const label: LaneLabel = {
    title: `heap ${t.name}`,
    subtitle: `${fmtBytes(t.totalSize)} · ${t.totalSize ? fmtPct(t.freeSize / t.totalSize) : '0%'} free · ${fmtCount(h.cols.n)} elements`,
    state: t.elementsAvailable ? 'ok' : 'unavailable',
  };
  if (!t.elementsAvailable) label.warning = t.reason ?? 'its elements cannot be read';
  else if (t.freeSize > 0) {
    const f = heapFreeSummary(m, g.ref);
    label.free = `largest free ${fmtBytes(f.largest)} · frag. ${fmtPct(f.fragmentation)}`;
  } else label.free = 'no free space';
  return label;
}

/** Where an address is in the memseg lists, and its IOVA (exact: BigInt). */
function placeOf(m: MapModel, addr: number): Row[] {
  for (const l of m.lists) {
    if (addr < l.base || addr >= l.end) continue;
    const k = segmentAt(l, addr);
    if (k < 0) return [['Memseg', `list ${l.list.index}, not in an allocated segment`]];
    const s = l.list.segments[l.segRef[k]!]!;
    const iova = BigInt(s.iova);
    const rows: Row[] = [['Memseg', `list ${l.list.index}, segment ${s.index}`]];
    if (iova !== 0xffffffffffffffffn) rows.push(['IOVA', '0x' + (iova + BigInt(addr - l.segStart[k]!)).toString(16)]);
    return rows;
  }
  return [];
}

function ownerText(owner: string | null): string {
  if (owner === null) return '–';
  const o = ownerParts(owner);
  return `${o.kind} ${o.name}`;
}

export function describeBin(b: BinSummary): Description {
  return {
    title: `${fmtCount(b.count)} elements in this pixel`,
    rows: [
      ['Busy', fmtPct(b.share[BUSY])],
      ['Free', fmtPct(b.share[FREE])],
      ['Pad', fmtPct(b.share[PAD])],
    ],
  };
}

export function describe(m: MapModel, it: Item): Description {
  switch (it.kind) {
    case 'element': {
      const h = m.heaps[it.heap]!;
      const c = h.cols;
      const a = c.start[it.index]!;
      const len = c.len[it.index]!;
      const state = ELEMENT_STATES[c.state[it.index]!]!;
      const rows: Row[] = [
        ['Address', hexOf(a)],
        ['End', hexOf(a + len)],
        ['Size', fmtBytesExact(len)],
        ['State', state],
        ['Owner', ownerText(m.owners.name(c.owner[it.index]!))],
      ];
      if (c.pad[it.index]) rows.push(['Pad', fmtBytesExact(c.pad[it.index]!)]);
      rows.push(['Heap', `${h.header.name} (id ${h.id})`], ['Element', `${fmtCount(it.index + 1)} of ${fmtCount(c.n)}`], ...placeOf(m, a));
      return { title: `${cap(state)} element`, rows };
    }
    case 'segment': {
      const lc = m.lists[it.list]!;
      const s = lc.list.segments[lc.segRef[it.seg]!]!;
      const run = lc.runOf[it.seg]!;
      const first = lc.runs[run * 2]!;
      const last = lc.runs[run * 2 + 1]!;
      const runBytes = lc.segStart[last]! + lc.segLen[last]! - lc.segStart[first]!;
      const segIndex = (k: number) => lc.list.segments[lc.segRef[k]!]!.index;
      return {
        title: `Segment ${s.index} of memseg list ${lc.list.index}`,
        rows: [
          ['VA', s.va],
          ['End', hexOf(Number(s.va) + s.len)],
          ['IOVA', s.iova],
          ['Size', fmtBytesExact(s.len)],
          ['Page size', fmtBytes(s.hugepageSize)],
          ['Socket', String(s.socketId)],
          ['Flags', '0x' + s.flags.toString(16)],
          ['IOVA-contiguous run', `segments ${segIndex(first)}–${segIndex(last)} · ${fmtBytes(runBytes)}`],
        ],
      };
    }
    case 'hole': {
      const lc = m.lists[it.list]!;
      const s = lc.holes[it.hole * 2]!;
      const e = lc.holes[it.hole * 2 + 1]!;
      return {
        title: `Unallocated VA in memseg list ${lc.list.index}`,
        rows: [
          ['Start', hexOf(s)],
          ['End', hexOf(e)],
          ['Size', fmtBytesExact(e - s)],
          ['Pages', `${fmtCount(Math.round((e - s) / (lc.list.pageSize || 1)))} × ${fmtBytes(lc.list.pageSize)}`],
        ],
      };
    }
    case 'memsegList':
      return describeList(m, it.list);
    case 'heap': {
      const h = m.heaps[it.heap]!;
      const t = h.header;
      const c = h.cols;
      const bytes = [0, 0, 0];
      for (let i = 0; i < c.n; i++) bytes[c.state[i]!]! += c.len[i]!;
      const rows: Row[] = [
        ['Id', String(t.id)],
        ['Socket', String(t.socketId)],
        ['Total', fmtBytesExact(t.totalSize)],
        ['Free', fmtBytesExact(t.freeSize)],
        ...freeRows(m, it.heap),
        ['Allocations', fmtCount(t.allocCount)],
        ['External', yesNo(t.external)],
        ['Elements', t.elementsAvailable ? fmtCount(c.n) : 'unavailable'],
      ];
      if (c.n) rows.push(['Busy / free / pad', `${fmtBytes(bytes[BUSY]!)} / ${fmtBytes(bytes[FREE]!)} / ${fmtBytes(bytes[PAD]!)}`]);
      const d: Description = { title: `Heap ${t.name}`, rows };
      if (!t.elementsAvailable) d.warning = t.reason ?? 'its elements cannot be read';
      return d;
    }
    case 'memzone':
    case 'mempool': {
      const c = m.heaps[it.heap]!.cols;
      const { name } = ownerParts(m.owners.name(c.owner[it.first]!) ?? '');
      const span: Row[] = [
        ['Elements', `${fmtCount(it.last - it.first + 1)} (${hexOf(c.start[it.first]!)} – ${hexOf(c.start[it.last]! + c.len[it.last]!)})`],
        ['Heap', m.heaps[it.heap]!.header.name],
      ];
      if (it.kind === 'memzone') {
        const z = memzoneNamed(m, name);
        const rows: Row[] = [['Name', name]];
        if (z) {
          rows.push(['Address', z.addr], ['IOVA', z.iova], ['Size', fmtBytesExact(z.len)], ['Page size', fmtBytes(z.hugepageSize)], ['Socket', String(z.socketId)], ['Flags', '0x' + z.flags.toString(16)]);
        }
        return { title: `Memzone ${name}`, rows: rows.concat(span) };
      }
      const p = mempoolNamed(m, name);
      const rows: Row[] = [['Name', name]];
      if (p) {
        rows.push(
          ['Objects', fmtCount(p.size)],
          ['Object size', fmtBytesExact(p.eltSize)],
          ['Cache size', fmtCount(p.cacheSize)],
          ['Populated', fmtCount(p.populated)],
          ['In use', p.inUse === null ? 'unknown' : fmtCount(p.inUse)],
          ['Available', p.avail === null ? 'unknown' : fmtCount(p.avail)],
          ['Chunks', fmtCount(p.chunks.length)],
        );
        if (p.reason) rows.push(['Note', p.reason]);
      }
      return { title: `Mempool ${name}`, rows: rows.concat(span) };
    }
  }
}

function describeList(m: MapModel, ref: number): Description {
  const lc = m.lists[ref]!;
  const l = lc.list;
  const rows: Row[] = [
    ['Base VA', l.baseVa],
    ['End', hexOf(lc.end)],
    ['Reserved', fmtBytesExact(l.len)],
    ['Page size', fmtBytes(l.pageSize)],
    ['Socket', String(l.socketId)],
    ['Segments', `${fmtCount(l.segmentCount)} of ${fmtCount(l.capacity)} (${fmtBytes(usedBytes(lc))})`],
    ['IOVA-contiguous runs', fmtCount(lc.runs.length / 2)],
    ['External', yesNo(l.external)],
    ['Heap', yesNo(l.heap)],
    ['State', l.state],
  ];
  if (l.ownerPids?.length) rows.push(['Owner pids', l.ownerPids.join(', ')]);
  if (l.dmabuf) {
    const d = l.dmabuf;
    rows.push(
      ['dma-buf fd', `${d.fd} (in pid ${d.ownerPid})`],
      ['dma-buf offset', hexOf(d.offset)],
      ['dma-buf exporter', d.exporter ?? 'unknown'],
      ['dma-buf size', d.size === null ? 'unknown' : fmtBytesExact(d.size)],
      ['dma-buf inode', d.inode === null ? 'unknown' : String(d.inode)],
      ['dma-buf source', d.source],
    );
  }
  if (l.backing) {
    const b = l.backing;
    rows.push(
      ['Backing', `${b.kind}${b.exporter ? ` (${b.exporter})` : ''}`],
      ['Backing path', b.path || '(anonymous)'],
      ['Backing fd', b.fd === null ? 'closed' : `${b.fd} (in pid ${b.ownerPid})`],
      ['Backing offset', hexOf(b.offset)],
    );
    if (b.size !== null) rows.push(['Backing size', fmtBytesExact(b.size)]);
  }
  if (l.registration) {
    const r = l.registration;
    rows.push(['Registration', `${r.kind} fd ${r.fd} +${hexOf(r.offset)} by pid ${r.ownerPid}${r.ownerAlive ? '' : ' (gone)'}`]);
  }
  const d: Description = { title: `Memseg list ${l.index}${l.external ? ' (external)' : ''}`, rows };
  if (l.warning) d.warning = l.warning;
  return d;
}
