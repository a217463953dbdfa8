/**
 * Memscope's shared dma-buf table. The seed keeps (fd, offset) per memseg
 * list in a static array of the registering process, so no other process can
 * learn which memory is dma-buf backed. This table lives in a memzone of the
 * target ("memscope_dmabuf"), so every process attached to the target (or
 * peeking at it) can read it without a lock:
 *
 *   header (64 B): magic "MSDB", version, slot size, slot count
 *   slot i (128 B) describes memseg list i:
 *     0 seq (odd while written)  4 state (1 live)  8 msl index  12 fd in owner
 *     16 base va  24 len  32 dma-buf offset  40 owner pid  44 kind
 *     48 owner start time (clock ticks)  56 dma-buf size  64 inode
 *     72 exporter[32]  104 page size  108..119 reserved  120 crc32(4..119)
 *
 * A reader keeps a slot only if its seq is even and its crc matches; a
 * writer bumps seq to odd, writes, sets the crc, bumps seq to even.
 */

import { startTime } from '../procfs';

export const TABLE_MEMZONE = 'memscope_dmabuf';
export const TABLE_MAGIC = 0x4244534d; // "MSDB"
export const TABLE_VERSION = 1;
export const HEADER_SIZE = 64;
export const SLOT_SIZE = 128;
export const SLOTS = 128; // RTE_MAX_MEMSEG_LISTS
export const TABLE_SIZE = HEADER_SIZE + SLOT_SIZE * SLOTS;

export type BackingKind = 'dmabuf' | 'memfd';
const KIND: Record<BackingKind, number> = { dmabuf: 1, memfd: 2 };

export interface TableEntry {
  mslIndex: number;
  fd: number;
  baseVa: bigint;
  len: number;
  offset: number;
  ownerPid: number;
  ownerStart: number;
  kind: BackingKind;
  size: number;
  inode: number;
  exporter: string;
  pageSize: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function writeHeader(b: Buffer): void {
  b.fill(0, 0, HEADER_SIZE);
  b.writeUInt32LE(TABLE_MAGIC, 0);
  b.writeUInt32LE(TABLE_VERSION, 4);
  b.writeUInt32LE(SLOT_SIZE, 8);
  b.writeUInt32LE(SLOTS, 12);
}

export function headerOk(b: Buffer): boolean {
  return b.length >= HEADER_SIZE && b.readUInt32LE(0) === TABLE_MAGIC && b.readUInt32LE(4) === TABLE_VERSION && b.readUInt32LE(8) === SLOT_SIZE && b.readUInt32LE(12) === SLOTS;
}

/** Encodes a live slot's body (bytes 4..127) into `slot` (128 bytes, seq untouched). */
export function encodeSlot(slot: Buffer, e: TableEntry): void {
  slot.fill(0, 4);
  slot.writeUInt32LE(1, 4);
  slot.writeInt32LE(e.mslIndex, 8);
  slot.writeInt32LE(e.fd, 12);
  slot.writeBigUInt64LE(e.baseVa, 16);
  slot.writeBigUInt64LE(BigInt(e.len), 24);
  slot.writeBigUInt64LE(BigInt(e.offset), 32);
  slot.writeInt32LE(e.ownerPid, 40);
  slot.writeUInt32LE(KIND[e.kind], 44);
  slot.writeBigUInt64LE(BigInt(e.ownerStart), 48);
  slot.writeBigUInt64LE(BigInt(e.size), 56);
  slot.writeBigUInt64LE(BigInt(e.inode), 64);
  slot.write(e.exporter.slice(0, 31), 72, 'latin1');
  slot.writeUInt32LE(e.pageSize >>> 0, 104);
  slot.writeUInt32LE(crc32(slot.subarray(4, 120)), 120);
}

/** Decodes one slot, or null when free, being written, or corrupt. */
export function decodeSlot(slot: Buffer): TableEntry | null {
  if (slot.readUInt32LE(0) % 2 !== 0) return null;
  if (slot.readUInt32LE(4) !== 1) return null;
  if (slot.readUInt32LE(120) !== crc32(slot.subarray(4, 120))) return null;
  const kindNo = slot.readUInt32LE(44);
  const kind = (Object.keys(KIND) as BackingKind[]).find((k) => KIND[k] === kindNo);
  if (!kind) return null;
  const end = slot.indexOf(0, 72);
  return {
    mslIndex: slot.readInt32LE(8),
    fd: slot.readInt32LE(12),
    baseVa: slot.readBigUInt64LE(16),
    len: Number(slot.readBigUInt64LE(24)),
    offset: Number(slot.readBigUInt64LE(32)),
    ownerPid: slot.readInt32LE(40),
    kind,
    ownerStart: Number(slot.readBigUInt64LE(48)),
    size: Number(slot.readBigUInt64LE(56)),
    inode: Number(slot.readBigUInt64LE(64)),
    exporter: slot.toString('latin1', 72, end < 0 || end > 104 ? 104 : end),
    pageSize: slot.readUInt32LE(104),
  };
}

/** Live entries of a whole table copy, keyed by memseg list index. */
export function decodeTable(b: Buffer): Map<number, TableEntry> {
  const out = new Map<number, TableEntry>();
  if (!headerOk(b) || b.length < TABLE_SIZE) return out;
  for (let i = 0; i < SLOTS; i++) {
    const e = decodeSlot(b.subarray(HEADER_SIZE + i * SLOT_SIZE, HEADER_SIZE + (i + 1) * SLOT_SIZE));
    if (e && e.mslIndex === i) out.set(i, e);
  }
  return out;
}

/**
 * Writes slot `i` of a table mapped in this process (a DataView over the
 * memzone), following the seqlock protocol; `e` null frees the slot.
 */
export function writeSlot(view: DataView, i: number, e: TableEntry | null): void {
  const off = HEADER_SIZE + i * SLOT_SIZE;
  const seq = view.getUint32(off, true);
  const body = Buffer.alloc(SLOT_SIZE);
  if (e) encodeSlot(body, e);
  view.setUint32(off, (seq | 1) >>> 0, true); // odd: being written
  for (let k = 4; k < SLOT_SIZE; k += 4) view.setUint32(off + k, body.readUInt32LE(k), true);
  view.setUint32(off, ((seq | 1) + 1) >>> 0, true); // even: stable
}

export type LiveEntry = TableEntry & { ownerAlive: boolean };

/** Entries of a table copy, each marked with whether its owner (pid and start time) still lives. */
export function decodeLive(b: Buffer): Map<number, LiveEntry> {
  const out = new Map<number, LiveEntry>();
  for (const [i, e] of decodeTable(b)) out.set(i, { ...e, ownerAlive: e.ownerStart !== 0 && startTime(e.ownerPid) === e.ownerStart });
  return out;
}
