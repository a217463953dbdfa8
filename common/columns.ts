/**
 * A heap's elements as columns: the form they live in from the agent to
 * the Memory Map. A million elements are a few flat typed arrays and a
 * string table, never a million objects. They travel compact
 * (CompactColumns, below): the agent sends them base64-coded inside its
 * JSON-RPC reply (see common/columns-wire.ts), the extension host hands the
 * arrays to `webview.postMessage` (VS Code carries typed arrays as bytes,
 * without JSON), and the page rebuilds them in one pass and draws.
 *
 * Nothing here has a runtime dependency: the webview bundle imports it.
 */
import type { ElementState, HeapElement } from './snapshot';
import { hexAddr } from './snapshot';

/** Element states as stored in `state`: the one table of their codes, for the agent, the extension host and the webview. */
export const FREE = 0;
export const BUSY = 1;
export const PAD = 2;
export const ELEMENT_STATES: readonly ElementState[] = ['free', 'busy', 'pad'];
export const STATE_CODE: Readonly<Record<ElementState, number>> = { free: FREE, busy: BUSY, pad: PAD };

/** One heap's elements, sorted by address. Arrays hold exactly `n` entries. */
export interface ElementColumnsView {
  heapId: number;
  n: number;
  /** Start addresses (exact below 2^53, as every x86-64 user address is). */
  addr: Float64Array;
  len: Float64Array;
  pad: Uint32Array;
  /** Index into ELEMENT_STATES. */
  state: Uint8Array;
  /** Index into `owners`, or -1. */
  owner: Int32Array;
  owners: string[];
}

/** The largest heap a message may carry (the snapshot file limit is 1M elements a file; a live heap may be larger). */
export const MAX_COLUMN_ELEMENTS = 1 << 24;
const MAX_OWNERS = 1 << 20;
const MAX_OWNER_LEN = 512;

const tag = (x: unknown) => Object.prototype.toString.call(x);

/** One element in the wire format of files and the CLI. */
export function columnElement(c: ElementColumnsView, i: number): HeapElement {
  const w = c.owner[i]!;
  return { addr: hexAddr(c.addr[i]!), len: c.len[i]!, pad: c.pad[i]!, state: ELEMENT_STATES[c.state[i]!]!, owner: w < 0 ? null : c.owners[w]! };
}

export function columnElements(c: ElementColumnsView): HeapElement[] {
  const out = new Array<HeapElement>(c.n);
  for (let i = 0; i < c.n; i++) out[i] = columnElement(c, i);
  return out;
}

/** Columns from wire elements (sorted by address first when they are not). */
export function columnsFromElements(heapId: number, elements: readonly HeapElement[]): ElementColumnsView {
  const n = elements.length;
  let order: readonly HeapElement[] = elements;
  for (let i = 1; i < n; i++) {
    if (Number(elements[i]!.addr) < Number(elements[i - 1]!.addr)) {
      order = [...elements].sort((x, y) => Number(x.addr) - Number(y.addr));
      break;
    }
  }
  const c: ElementColumnsView = { heapId, n, addr: new Float64Array(n), len: new Float64Array(n), pad: new Uint32Array(n), state: new Uint8Array(n), owner: new Int32Array(n), owners: [] };
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = order[i]!;
    c.addr[i] = Number(e.addr);
    c.len[i] = e.len;
    c.pad[i] = e.pad;
    c.state[i] = e.state === 'free' ? 0 : e.state === 'busy' ? 1 : 2;
    if (e.owner === null) {
      c.owner[i] = -1;
      continue;
    }
    let k = index.get(e.owner);
    if (k === undefined) {
      k = c.owners.length;
      c.owners.push(e.owner);
      index.set(e.owner, k);
    }
    c.owner[i] = k;
  }
  return c;
}

/**
 * The columns as they travel (agent → extension host → webview): 7 bytes an
 * element where a view holds 25. Elements of a heap mostly follow one
 * another without a gap, so a start is implied by the end of the element
 * before; lengths fit 32 bits and pads are mostly zero. What does not fit
 * goes in sparse [index, value] pairs:
 *  - `jumps`: every element that does not start where the one before ends
 *    (always the first), with its address;
 *  - `big`: lengths of 2^32 − 1 and more (`len` holds LEN_ESCAPE there);
 *  - `pads`: pads that are not 0.
 * `owner` holds the owner's index + 1 (0: none), in 16 bits while the table
 * has fewer than 65535 names, else 32 (ownerWidth).
 */
export interface CompactColumns {
  heapId: number;
  n: number;
  /**
   * Each element's address, instead of `jumps`: for slices (a delta's
   * elements), where hardly any element follows the one before.
   */
  addr?: Float64Array;
  len: Uint32Array;
  state: Uint8Array;
  owner: Uint16Array | Uint32Array;
  jumps: Float64Array;
  big: Float64Array;
  pads: Float64Array;
  owners: string[];
}

export const LEN_ESCAPE = 0xffffffff;
export const COMPACT_FIELDS = ['heapId', 'n', 'addr', 'len', 'state', 'owner', 'jumps', 'big', 'pads', 'owners'] as const;

/** Bytes an owner index takes for a table of `owners` names. */
export function ownerWidth(owners: number): 2 | 4 {
  return owners < 0xffff ? 2 : 4;
}

/**
 * The compact form of a view's first n elements (the view's `state` is
 * shared, not copied); `slice`: with each element's address (`addr`), for
 * a delta's scattered elements.
 */
export function compactColumns(v: ElementColumnsView, slice = false): CompactColumns {
  const n = v.n;
  const len = new Uint32Array(n);
  const owner = ownerWidth(v.owners.length) === 2 ? new Uint16Array(n) : new Uint32Array(n);
  const jumps: number[] = [];
  const big: number[] = [];
  const pads: number[] = [];
  let end = -1;
  for (let i = 0; i < n; i++) {
    const a = v.addr[i]!;
    const l = v.len[i]!;
    if (a !== end && !slice) jumps.push(i, a);
    if (l >= LEN_ESCAPE) {
      len[i] = LEN_ESCAPE;
      big.push(i, l);
    } else len[i] = l;
    const p = v.pad[i]!;
    if (p !== 0) pads.push(i, p);
    owner[i] = v.owner[i]! + 1;
    end = a + l;
  }
  return { heapId: v.heapId, n, ...(slice ? { addr: v.addr.slice(0, n) } : {}), len, state: v.state.subarray(0, n), owner, jumps: Float64Array.from(jumps), big: Float64Array.from(big), pads: Float64Array.from(pads), owners: v.owners.slice() };
}

/** Where compactProblem writes the elements it checks (owner indexes mapped through `ownerIds` when given); `pad` must come zero-filled (only pads that are not 0 are written). */
export interface ExpandTarget {
  addr: Float64Array;
  len: Float64Array;
  pad: Uint32Array;
  owner: Int32Array;
  ownerIds?: ArrayLike<number>;
}

const F64 = '[object Float64Array]';

/**
 * What is wrong with `x` as CompactColumns (the path of the bad part below
 * it, and why), or null when it is one. Checks the arrays' types and
 * lengths, and every element as it is rebuilt: addresses whole, ascending
 * and not overlapping, below 2^53 with their lengths; states known; owner
 * indexes inside `owners`; every sparse pair naming an element, in order.
 * With `into`, the elements are written there as they are checked (what is
 * written is meaningless when a problem is returned); a function is asked
 * for the arrays once n is known to be sound. Typed arrays are
 * recognised by their tag, so arrays made in another frame pass.
 */
export function compactProblem(x: unknown, into?: ExpandTarget | ((n: number) => ExpandTarget)): [part: string, why: string] | null {
  if (typeof x !== 'object' || x === null) return ['', 'is not an object'];
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(COMPACT_FIELDS as readonly string[]).includes(k)) return [`.${k.slice(0, 40)}`, 'is not a known field'];
  if (!Number.isSafeInteger(o.heapId)) return ['.heapId', 'is not a whole number'];
  const n = o.n;
  if (!Number.isSafeInteger(n) || (n as number) < 0 || (n as number) > MAX_COLUMN_ELEMENTS) return [`.n`, `is not a count from 0 to ${MAX_COLUMN_ELEMENTS}`];
  const count = n as number;
  const owners = o.owners;
  if (!Array.isArray(owners) || owners.length > MAX_OWNERS) return [`.owners`, `is not an array of at most ${MAX_OWNERS} names`];
  for (let i = 0; i < owners.length; i++) {
    const s: unknown = owners[i];
    if (typeof s !== 'string' || s.length > MAX_OWNER_LEN) return [`.owners[${i}]`, `is not a name of at most ${MAX_OWNER_LEN} characters`];
  }
  const ownerTag = ownerWidth(owners.length) === 2 ? '[object Uint16Array]' : '[object Uint32Array]';
  for (const [k, t] of [
    ['len', '[object Uint32Array]'],
    ['state', '[object Uint8Array]'],
    ['owner', ownerTag],
  ] as const) {
    if (tag(o[k]) !== t) return [`.${k}`, `is not a ${t.slice(8, -1)}${k === 'owner' ? ` (for ${owners.length} owners)` : ''}`];
    if ((o[k] as ArrayLike<number>).length !== count) return [`.${k}`, `holds ${(o[k] as ArrayLike<number>).length} entries, not n = ${count}`];
  }
  for (const k of ['jumps', 'big', 'pads'] as const) {
    if (tag(o[k]) !== F64) return [`.${k}`, 'is not a Float64Array'];
    if ((o[k] as Float64Array).length % 2 !== 0) return [`.${k}`, 'is not a list of [index, value] pairs'];
  }
  const addr = o.addr as Float64Array | undefined;
  if (addr !== undefined) {
    if (tag(addr) !== F64) return ['.addr', 'is not a Float64Array'];
    if (addr.length !== count) return ['.addr', `holds ${addr.length} entries, not n = ${count}`];
    if ((o.jumps as Float64Array).length) return ['.jumps', 'is not empty (the addresses are in addr)'];
  }
  const len = o.len as Uint32Array;
  const state = o.state as Uint8Array;
  const owner = o.owner as Uint16Array | Uint32Array;
  const jumps = o.jumps as Float64Array;
  const big = o.big as Float64Array;
  const pads = o.pads as Float64Array;
  if (count > 0 && !addr && jumps[0] !== 0) return ['.jumps[0]', 'is not 0 (the first element’s address comes first)'];
  const out = typeof into === 'function' ? into(count) : into;
  const nOwners = owners.length;
  const states = ELEMENT_STATES.length;
  const jl = jumps.length;
  const bl = big.length;
  const pl = pads.length;
  let j = 0;
  let b = 0;
  let p = 0;
  let nextJump = jl ? jumps[0]! : -1;
  let nextBig = bl ? big[0]! : -1;
  let nextPad = pl ? pads[0]! : -1;
  let end = 0;
  const oa = out?.addr;
  const ol = out?.len;
  const oo = out?.owner;
  const ids = out?.ownerIds;
  let i = 0;
  while (i < count) {
    // the plain run up to the next sparse entry: an element that starts
    // where the one before ends, a 32-bit length, no pad; one comparison
    // chain each, anything else left to the element-by-element code below
    const stop = Math.min(addr || nextJump < i ? count : nextJump, nextBig >= i ? nextBig : count, nextPad >= i ? nextPad : count, count);
    if (addr) {
      // a slice: each element at its own address
      for (; i < stop; i++) {
        const a = addr[i]!;
        const l = len[i]!;
        const e = a + l;
        const w = owner[i]!;
        if (!(a >= end) || Math.floor(a) !== a || l === LEN_ESCAPE || state[i]! >= states || w > nOwners || e > Number.MAX_SAFE_INTEGER) break;
        if (oa && ol && oo) {
          oa[i] = a;
          ol[i] = l;
          oo[i] = w === 0 ? -1 : ids ? ids[w - 1]! : w - 1;
        }
        end = e;
      }
    } else if (oa && ol && oo) {
      for (; i < stop; i++) {
        const l = len[i]!;
        const e = end + l;
        const w = owner[i]!;
        if (l === LEN_ESCAPE || state[i]! >= states || w > nOwners || e > Number.MAX_SAFE_INTEGER) break;
        oa[i] = end;
        ol[i] = l;
        oo[i] = w === 0 ? -1 : ids ? ids[w - 1]! : w - 1;
        end = e;
      }
    } else {
      for (; i < stop; i++) {
        const l = len[i]!;
        const e = end + l;
        if (l === LEN_ESCAPE || state[i]! >= states || owner[i]! > nOwners || e > Number.MAX_SAFE_INTEGER) break;
        end = e;
      }
    }
    if (i >= count) break;
    let a = end;
    if (addr) {
      a = addr[i]!;
      if (!(a >= end && a <= Number.MAX_SAFE_INTEGER && Math.floor(a) === a)) return [`.addr[${i}]`, 'is not a whole address below 2^53 at or above the end of the element before'];
    } else if (i === nextJump) {
      a = jumps[j + 1]!;
      // NaN fails every comparison; Math.floor keeps whole numbers only
      if (!(a >= end && a <= Number.MAX_SAFE_INTEGER && Math.floor(a) === a)) return [`.jumps[${j + 1}]`, `is not a whole address at or above the end of the element before (element ${i})`];
      j += 2;
      nextJump = j < jl ? jumps[j]! : -1;
    }
    let l = len[i]!;
    if (l === LEN_ESCAPE) {
      if (i !== nextBig) return [`.len[${i}]`, `is ${LEN_ESCAPE} (see big) but big has no entry for it`];
      l = big[b + 1]!;
      if (!(l >= LEN_ESCAPE && Math.floor(l) === l)) return [`.big[${b + 1}]`, `is not a whole length of ${LEN_ESCAPE} or more`];
      b += 2;
      nextBig = b < bl ? big[b]! : -1;
    }
    let pv = 0;
    if (i === nextPad) {
      pv = pads[p + 1]!;
      if (!(pv > 0 && pv <= 0xffffffff && Math.floor(pv) === pv)) return [`.pads[${p + 1}]`, 'is not a pad from 1 to 2^32 − 1'];
      p += 2;
      nextPad = p < pl ? pads[p]! : -1;
    }
    const e = a + l;
    if (!(e <= Number.MAX_SAFE_INTEGER)) return [`.len[${i}]`, 'runs past 2^53'];
    if (state[i]! >= states) return [`.state[${i}]`, 'is not 0 (free), 1 (busy) or 2 (pad)'];
    const w = owner[i]!;
    if (w > nOwners) return [`.owner[${i}]`, 'is not 0 or an index into owners + 1'];
    if (out) {
      out.addr[i] = a;
      out.len[i] = l;
      out.pad[i] = pv;
      out.owner[i] = w === 0 ? -1 : out.ownerIds ? out.ownerIds[w - 1]! : w - 1;
    }
    end = e;
    i++;
  }
  if (j < jl) return [`.jumps[${j}]`, 'names no element in order (indexes must rise, below n)'];
  if (b < bl) return [`.big[${b}]`, 'names no element in order (indexes must rise, below n)'];
  if (p < pl) return [`.pads[${p}]`, 'names no element in order (indexes must rise, below n)'];
  return null;
}

/** Why `x` is not valid CompactColumns ("columns.len[3] is …"), or null when it is. */
export function explainCompact(x: unknown): string | null {
  const p = compactProblem(x);
  return p && `columns${p[0]} ${p[1]}`;
}

/** Views rebuilt by checkCompact, for expandColumns: the check and the rebuild are one pass. */
const checked = new WeakMap<object, ElementColumnsView>();

/**
 * compactProblem, keeping the rebuilt elements: the next expandColumns of
 * the same object takes them instead of walking the columns again (a
 * message validator checks, then the model expands).
 */
export function checkCompact(x: unknown): [part: string, why: string] | null {
  const c = x as CompactColumns;
  let v: ElementColumnsView | null = null;
  const p = compactProblem(x, (n) => (v = { heapId: c.heapId, n, addr: new Float64Array(n), len: new Float64Array(n), pad: new Uint32Array(n), state: c.state, owner: new Int32Array(n), owners: c.owners }));
  if (!p && v) checked.set(c, v);
  return p;
}

/** The view of compact columns (checked: throws one sentence naming the field). Its `state` is the compact form's own array. */
export function expandColumns(c: CompactColumns): ElementColumnsView {
  const kept = checked.get(c);
  if (kept && kept.n === c.n && kept.state === c.state) {
    checked.delete(c);
    return kept;
  }
  const p = checkCompact(c);
  if (p) throw new Error(`columns${p[0]} ${p[1]}`);
  return expandColumns(c);
}

/** What is wrong with `x` as a delta's removed addresses (a Float64Array of whole addresses, strictly ascending): [part below it, why], or null. */
export function removedProblem(x: unknown): [part: string, why: string] | null {
  if (tag(x) !== F64) return ['', 'is not a Float64Array'];
  const r = x as Float64Array;
  if (r.length > MAX_COLUMN_ELEMENTS) return ['', `holds more than ${MAX_COLUMN_ELEMENTS} addresses`];
  let prev = -1;
  for (let i = 0; i < r.length; i++) {
    const a = r[i]!;
    if (!(a > prev && a <= Number.MAX_SAFE_INTEGER && Math.floor(a) === a)) return [`[${i}]`, 'is not a whole address above the one before'];
    prev = a;
  }
  return null;
}
