/**
 * Element columns inside a JSON-RPC message between the agent and the
 * extension host (both Node): each typed array as one base64 string of its
 * little-endian bytes. A million elements are 33 MB of base64 that JSON
 * parses as five strings, against ~90 MB of objects and hex strings that
 * JSON.parse turns into a million objects.
 */
import { type ElementColumnsView, explainColumns } from './columns';

export interface PackedColumns {
  heapId: number;
  n: number;
  addr: string;
  len: string;
  pad: string;
  state: string;
  owner: string;
  owners: string[];
}

const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** The first `n` entries of each column, coded. */
export function packColumns(c: ElementColumnsView): PackedColumns {
  return {
    heapId: c.heapId,
    n: c.n,
    addr: b64(c.addr.subarray(0, c.n)),
    len: b64(c.len.subarray(0, c.n)),
    pad: b64(c.pad.subarray(0, c.n)),
    state: b64(c.state.subarray(0, c.n)),
    owner: b64(c.owner.subarray(0, c.n)),
    owners: c.owners.slice(),
  };
}

/** Bytes of a base64 string in a fresh ArrayBuffer of its own (aligned for any typed array). */
function bytes(s: unknown, field: string, want: number): ArrayBuffer {
  if (typeof s !== 'string') throw new Error(`columns.${field} is not a base64 string`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s.length > 64 ? s.slice(-64) : s) || s.length % 4 !== 0) throw new Error(`columns.${field} is not base64`);
  const b = Buffer.from(s, 'base64');
  if (b.byteLength !== want) throw new Error(`columns.${field} holds ${b.byteLength} bytes, not the ${want} that n calls for`);
  const out = new ArrayBuffer(want);
  new Uint8Array(out).set(b);
  return out;
}

/**
 * Decodes and checks (common/columns.ts's explainColumns) what packColumns
 * made. Throws one sentence naming the field when anything is wrong.
 */
export function unpackColumns(x: unknown): ElementColumnsView {
  if (typeof x !== 'object' || x === null) throw new Error('columns is not an object');
  const p = x as Record<string, unknown>;
  const n = p.n;
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new Error('columns.n is not a count');
  const k = n as number;
  const c: ElementColumnsView = {
    heapId: p.heapId as number,
    n: k,
    addr: new Float64Array(bytes(p.addr, 'addr', k * 8)),
    len: new Float64Array(bytes(p.len, 'len', k * 8)),
    pad: new Uint32Array(bytes(p.pad, 'pad', k * 4)),
    state: new Uint8Array(bytes(p.state, 'state', k)),
    owner: new Int32Array(bytes(p.owner, 'owner', k * 4)),
    owners: p.owners as string[],
  };
  for (const key of Object.keys(p)) if (!['heapId', 'n', 'addr', 'len', 'pad', 'state', 'owner', 'owners'].includes(key)) throw new Error(`columns.${key.slice(0, 40)} is not a known field`);
  const why = explainColumns(c);
  if (why) throw new Error(why);
  return c;
}
