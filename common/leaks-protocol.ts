/**
 * Messages between the extension and the Leaks panel (webview/leaks/), both
 * ways validated: anything of an unknown type or with a wrong or extra field
 * is dropped (and logged) by whichever side receives it.
 */
import { arrayOf, type Check, count, dispatch, hex, int, nullable, num, oneOf, record, str, text } from './checks';
import type { SnapshotDiff } from './leaks';
import { DIFF_SCHEMA } from './leaks';
import type { Suspects, TimelinePoint } from './leak-tracker';
import { elements, explainMessage, memseg, memzone } from './webview-protocol';

/** A saved snapshot the panel can pick. */
export interface SnapshotEntry {
  id: string;
  name: string;
  takenAt: string;
  elements: number;
}

export interface TimelineMarker {
  t: number;
  id: string;
  name: string;
}

export type ToLeaks =
  | { type: 'timeline'; points: TimelinePoint[]; maxSamples: number }
  | { type: 'point'; point: TimelinePoint }
  | { type: 'snapshots'; list: SnapshotEntry[]; markers: TimelineMarker[] }
  | { type: 'diff'; diff: SnapshotDiff }
  | { type: 'suspects'; suspects: Suspects; minAgeMs: number }
  | { type: 'status'; text: string; level: 'info' | 'warning' | 'error' }
  | { type: 'target'; filePrefix: string; pid: number | null }
  | { type: 'theme' };

export type FromLeaks =
  | { type: 'ready' }
  | { type: 'compare'; a: string; b: string }
  | { type: 'compareSpan'; from: number; to: number }
  | { type: 'reveal'; address: string }
  | { type: 'refreshSuspects' }
  | { type: 'export'; format: 'markdown' | 'csv' }
  | { type: 'takeSnapshot' }
  | { type: 'resetBaseline' }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string };

const name = str(256);
const id = str(512);
const byName = (c: Check): Check => (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  let n = 0;
  for (const k in v as object) {
    if (++n > 4096 || k.length > 256 || !c((v as Record<string, unknown>)[k])) return false;
  }
  return true;
};
export const pointCheck = record({
  t: num,
  heaps: byName(record({ busyBytes: count, allocCount: count })),
  mempools: byName(nullable(count)),
  segments: count,
});
const group = record({ key: str(512), added: count, freed: count, addedBytes: count, freedBytes: count, bytesDelta: int });
const ref = record({ takenAt: text, filePrefix: text, pid: nullable(int) }, { name });
const diff = record({
  schema: oneOf(DIFF_SCHEMA),
  from: ref,
  to: ref,
  heaps: arrayOf(
    record({ id: int, name, elementsCompared: (v) => typeof v === 'boolean', added: elements, freed: elements, bytesDelta: int, bySizeClass: arrayOf(group, 64), byOwner: arrayOf(group, 1 << 16) }),
    1024,
  ),
  mempools: arrayOf(record({ name, status: oneOf('kept', 'added', 'removed'), from: nullable(count), to: nullable(count), inUseDelta: nullable(int) }), 1 << 16),
  memsegLists: arrayOf(record({ index: count, baseVa: hex, change: oneOf('added', 'removed', 'changed'), segmentsAdded: arrayOf(memseg, 1 << 20), segmentsRemoved: arrayOf(memseg, 1 << 20) }), 4096),
  memzones: record({ added: arrayOf(memzone, 1 << 20), removed: arrayOf(memzone, 1 << 20) }),
});
export const suspectsCheck = record({
  elements: arrayOf(record({ heapId: int, heap: name, addr: hex, len: count, owner: nullable(str(512)), sizeClass: count, firstSeen: text, ageMs: count }), 1 << 22),
  pools: arrayOf(record({ name, from: count, to: count, growth: count, windowMs: count }), 1 << 16),
  bytes: count,
  samples: count,
  baseline: nullable(text),
  at: nullable(text),
});

const toLeaks: Record<ToLeaks['type'], Check> = {
  timeline: record({ type: text, points: arrayOf(pointCheck, 1_000_000), maxSamples: count }),
  point: record({ type: text, point: pointCheck }),
  snapshots: record({
    type: text,
    list: arrayOf(record({ id, name, takenAt: text, elements: count }), 100_000),
    markers: arrayOf(record({ t: num, id, name }), 100_000),
  }),
  diff: record({ type: text, diff }),
  suspects: record({ type: text, suspects: suspectsCheck, minAgeMs: count }),
  status: record({ type: text, text, level: oneOf('info', 'warning', 'error') }),
  target: record({ type: text, filePrefix: text, pid: nullable(int) }),
  theme: record({ type: text }),
};

const fromLeaks: Record<FromLeaks['type'], Check> = {
  ready: record({ type: text }),
  compare: record({ type: text, a: id, b: id }),
  compareSpan: record({ type: text, from: num, to: num }),
  reveal: record({ type: text, address: hex }),
  refreshSuspects: record({ type: text }),
  export: record({ type: text, format: oneOf('markdown', 'csv') }),
  takeSnapshot: record({ type: text }),
  resetBaseline: record({ type: text }),
  log: record({ type: text, level: oneOf('debug', 'info', 'warn', 'error'), message: str(8192) }),
};

export function validateToLeaks(x: unknown): ToLeaks | null {
  return dispatch<ToLeaks>(toLeaks, x);
}

export function validateFromLeaks(x: unknown): FromLeaks | null {
  return dispatch<FromLeaks>(fromLeaks, x);
}

/** Why a message to the panel is dropped (for its log line), or null when it is valid. */
export function explainToLeaks(x: unknown): string | null {
  return explainMessage(toLeaks, x);
}
