/**
 * The made-up snapshot the map warms its message path with while it waits
 * for the first real one (webview/ui/warm.ts).
 */
import { compactColumns, type ElementColumnsView } from '../../common/columns';
import { SNAPSHOT_SCHEMA, type Snapshot } from '../../common/snapshot';
import type { SnapshotMessage } from '../../common/webview-protocol';

const WARM_ELEMENTS = 20_000;
const BASE = 0x100000000;
const MB2 = 2 * 1024 * 1024;

/** A made-up snapshot message: one memseg list, one heap of small elements in all three states, a memzone and a mempool. */
export function warmMessage(): SnapshotMessage {
  const n = WARM_ELEMENTS;
  const v: ElementColumnsView = { heapId: 0, n, addr: new Float64Array(n), len: new Float64Array(n), pad: new Uint32Array(n), state: new Uint8Array(n), owner: new Int32Array(n).fill(-1), owners: ['memzone:warm'] };
  let a = BASE;
  for (let i = 0; i < n; i++) {
    v.addr[i] = a;
    v.len[i] = 64 * (1 + (i % 7));
    v.state[i] = i % 3 === 0 ? 0 : i % 11 === 0 ? 2 : 1;
    if (i % 5 === 0) v.owner[i] = 0;
    a += v.len[i]!;
  }
  const len = Math.ceil((a - BASE) / MB2) * MB2;
  const hex = (x: number) => `0x${x.toString(16)}`;
  const snapshot: Snapshot = {
    schema: SNAPSHOT_SCHEMA,
    takenAt: new Date(0).toISOString(),
    target: { filePrefix: 'warm', pid: null, dpdkVersion: '0', runtimeDir: '/', alive: true },
    readMethod: 'lock-free',
    retries: 0,
    warnings: [],
    memsegLists: [{ index: 0, baseVa: hex(BASE), pageSize: MB2, socketId: 0, len, external: false, heap: true, capacity: len / MB2, segmentCount: 1, state: 'ok', segments: [{ index: 0, va: hex(BASE), iova: hex(BASE), len, hugepageSize: MB2, socketId: 0, flags: 0 }] }],
    heaps: [{ id: 0, name: 'socket_0', socketId: 0, totalSize: a - BASE, freeSize: 0, allocCount: 0, external: false, elementsAvailable: true, elements: [] }],
    memzones: [{ name: 'warm', addr: hex(BASE), iova: hex(BASE), len: 0x1000, hugepageSize: MB2, socketId: 0, flags: 0 }],
    mempools: [{ name: 'warm', size: 1, eltSize: 64, cacheSize: 0, populated: 1, inUse: 0, avail: 1, chunks: [{ addr: hex(BASE), len: 0x1000 }] }],
  };
  return { type: 'snapshot', snapshot, columns: [compactColumns(v)] };
}

