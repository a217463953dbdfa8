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
import { compactColumns, type CompactColumns, type ElementColumnsView } from '../common/columns';
import { packColumnsJson, packedColumnsJsonSize, type PackedColumns, writePackedColumnsJson } from '../common/columns-wire';

/**
 * One heap's columns in a reply. Coded when made (`json`), so that they hold
 * no reference to the snapshot's buffers; or, with `sent`, coded straight
 * into the message when it is written, and `sent` called after: only then
 * may the snapshot's buffers be reused.
 */
export class WireColumns {
  readonly heapId: number;
  readonly n: number;
  readonly json: Buffer | null;
  /** The compact form (its `state` is the view's own array: see the class comment). */
  private readonly compact: CompactColumns;

  constructor(view: ElementColumnsView, lazy = false) {
    this.heapId = view.heapId;
    this.n = view.n;
    this.compact = compactColumns(view);
    this.json = lazy ? null : packColumnsJson(this.compact);
  }

  get size(): number {
    return this.json ? this.json.length : packedColumnsJsonSize(this.compact);
  }

  write(out: Buffer, at: number): number {
    return this.json ? at + this.json.copy(out, at) : writePackedColumnsJson(this.compact, out, at);
  }

  /** What JSON.stringify writes (the same bytes as `write`). */
  toJSON(): PackedColumns {
    return JSON.parse((this.json ?? packColumnsJson(this.compact)).toString('utf8')) as PackedColumns;
  }
}

/** On a reply's result: called once its columns are written into the message. */
export const SENT = Symbol('memscope.columnsSent');

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const END = '"columns":[]}}';

/**
 * The buffer column replies are coded into, kept for the next one. A
 * 100k-element reply is ~5 MB; a fresh one each time is garbage outside V8's
 * heap that V8 collects only once tens of MB of it have piled up, all
 * resident meanwhile. The kept buffer is reused only while `idle()` says no
 * earlier message waits in the stream (vscode-jsonrpc's writer encodes a
 * message only after the one before was written, so it always is); a reply
 * under half its size gets a buffer of its own size instead, so one huge
 * reply does not stay resident.
 */
export class ReplyBuffer {
  private kept: Buffer | null = null;
  /** Buffers made (for tests). */
  made = 0;

  constructor(private readonly idle: () => boolean) {}

  take(size: number): Buffer {
    const k = this.kept;
    if (k && k.length >= size && k.length <= 2 * size && this.idle()) return k.subarray(0, size);
    // room for a heap that grows a little between two replies
    this.kept = Buffer.allocUnsafeSlow(Math.ceil(size * 1.125));
    this.made++;
    return this.kept.subarray(0, size);
  }
}

/**
 * A message's JSON as UTF-8 bytes; a reply whose `result.columns` are
 * WireColumns has them copied in as they are, into `into` when given (the
 * bytes are then valid until the next message is encoded).
 */
export function encodeMessage(msg: unknown, into?: ReplyBuffer): Buffer {
  const r = isObj(msg) ? msg.result : undefined;
  if (isObj(r) && Array.isArray(r.columns) && r.columns.length > 0 && r.columns.every((c) => c instanceof WireColumns)) {
    const cols = r.columns as WireColumns[];
    const head = JSON.stringify({ ...(msg as object), result: { ...r, columns: [] } });
    // `columns` is the last field of the result and the result the last of the message
    if (head.endsWith(END)) {
      const open = head.slice(0, -3); // …"columns":[
      let size = Buffer.byteLength(open) + 3 + cols.length - 1;
      for (const c of cols) size += c.size;
      const out = into ? into.take(size) : Buffer.allocUnsafeSlow(size);
      let at = out.write(open, 0, 'utf8');
      cols.forEach((c, i) => {
        if (i > 0) at += out.write(',', at, 'latin1');
        at = c.write(out, at);
      });
      at += out.write(']}}', at, 'latin1');
      if (at !== size) throw new Error(`encodeMessage wrote ${at} bytes, not ${size}`);
      const sent = (r as { [SENT]?: () => void })[SENT];
      if (sent) sent();
      return out;
    }
  }
  return Buffer.from(JSON.stringify(msg), 'utf8');
}

/** vscode-jsonrpc's content-type encoder for StreamMessageWriter (UTF-8 JSON, as its own), column replies coded into `into`. */
export function jsonEncoder(into?: ReplyBuffer): ContentTypeEncoder {
  return {
    name: 'application/json',
    encode(msg: Message): Promise<Uint8Array> {
      try {
        return Promise.resolve(encodeMessage(msg, into));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
