/**
 * Which memory holds an address: the memseg list and segment, the heap
 * element (and where in it), and the memzone or mempool around it. Pure, for
 * "Locate Address…" and the CLI; addresses as numbers are exact below 2^53.
 */
import type { Heap, HeapElement, Memseg, MemsegList, Memzone, Mempool, Snapshot } from './snapshot';

export interface Location {
  address: string;
  list: MemsegList | null;
  segment: Memseg | null;
  heap: Heap | null;
  element: HeapElement | null;
  /** Offset of the address from the element's start (its malloc_elem header). */
  elementOffset: number | null;
  memzone: Memzone | null;
  mempool: Mempool | null;
}

/** Parses "0x7f…", "7f…" or a decimal number from a log line; null if none. */
export function parseAddress(text: string): number | null {
  const m = /0x([0-9a-fA-F]{1,16})|\b([0-9a-fA-F]{9,16})\b|\b(\d{1,16})\b/.exec(text.trim());
  if (!m) return null;
  const hexDigits = m[1] ?? m[2];
  const v = hexDigits !== undefined ? parseInt(hexDigits, 16) : parseInt(m[3]!, 10);
  return Number.isSafeInteger(v) ? v : null;
}

function within(addr: number, start: string, len: number): boolean {
  const s = Number(start);
  return addr >= s && addr < s + len;
}

/** Binary search over elements sorted by address. */
function findElement(elements: readonly HeapElement[], addr: number): HeapElement | null {
  let lo = 0;
  let hi = elements.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = elements[mid]!;
    const s = Number(e.addr);
    if (addr < s) hi = mid - 1;
    else if (addr >= s + e.len) lo = mid + 1;
    else return e;
  }
  return null;
}

export function locate(s: Snapshot, addr: number): Location {
  const loc: Location = { address: '0x' + addr.toString(16), list: null, segment: null, heap: null, element: null, elementOffset: null, memzone: null, mempool: null };
  loc.list = s.memsegLists.find((l) => within(addr, l.baseVa, l.len)) ?? null;
  loc.segment = loc.list?.segments.find((g) => within(addr, g.va, g.len)) ?? null;
  for (const h of s.heaps) {
    if (!h.elementsAvailable) continue;
    const e = findElement(h.elements, addr);
    if (e) {
      loc.heap = h;
      loc.element = e;
      loc.elementOffset = addr - Number(e.addr);
      break;
    }
  }
  loc.memzone = s.memzones.find((z) => within(addr, z.addr, z.len)) ?? null;
  loc.mempool = s.mempools.find((p) => p.chunks.some((c) => within(addr, c.addr, c.len))) ?? null;
  return loc;
}

/** One line a reader of a crash log wants: what holds the address. */
export function describeLocation(l: Location): string {
  if (!l.list && !l.element && !l.memzone) return `${l.address} is not in the target's DPDK memory.`;
  const parts: string[] = [];
  if (l.list) parts.push(`memseg list ${l.list.index}${l.list.external ? ' (external)' : ''}${l.segment ? `, segment ${l.segment.index}` : ', in no allocated segment'}`);
  if (l.element && l.heap) {
    const dataStart = 128 + l.element.pad;
    const inData = l.elementOffset! >= dataStart;
    parts.push(`heap ${l.heap.name}, ${l.element.state} element ${l.element.addr} (${l.element.len} B), ${inData ? `data + ${l.elementOffset! - dataStart}` : `header + ${l.elementOffset}`}`);
  }
  if (l.mempool) parts.push(`mempool ${l.mempool.name}`);
  else if (l.memzone) parts.push(`memzone ${l.memzone.name} + ${Number(l.address) - Number(l.memzone.addr)}`);
  return `${l.address}: ${parts.join('; ')}.`;
}
