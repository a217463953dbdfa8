/**
 * How `memscope serve` writes its JSON-RPC messages: as vscode-jsonrpc's
 * JSON encoder does, except for a reply that carries element columns
 * (`memscope/snapshot` and `memscope/subscribe` with `columns: true`). Its
 * columns are coded once, as JSON bytes (common/columns-wire.ts
 * packColumnsJson), when the reply is made, and the message is those bytes
 * behind the JSON of the rest: no base64 string of a whole column and no
 * string of the whole message is built. The bytes are the same JSON that
 * JSON.stringify writes for it (a unit test checks that).
 */
import type { ContentTypeEncoder, Message } from 'vscode-languageserver/node';
import { type ElementColumnsView } from '../common/columns';
import { packColumnsJson, type PackedColumns } from '../common/columns-wire';

/**
 * One heap's columns, coded: the JSON text of its PackedColumns. Holds no
 * reference to the snapshot's buffers (they may be reused by the next
 * snapshot before the reply is written).
 */
export class WireColumns {
  readonly heapId: number;
  readonly n: number;
  readonly json: Buffer;

  constructor(c: ElementColumnsView) {
    this.heapId = c.heapId;
    this.n = c.n;
    this.json = packColumnsJson(c);
  }

  /** What JSON.stringify writes (the same bytes as `json`). */
  toJSON(): PackedColumns {
    return JSON.parse(this.json.toString('utf8')) as PackedColumns;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const END = '"columns":[]}}';

/** A message's JSON as UTF-8 bytes; a reply whose `result.columns` are WireColumns has them copied in as they are. */
export function encodeMessage(msg: unknown): Buffer {
  const r = isObj(msg) ? msg.result : undefined;
  if (isObj(r) && Array.isArray(r.columns) && r.columns.length > 0 && r.columns.every((c) => c instanceof WireColumns)) {
    const cols = r.columns as WireColumns[];
    const head = JSON.stringify({ ...(msg as object), result: { ...r, columns: [] } });
    // `columns` is the last field of the result and the result the last of the message
    if (head.endsWith(END)) {
      const open = head.slice(0, -3); // …"columns":[
      let size = Buffer.byteLength(open) + 3 + cols.length - 1;
      for (const c of cols) size += c.json.length;
      const out = Buffer.allocUnsafeSlow(size);
      let at = out.write(open, 0, 'utf8');
      cols.forEach((c, i) => {
        if (i > 0) at += out.write(',', at, 'latin1');
        at += c.json.copy(out, at);
      });
      at += out.write(']}}', at, 'latin1');
      if (at !== size) throw new Error(`encodeMessage wrote ${at} bytes, not ${size}`);
      return out;
    }
  }
  return Buffer.from(JSON.stringify(msg), 'utf8');
}

/** vscode-jsonrpc's content-type encoder for StreamMessageWriter (UTF-8 JSON, as its own). */
export const jsonEncoder: ContentTypeEncoder = {
  name: 'application/json',
  encode(msg: Message): Promise<Uint8Array> {
    try {
      return Promise.resolve(encodeMessage(msg));
    } catch (e) {
      return Promise.reject(e);
    }
  },
};
