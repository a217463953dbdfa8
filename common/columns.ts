/**
 * A heap's elements as columns: the form they travel in from the agent to
 * the Memory Map. A million elements are five flat typed arrays and a string
 * table, never a million objects: the agent sends them base64-coded inside
 * its JSON-RPC reply (see common/columns-wire.ts), the extension host hands
 * the arrays to `webview.postMessage` (VS Code carries typed arrays as bytes,
 * without JSON), and the page draws from them.
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

/**
 * What is wrong with `x` as an ElementColumnsView (the path of the bad part
 * below it, and why), or null
 * when it is one. Checks the types and lengths of the arrays, that every
 * address and length is a whole number in range, addresses ascend and do not
 * overlap, states are known and owner indexes point into `owners`. Typed
 * arrays are recognised by their tag, so arrays made in another frame pass.
 */
export function columnsProblem(x: unknown): [part: string, why: string] | null {
  if (typeof x !== 'object' || x === null) return ['', 'is not an object'];
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['heapId', 'n', 'addr', 'len', 'pad', 'state', 'owner', 'owners'].includes(k)) return [`.${k.slice(0, 40)}`, 'is not a known field'];
  if (!Number.isSafeInteger(o.heapId)) return ['.heapId', 'is not a whole number'];
  const n = o.n;
  if (!Number.isSafeInteger(n) || (n as number) < 0 || (n as number) > MAX_COLUMN_ELEMENTS) return [`.n`, `is not a count from 0 to ${MAX_COLUMN_ELEMENTS}`];
  const want: [string, string][] = [
    ['addr', '[object Float64Array]'],
    ['len', '[object Float64Array]'],
    ['pad', '[object Uint32Array]'],
    ['state', '[object Uint8Array]'],
    ['owner', '[object Int32Array]'],
  ];
  for (const [k, t] of want) {
    if (tag(o[k]) !== t) return [`.${k}`, `is not a ${t.slice(8, -1)}`];
    if ((o[k] as ArrayLike<number>).length !== n) return [`.${k}`, `holds ${(o[k] as ArrayLike<number>).length} entries, not n = ${n}`];
  }
  const owners = o.owners;
  if (!Array.isArray(owners) || owners.length > MAX_OWNERS) return [`.owners`, `is not an array of at most ${MAX_OWNERS} names`];
  for (let i = 0; i < owners.length; i++) {
    const s = owners[i];
    if (typeof s !== 'string' || s.length > MAX_OWNER_LEN) return [`.owners[${i}]`, `is not a name of at most ${MAX_OWNER_LEN} characters`];
  }
  const addr = o.addr as Float64Array;
  const len = o.len as Float64Array;
  const state = o.state as Uint8Array;
  const owner = o.owner as Int32Array;
  // one comparison chain per element, the reason looked for only once one
  // fails: a page's first message runs this loop before V8 has compiled it
  const count = n as number;
  const nOwners = owners.length;
  const states = ELEMENT_STATES.length;
  let end = 0;
  let i = 0;
  for (; i < count; i++) {
    const a = addr[i]!;
    const l = len[i]!;
    const e = a + l;
    const w = owner[i]!;
    // NaN fails every comparison; Math.floor keeps whole numbers only
    if (!(a >= end && l >= 0 && e <= Number.MAX_SAFE_INTEGER && Math.floor(a) === a && Math.floor(l) === l && state[i]! < states && w >= -1 && w < nOwners)) break;
    end = e;
  }
  if (i === count) return null;
  end = i > 0 ? addr[i - 1]! + len[i - 1]! : 0;
  {
    const a = addr[i]!;
    const l = len[i]!;
    if (!Number.isSafeInteger(a) || a < 0) return [`.addr[${i}]`, `is not an address below 2^53`];
    if (!Number.isSafeInteger(l) || l < 0) return [`.len[${i}]`, `is not a whole number from 0 to 2^53`];
    if (a < end) return [`.addr[${i}]`, `is below the end of the element before it (addresses must ascend without overlap)`];
    end = a + l;
    if (!Number.isSafeInteger(end)) return [`.len[${i}]`, `runs past 2^53`];
    if (state[i]! >= ELEMENT_STATES.length) return [`.state[${i}]`, `is not 0 (free), 1 (busy) or 2 (pad)`];
    const w = owner[i]!;
    if (w < -1 || w >= owners.length) return [`.owner[${i}]`, `is not -1 or an index into owners`];
  }
  // the fast check and the reasons disagree: refuse all the same
  return [`.addr[${i}]`, 'fails the columns check'];
}

/** Why `x` is not a valid ElementColumnsView ("columns.addr[3] is not …"), or null when it is one. */
export function explainColumns(x: unknown): string | null {
  const p = columnsProblem(x);
  return p && `columns${p[0]} ${p[1]}`;
}

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
