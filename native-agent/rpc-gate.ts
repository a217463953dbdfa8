/**
 * The agent's door: every byte that arrives on stdin passes here before
 * vscode-languageserver sees a message. vscode-jsonrpc's own reader buffers a
 * body of any announced length (a client can make the agent hold gigabytes),
 * answers nothing to a body that is not JSON or not JSON-RPC, hands positional
 * params to handlers as arguments and the cancellation token in place of
 * absent params. Here instead:
 *
 * - framing: a header block of at most MAX_HEADER_BYTES with exactly one
 *   decimal Content-Length; anything else ends the agent (the stream cannot be
 *   re-synchronised), with one sentence on stderr and exit status
 *   `protocol-violation`;
 * - a body over MAX_MESSAGE_BYTES is answered at once with a typed error and
 *   its bytes are dropped as they come, never held;
 * - a body that is not UTF-8 JSON gets ParseError, one that is not a JSON-RPC
 *   2.0 request or notification gets InvalidRequest, an unknown method
 *   MethodNotFound, params that are not an object (or nest too deep)
 *   InvalidParams; each error carries Memscope's ErrorData
 *   (`bad-arguments`) and names what was wrong;
 * - notifications (which get no answer) with bad params, unknown
 *   notifications and responses (the agent sends no requests) are dropped,
 *   noted on stderr.
 *
 * What passes is a well-formed request with object params (`{}` when absent)
 * or a known notification; the handlers then check the params' fields.
 */
import { AbstractMessageReader, type DataCallback, Disposable, type Message, type ResponseMessage } from 'vscode-languageserver/node';
import { ErrorCode, type ErrorData } from '../common/errors';

/** Memscope's requests are small (the largest, attach, is a few KiB): 1 MiB leaves room and bounds what one message costs. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** `Content-Length: N\r\nContent-Type: …\r\n\r\n` is under 100 bytes. */
export const MAX_HEADER_BYTES = 1024;
/** Memscope's params nest 2 levels deep; LSP's initialize a few more. */
export const MAX_DEPTH = 32;
export const MAX_METHOD_LENGTH = 256;
const MAX_STRING_ID = 256;

export const RpcErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
} as const;

/** A params check: why params are wrong, or null when they are fine. */
export type ParamsCheck = (params: unknown) => string | null;

export interface GateRules {
  /** The requests served, each with a check of its params (null: its handler checks them). */
  requests: ReadonlyMap<string, ParamsCheck | null>;
  /** The notifications accepted, each with a check of its params. */
  notifications: ReadonlyMap<string, ParamsCheck>;
}

export type Screened = { deliver: Message } | { reply: ResponseMessage } | { drop: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Printable ASCII only, at most n characters: for quoting what a client sent. */
export function quote(s: string, n = 60): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

function errorReply(id: string | number | null, code: number, sentence: string): { reply: ResponseMessage } {
  const data: ErrorData = { code: ErrorCode.BadArguments, message: sentence };
  return { reply: { jsonrpc: '2.0', id, error: { code, message: sentence, data } } };
}

/** True when v nests deeper than max (arrays and objects), without recursion. */
function deeperThan(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d > max) return true;
    for (const y of Array.isArray(x) ? x : Object.values(x)) if (typeof y === 'object' && y !== null) stack.push([y, d + 1]);
  }
  return false;
}

const validId = (id: unknown): id is string | number => (typeof id === 'string' && id.length <= MAX_STRING_ID) || Number.isSafeInteger(id);
const MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params', 'result', 'error']);
// ignoreBOM: a byte order mark stays, and is no JSON (RFC 8259 §8.1)
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What to do with one message body: deliver it, answer it with an error, or drop it. */
export function screen(body: Uint8Array, rules: GateRules): Screened {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    return errorReply(null, RpcErrorCodes.ParseError, 'the message body is not UTF-8: send JSON text.');
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return errorReply(null, RpcErrorCodes.ParseError, `the message body (${body.length} bytes) is not JSON: send one JSON-RPC 2.0 object per message.`);
  }
  if (Array.isArray(msg)) return errorReply(null, RpcErrorCodes.InvalidRequest, 'the message is a JSON-RPC batch, which the agent does not take: send one request per message.');
  if (!isObj(msg)) return errorReply(null, RpcErrorCodes.InvalidRequest, `the message is ${msg === null ? 'null' : `a ${typeof msg}`}, not a JSON-RPC 2.0 object: send {"jsonrpc": "2.0", "id": …, "method": …, "params": {…}}.`);
  const has = (k: string) => Object.prototype.hasOwnProperty.call(msg, k);
  const id = has('id') && validId(msg.id) ? msg.id : null;
  for (const k of Object.keys(msg)) {
    if (!MEMBERS.has(k)) return errorReply(id, RpcErrorCodes.InvalidRequest, `the message has a member "${quote(k, 40)}" that JSON-RPC 2.0 does not know: send only jsonrpc, id, method and params.`);
  }
  if (msg.jsonrpc !== '2.0') return errorReply(id, RpcErrorCodes.InvalidRequest, 'the message\'s "jsonrpc" member is not "2.0": send JSON-RPC 2.0.');
  if (!has('method')) {
    if ((has('result') || has('error')) && has('id')) return { drop: `dropped a response to id ${quote(String(JSON.stringify(msg.id)), 40)} (the agent sends no requests)` };
    return errorReply(id, RpcErrorCodes.InvalidRequest, 'the message has no "method": send a request or a notification.');
  }
  const method = msg.method;
  if (typeof method !== 'string' || method.length === 0 || method.length > MAX_METHOD_LENGTH) {
    return errorReply(id, RpcErrorCodes.InvalidRequest, `the message's "method" is not a name (a string of 1 to ${MAX_METHOD_LENGTH} characters): send one of Memscope's methods.`);
  }
  if (has('result') || has('error')) return errorReply(id, RpcErrorCodes.InvalidRequest, 'the message has a "method" and a "result" or "error": send a request or a response, not both.');
  const params = msg.params;
  const paramsProblem = (): string | null => {
    if (!has('params')) return null;
    if (!isObj(params)) return `params of ${quote(method)} must be an object of named fields, not ${Array.isArray(params) ? 'an array' : params === null ? 'null' : `a ${typeof params}`}`;
    if (deeperThan(params, MAX_DEPTH)) return `params of ${quote(method)} nest deeper than ${MAX_DEPTH} levels`;
    return null;
  };
  if (!has('id')) {
    const check = rules.notifications.get(method);
    if (!check) return { drop: `dropped the notification "${quote(method)}", which the agent does not take` };
    const why = paramsProblem() ?? check(params);
    return why ? { drop: `dropped the notification "${quote(method)}": ${why}` } : { deliver: { jsonrpc: '2.0', method, ...(has('params') ? { params } : {}) } as Message };
  }
  if (id === null) {
    return errorReply(null, RpcErrorCodes.InvalidRequest, `the request's "id" is not a string of at most ${MAX_STRING_ID} characters or a safe integer: use a number or a short string.`);
  }
  if (!rules.requests.has(method)) return errorReply(id, RpcErrorCodes.MethodNotFound, `the agent has no method "${quote(method)}": see Methods in common/protocol.ts.`);
  const why = paramsProblem() ?? rules.requests.get(method)?.(params) ?? null;
  if (why) return errorReply(id, RpcErrorCodes.InvalidParams, `invalid request: ${why}.`);
  return { deliver: { jsonrpc: '2.0', id, method, params: has('params') ? params : {} } as Message };
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const TOKEN = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/** The body length a header block announces, or why the block is broken. */
export function contentLength(block: string): number | string {
  let length: number | null = null;
  for (const line of block.split('\r\n')) {
    const m = TOKEN.exec(line);
    if (!m) return `the header line "${quote(line, 40)}" is not "Name: value"`;
    if (m[1]!.toLowerCase() !== 'content-length') continue;
    if (length !== null) return 'two Content-Length headers';
    if (!/^[0-9]{1,16}$/.test(m[2]!) || !Number.isSafeInteger(Number(m[2]))) return `Content-Length "${quote(m[2]!, 40)}" is not a byte count`;
    length = Number(m[2]);
  }
  return length ?? 'a header block without Content-Length';
}

export interface FramerEvents {
  /** One whole body, at most MAX_MESSAGE_BYTES. */
  body(bytes: Buffer): void;
  /** A header announced more than MAX_MESSAGE_BYTES: its body is skipped. */
  oversize(length: number): void;
  /** The framing is broken: nothing more is read. */
  broken(why: string): void;
}

/** LSP base-protocol framing, with bounded buffers. */
export class Framer {
  private head: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private have = 0;
  private need = -1;
  private skip = 0;
  private dead = false;

  constructor(
    private readonly events: FramerEvents,
    private readonly maxMessage = MAX_MESSAGE_BYTES,
    private readonly maxHeader = MAX_HEADER_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let c = chunk;
    while (c.length > 0 && !this.dead) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, c.length);
        this.skip -= n;
        c = c.subarray(n);
      } else if (this.need >= 0) {
        const n = Math.min(this.need - this.have, c.length);
        this.parts.push(c.subarray(0, n));
        this.have += n;
        c = c.subarray(n);
        if (this.have === this.need) this.emitBody();
      } else {
        const before = this.head.length;
        const head = before ? Buffer.concat([this.head, c]) : c;
        const end = head.indexOf(CRLFCRLF, Math.max(0, before - 3));
        if (end < 0 || end > this.maxHeader) {
          if (head.length > this.maxHeader) return this.die(`a header block over ${this.maxHeader} bytes`);
          this.head = Buffer.from(head); // a copy: never hold on to a large chunk
          return;
        }
        this.head = Buffer.alloc(0);
        c = head.subarray(end + 4);
        const length = contentLength(head.subarray(0, end).toString('latin1'));
        if (typeof length === 'string') return this.die(length);
        if (length > this.maxMessage) {
          this.skip = length;
          this.events.oversize(length);
        } else {
          this.need = length;
          if (length === 0) this.emitBody();
        }
      }
    }
  }

  private emitBody(): void {
    const body = Buffer.concat(this.parts, this.need);
    this.parts = [];
    this.have = 0;
    this.need = -1;
    this.events.body(body);
  }

  private die(why: string): void {
    this.dead = true;
    this.head = Buffer.alloc(0);
    this.parts = [];
    this.events.broken(why);
  }
}

export interface GateOptions {
  rules: GateRules;
  /** Sends an error response (through the connection's writer). */
  reply(message: ResponseMessage): void;
  /** The framing is broken: one sentence, then the agent ends. */
  fatal(sentence: string): void;
  /** A line for the agent log (stderr). */
  note(line: string): void;
}

/** A MessageReader for createConnection that lets through only what `screen` delivers. */
export class GatedMessageReader extends AbstractMessageReader {
  private notes = 0;

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly options: GateOptions,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (d: Buffer | string) => framer.push(typeof d === 'string' ? Buffer.from(d, 'utf8') : d);
    const onError = (e: Error) => this.fireError(e);
    const onClose = () => this.fireClose();
    const stop = () => {
      this.input.off('data', onData);
      this.input.off('error', onError);
      this.input.off('close', onClose);
    };
    const framer = new Framer({
      body: (bytes) => {
        const r = screen(bytes, this.options.rules);
        if ('deliver' in r) callback(r.deliver);
        else if ('reply' in r) {
          this.note(`answered ${r.reply.error!.code}: ${r.reply.error!.message}`);
          this.options.reply(r.reply);
        } else this.note(r.drop);
      },
      oversize: (length) => {
        const sentence = `a message of ${length} bytes is over the agent's limit of ${MAX_MESSAGE_BYTES} bytes: Memscope's requests are small; send less.`;
        this.note(`skipping ${sentence}`);
        this.options.reply(errorReply(null, RpcErrorCodes.InvalidRequest, sentence).reply);
      },
      broken: (why) => {
        stop();
        this.options.fatal(
          `the client broke the JSON-RPC framing (${why}), so no further message can be read: the agent ends; a client sends each message as a Content-Length header, a blank line and that many bytes of JSON.`,
        );
      },
    });
    this.input.on('data', onData);
    this.input.on('error', onError);
    this.input.on('close', onClose);
    return Disposable.create(stop);
  }

  /** At most 20 notes, then one per 1000: a flood of garbage must not flood the log. */
  private note(line: string): void {
    this.notes++;
    if (this.notes <= 20 || this.notes % 1000 === 0) this.options.note(this.notes > 20 ? `${line} (${this.notes} so far)` : line);
  }
}
