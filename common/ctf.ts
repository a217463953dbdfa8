/**
 * DPDK's trace, as `rte_trace_save()` writes it (CTF 1.8): a `metadata` text
 * that declares the event ids and their fields, and one `channel*` file per
 * thread holding a packet header (magic, uuid), a packet context (cpu id,
 * thread name) and 8-byte-aligned events (a 48-bit timestamp and a 16-bit id,
 * then the fields, packed). Only what Memscope needs is read: the malloc
 * family's events, to name heap elements by their rte_malloc type string.
 * Pure: the caller reads the files.
 */

export const CTF_MAGIC = 0xc1fc1fc1;

export interface CtfField {
  name: string;
  /** Bytes: an integer's size, or an array's total. */
  size: number;
  kind: 'uint' | 'int' | 'string' | 'float';
}

export interface CtfEvent {
  id: number;
  name: string;
  fields: CtfField[];
}

export interface CtfMeta {
  events: Map<number, CtfEvent>;
  /** Bytes of packet header plus packet context before the first event. */
  packetBytes: number;
  clockFreq: number | null;
}

export class CtfError extends Error {}

interface TypeInfo {
  bits: number;
  kind: CtfField['kind'];
}

function parseTypealiases(text: string): Record<string, TypeInfo> {
  const types: Record<string, TypeInfo> = {};
  const re = /typealias\s+(integer|floating_point)\s*\{([^}]*)\}\s*:=\s*([A-Za-z_][A-Za-z0-9_]*)\s*;/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const body = m[2]!;
    if (m[1] === 'floating_point') {
      const exp = Number(/exp_dig\s*=\s*(\d+)/.exec(body)?.[1] ?? 0);
      const mant = Number(/mant_dig\s*=\s*(\d+)/.exec(body)?.[1] ?? 0);
      types[m[3]!] = { bits: exp + mant, kind: 'float' };
      continue;
    }
    const bits = Number(/size\s*=\s*(\d+)/.exec(body)?.[1] ?? 0);
    const signed = /signed\s*=\s*true/.test(body);
    const ascii = /encoding\s*=\s*ASCII/.test(body);
    types[m[3]!] = { bits, kind: ascii ? 'string' : signed ? 'int' : 'uint' };
  }
  return types;
}

/** The declarations in one `struct { … }` body. */
function parseFields(body: string, types: Record<string, TypeInfo>, where: string): CtfField[] {
  const out: CtfField[] = [];
  for (const decl of body.split(';')) {
    const d = decl.trim();
    if (!d) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(\d+)\])?$/.exec(d);
    if (!m) throw new CtfError(`${where}: cannot read the field "${d.slice(0, 60)}"`);
    const t = types[m[1]!];
    if (!t || t.bits % 8) throw new CtfError(`${where}: unknown or unaligned type "${m[1]}"`);
    const n = m[3] ? Number(m[3]) : 1;
    out.push({ name: m[2]!, size: (t.bits / 8) * n, kind: t.kind });
  }
  return out;
}

export function parseMetadata(text: string): CtfMeta {
  if (!/^\/\*\s*CTF 1\.8\s*\*\//.test(text)) throw new CtfError('the metadata is not CTF 1.8 text (a packetized metadata stream is not read)');
  const types = parseTypealiases(text);
  const headerBody = /packet\.header\s*:=\s*struct\s*\{([^}]*)\}/.exec(text)?.[1];
  const contextBody = /packet\.context\s*:=\s*struct\s*\{([^}]*)\}/.exec(text)?.[1];
  if (headerBody === undefined) throw new CtfError('the metadata declares no packet.header');
  const packetBytes = [...parseFields(headerBody, types, 'packet.header'), ...(contextBody ? parseFields(contextBody, types, 'packet.context') : [])].reduce((n, f) => n + f.size, 0);
  const evHeader = /event\.header\s*:=\s*struct\s*\{([^}]*)\}/.exec(text)?.[1] ?? '';
  if (!/uint48_clock_dpdk_t\s+timestamp\s*;\s*uint16_t\s+id\s*;/.test(evHeader)) throw new CtfError('the event header is not DPDK\u2019s (a 48-bit timestamp and a 16-bit id)');
  const events = new Map<number, CtfEvent>();
  const re = /event\s*\{\s*id\s*=\s*(\d+)\s*;\s*name\s*=\s*"([^"]*)"\s*;\s*fields\s*:=\s*struct\s*\{([^}]*)\}\s*;\s*\}\s*;/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const id = Number(m[1]);
    const name = m[2]!;
    try {
      events.set(id, { id, name, fields: parseFields(m[3]!, types, `event ${name}`) });
    } catch {
      // an event this reader cannot lay out: it is skipped, and so is the rest of its channel
      events.set(id, { id, name, fields: [{ name: '?', size: -1, kind: 'uint' }] });
    }
  }
  const freq = /clock\s*\{[^}]*freq\s*=\s*(\d+)/.exec(text)?.[1];
  return { events, packetBytes, clockFreq: freq ? Number(freq) : null };
}

export interface DecodedEvent {
  ts: bigint;
  name: string;
  values: Record<string, bigint | string | number>;
}

/**
 * The events of one channel file, in order. It stops at the first event that
 * cannot be read or goes back in time: in a ring that wrapped, what follows
 * the newest event is the cut-off rest of older ones.
 */
export function decodeChannel(meta: CtfMeta, buf: Uint8Array): DecodedEvent[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 4 || dv.getUint32(0, true) !== CTF_MAGIC) throw new CtfError('a channel file does not start with the CTF magic');
  const out: DecodedEvent[] = [];
  let off = meta.packetBytes;
  let lastTs = -1n;
  while (off + 8 <= buf.byteLength) {
    off = (off + 7) & ~7;
    if (off + 8 > buf.byteLength) break;
    const head = dv.getBigUint64(off, true);
    const id = Number(head >> 48n);
    const ts = head & 0xffffffffffffn;
    const ev = meta.events.get(id);
    // an unknown id, or time going backwards: the seam of a ring that wrapped
    if (!ev || ev.fields.some((f) => f.size < 0) || ts < lastTs) break;
    lastTs = ts;
    let p = off + 8;
    const size = ev.fields.reduce((n, f) => n + f.size, 0);
    if (p + size > buf.byteLength) break;
    const values: DecodedEvent['values'] = {};
    for (const f of ev.fields) {
      if (f.kind === 'string') {
        let end = p;
        while (end < p + f.size && buf[end] !== 0) end++;
        values[f.name] = new TextDecoder().decode(buf.subarray(p, end));
      } else if (f.kind === 'float') {
        values[f.name] = f.size === 8 ? dv.getFloat64(p, true) : dv.getFloat32(p, true);
      } else if (f.size === 8) {
        values[f.name] = f.kind === 'int' ? dv.getBigInt64(p, true) : dv.getBigUint64(p, true);
      } else if (f.size === 4) {
        values[f.name] = BigInt(f.kind === 'int' ? dv.getInt32(p, true) : dv.getUint32(p, true));
      } else if (f.size === 2) {
        values[f.name] = BigInt(f.kind === 'int' ? dv.getInt16(p, true) : dv.getUint16(p, true));
      } else if (f.size === 1) {
        values[f.name] = BigInt(f.kind === 'int' ? dv.getInt8(p) : dv.getUint8(p));
      } else {
        values[f.name] = '';
      }
      p += f.size;
    }
    out.push({ ts, name: ev.name, values });
    off = p;
  }
  return out;
}

/**
 * rte_malloc's live allocations by data pointer, with their type strings:
 * every malloc/zmalloc event, less what a later free (or realloc) let go,
 * events of all channels merged by timestamp.
 */
export function liveAllocations(meta: CtfMeta, channels: Uint8Array[]): Map<bigint, { type: string; size: bigint }> {
  const all = channels.flatMap((c) => decodeChannel(meta, c));
  all.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const live = new Map<bigint, { type: string; size: bigint }>();
  for (const e of all) {
    const ptr = e.values.ptr;
    if (typeof ptr !== 'bigint' || ptr === 0n) continue;
    if (e.name === 'lib.eal.mem.malloc' || e.name === 'lib.eal.mem.zmalloc') {
      live.set(ptr, { type: typeof e.values.type === 'string' && e.values.type ? e.values.type : '(no type)', size: typeof e.values.size === 'bigint' ? e.values.size : 0n });
    } else if (e.name === 'lib.eal.mem.free') {
      live.delete(ptr);
    } else if (e.name === 'lib.eal.mem.realloc') {
      // the event gives the new pointer only: its type is not known
      live.set(ptr, { type: '(realloc)', size: typeof e.values.size === 'bigint' ? e.values.size : 0n });
    }
  }
  return live;
}
