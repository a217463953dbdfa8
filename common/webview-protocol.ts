/**
 * Messages between the extension and the Memory Map webview, with one
 * validator per direction. A validator returns the typed message or null:
 * an unknown type, an extra field or a wrong type anywhere (inside a
 * snapshot too) drops the whole message, and the receiver logs it. Nothing
 * here has a runtime dependency, so the webview bundle imports it as is.
 */
import { checkCompact, type CompactColumns, removedProblem } from './columns';
import type { ColumnDelta, HeapDelta, SnapshotDelta } from './delta';
import { SNAPSHOT_SCHEMA, type Snapshot } from './snapshot';
import { arrayOf, bool, type Check, count, dispatch, explain, explaining, fail, fieldNames, HEX, hex, inputProblem, int, keyPart, nullable, num, type Obj, oneOf, record, str, text } from './checks';

export type StatusLevel = 'info' | 'warning' | 'error';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** What a `select` names; its key is described at `SelectMessage`. */
export type SelectKind = 'memsegList' | 'segment' | 'hole' | 'heap' | 'element' | 'memzone' | 'mempool';
/**
 * How the map lays lanes out. By address: `folded` (the default: VA that
 * holds nothing collapses to a labelled break) or `linear` (DPDK's reserved
 * VA at its true scale). Each lane over the whole width: `compact` (by
 * bytes) or `index` (by element number).
 */
export type MapLayoutKind = 'folded' | 'linear' | 'compact' | 'index';
export const MAP_LAYOUTS: readonly MapLayoutKind[] = ['folded', 'linear', 'compact', 'index'];

// ------------------------------------------------------------ to the webview

export interface SnapshotMessage {
  type: 'snapshot';
  /** With `columns`, the heaps' `elements` are empty: their elements are the columns (common/columns.ts CompactColumns). */
  snapshot: Snapshot;
  columns?: CompactColumns[];
}
/** `seq` counts up by one per delta after a snapshot; a gap makes the webview ask for a snapshot again (`ready`). */
export interface DeltaMessage {
  type: 'delta';
  seq: number;
  delta: ColumnDelta;
}
/** Scroll and zoom to the item holding `address`, select it and flash it. */
export interface RevealMessage {
  type: 'reveal';
  address: string;
}
export interface StatusMessage {
  type: 'status';
  text: string;
  level: StatusLevel;
}
/** The colour theme changed: read the --vscode-* variables again. */
export interface ThemeMessage {
  type: 'theme';
}
export type ToWebview = SnapshotMessage | DeltaMessage | RevealMessage | StatusMessage | ThemeMessage;

// ---------------------------------------------------------- from the webview

/** The page is loaded (or lost track of the deltas): send a full snapshot. */
export interface ReadyMessage {
  type: 'ready';
}
/**
 * The user selected something and its details are shown. Keys:
 * memsegList "<index>", segment "<list>:<segment index>", hole
 * "<list>:<start>", heap "<id>", element "<heap id>:<addr>", memzone
 * "<name>@<addr>" (the key of common/delta.ts), mempool "<name>".
 */
export interface SelectMessage {
  type: 'select';
  kind: SelectKind;
  key: string;
}
export interface LogMessage {
  type: 'log';
  level: LogLevel;
  message: string;
}
export type FromWebview = ReadyMessage | SelectMessage | LogMessage;

/** What the webview keeps with getState/setState (and what `renderHtml` may seed). */
/** The view state's format: one saved before the Folded layout (another address scale, another default) is ignored. */
export const VIEW_STATE_VERSION = 2;

export interface MapViewState {
  version: typeof VIEW_STATE_VERSION;
  layout: MapLayoutKind;
  /** d3-zoom's transform of the shared x axis. */
  zoom: { k: number; x: number };
  selected: { kind: SelectKind; key: string } | null;
}

// ---------------------------------------------------------------- checkers

/**
 * Heap elements get a hand-written check: a snapshot may hold a million, and
 * this runs several times faster than `record` (no closures, no key lookups).
 * Five enumerable keys with the five known ones present means no extra one.
 */
const ELEMENT_FIELDS = ['addr', 'len', 'pad', 'state', 'owner'];
function isElement(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return explaining() && fail('', 'is not an object');
  const o = e as Obj;
  const s = o.state;
  if (s !== 'busy' && s !== 'free' && s !== 'pad') return explaining() && fail('.state', 'is not "busy", "free" or "pad"');
  if (typeof o.addr !== 'string' || !HEX.test(o.addr)) return explaining() && fail('.addr', 'is not a "0x…" hex address of at most 64 bits');
  if (!Number.isSafeInteger(o.len) || (o.len as number) < 0) return explaining() && fail('.len', 'is not a whole number from 0 to 2^53');
  if (!Number.isSafeInteger(o.pad) || (o.pad as number) < 0) return explaining() && fail('.pad', 'is not a whole number from 0 to 2^53');
  const w = o.owner;
  if (w !== null && (typeof w !== 'string' || w.length > 512)) return explaining() && fail('.owner', 'is not null or a name of at most 512 characters');
  let n = 0;
  for (const _ in o) n++;
  if (n === 5) return true;
  if (explaining()) for (const k in o) if (!ELEMENT_FIELDS.includes(k)) return fail(keyPart(k), 'is not a known field');
  return false;
}

// ------------------------------------------------------------ snapshot shape

/** A file prefix and a snapshot name by the rules of the CLI's --file-prefix and --name (a snapshot file can carry anything). */
const filePrefix: Check = (v) => inputProblem('filePrefix', v) === null;
const snapshotName: Check = (v) => inputProblem('snapshotName', v) === null;

export const target = record({ filePrefix, pid: nullable(int), dpdkVersion: text, runtimeDir: text, alive: bool }, { layout: text, root: text, dmabufGetter: nullable(text) });
export const memseg = record({ index: count, va: hex, iova: hex, len: count, hugepageSize: count, socketId: int, flags: int });
const dmabuf = record({
  fd: int,
  offset: count,
  ownerPid: int,
  exporter: nullable(text),
  size: nullable(count),
  inode: nullable(num),
  source: oneOf('table', 'native', 'proc'),
});
const backing = record({
  kind: oneOf('dmabuf', 'memfd', 'hugetlbfs', 'anonymous', 'file'),
  path: text,
  ownerPid: int,
  offset: count,
  fd: nullable(int),
  size: nullable(count),
  inode: nullable(num),
  exporter: nullable(text),
  pageSize: nullable(count),
});
const registration = record({
  fd: int,
  offset: count,
  ownerPid: int,
  ownerAlive: bool,
  kind: oneOf('dmabuf', 'memfd'),
  exporter: nullable(text),
  size: count,
  inode: num,
  pageSize: count,
});
const memsegList = record(
  {
    index: count,
    baseVa: hex,
    pageSize: count,
    socketId: int,
    len: count,
    external: bool,
    heap: bool,
    capacity: count,
    segmentCount: count,
    state: oneOf('ok', 'orphaned', 'unattached'),
    segments: arrayOf(memseg, 1 << 20),
  },
  {
    warning: text,
    ownerPids: arrayOf(int, 1024),
    dmabuf: nullable(dmabuf),
    registration: nullable(registration),
    backing: nullable(backing),
  },
);
const heapFields = {
  id: int,
  name: str(256),
  socketId: int,
  totalSize: count,
  freeSize: count,
  allocCount: count,
  external: bool,
  elementsAvailable: bool,
};
const heapOptional = { reason: text, largestFree: count };
const heapHeader = record(heapFields, heapOptional);
export const elements = arrayOf(isElement, 1 << 24);
const heap = record({ ...heapFields, elements }, heapOptional);
export const memzone = record({ name: str(256), addr: hex, iova: hex, len: count, hugepageSize: count, socketId: int, flags: int });
const chunk = record({ addr: hex, len: count });
const mempool = record(
  {
    name: str(256),
    size: count,
    eltSize: count,
    cacheSize: count,
    populated: count,
    inUse: nullable(count),
    avail: nullable(count),
    chunks: arrayOf(chunk, 1 << 16),
  },
  { reason: text },
);
const warnings = arrayOf(text, 4096);

export const snapshotCheck = record(
  {
    schema: oneOf(SNAPSHOT_SCHEMA),
    takenAt: text,
    target,
    readMethod: oneOf('lock-free', 'locking'),
    retries: count,
    warnings,
    memsegLists: arrayOf(memsegList, 4096),
    heaps: arrayOf(heap, 1024),
    memzones: arrayOf(memzone, 1 << 20),
    mempools: arrayOf(mempool, 1 << 16),
  },
  { access: oneOf('secondary', 'peek'), name: snapshotName },
);

/** Every field name a snapshot may hold, at any depth (no snapshot object has free-form keys). */
export const SNAPSHOT_FIELDS: ReadonlySet<string> = new Set([
  ...fieldNames(snapshotCheck, target, memsegList, memseg, dmabuf, backing, registration, heap, memzone, mempool, chunk),
  ...ELEMENT_FIELDS,
]);

const heapDelta = record({ id: int, added: elements, removed: arrayOf(hex, 1 << 24), changed: elements }, { header: heapHeader });

/** A delta's fields around its heaps' changes (checked by `heapChange`). */
export function deltaRecord(heapChange: Check): Check {
  return record(
    {
      takenAt: text,
      target,
      retries: count,
      memsegLists: record({ upserted: arrayOf(memsegList, 4096), removed: arrayOf(count, 4096) }),
      heaps: record({ changed: arrayOf(heapChange, 1024), removed: arrayOf(int, 1024) }),
      memzones: record({ added: arrayOf(memzone, 1 << 20), removed: arrayOf(str(600), 1 << 20) }),
      mempools: record({ upserted: arrayOf(mempool, 1 << 16), removed: arrayOf(str(256), 1 << 16) }),
    },
    { warnings },
  );
}

/** A heap's header as a delta carries it. */
export const heapHeaderCheck = heapHeader;

/** The object form (files, the CLI, a subscription without columns). */
export const deltaCheck = deltaRecord(heapDelta);

const compactCheck: Check = (v) => {
  const p = checkCompact(v);
  return p ? explaining() && fail(p[0], p[1]) : true;
};
const removedCheck: Check = (v) => {
  const p = removedProblem(v);
  return p ? explaining() && fail(p[0], p[1]) : true;
};
const columnHeapDelta = record({ id: int, removed: removedCheck, added: compactCheck, changed: compactCheck }, { header: heapHeader });

/** The column form the Memory Map gets (common/delta.ts ColumnDelta). */
export const columnDeltaCheck = deltaRecord(columnHeapDelta);

/** A heap's columns each, for heaps with empty `elements` (checked against the snapshot by the receiver). */
const columnsList: Check = (v) => {
  if (!Array.isArray(v) || v.length > 1024) return explaining() && fail('', 'is not a list of at most 1024 heaps\u2019 columns');
  for (let i = 0; i < v.length; i++) {
    const p = checkCompact(v[i]);
    if (p) return explaining() && fail(`[${i}]${p[0]}`, p[1]);
  }
  return true;
};

const snapshotMessage: Check = (v) => {
  if (!record({ type: text, snapshot: snapshotCheck }, { columns: columnsList })(v)) return false;
  const m = v as unknown as SnapshotMessage;
  if (!m.columns) return true;
  const seen = new Set<number>();
  for (let i = 0; i < m.columns.length; i++) {
    const id = m.columns[i]!.heapId;
    const h = m.snapshot.heaps.find((x) => x.id === id);
    if (!h) return explaining() && fail(`.columns[${i}].heapId`, 'names no heap of the snapshot');
    if (seen.has(id)) return explaining() && fail(`.columns[${i}].heapId`, 'names a heap twice');
    if (h.elements.length) return explaining() && fail(`.columns[${i}].heapId`, 'names a heap that has elements of its own');
    seen.add(id);
  }
  return true;
};

const selectKind = oneOf('memsegList', 'segment', 'hole', 'heap', 'element', 'memzone', 'mempool');

const toWebview: Record<ToWebview['type'], Check> = {
  snapshot: snapshotMessage,
  delta: record({ type: text, seq: count, delta: columnDeltaCheck }),
  reveal: record({ type: text, address: hex }),
  status: record({ type: text, text, level: oneOf('info', 'warning', 'error') }),
  theme: record({ type: text }),
};

const fromWebview: Record<FromWebview['type'], Check> = {
  ready: record({ type: text }),
  select: record({ type: text, kind: selectKind, key: str(1024) }),
  log: record({ type: text, level: oneOf('debug', 'info', 'warn', 'error'), message: str(8192) }),
};


/** A message the extension sent, or null. */
export function validateToWebview(x: unknown): ToWebview | null {
  return dispatch<ToWebview>(toWebview, x);
}

/** A message the webview sent, or null. */
export function validateFromWebview(x: unknown): FromWebview | null {
  return dispatch<FromWebview>(fromWebview, x);
}

export function validateSnapshot(x: unknown): Snapshot | null {
  return snapshotCheck(x) ? (x as Snapshot) : null;
}

/** Why `x` is not a valid snapshot ("heaps[0].elements[3].addr is not …"), or null when it is one. */
export function explainSnapshot(x: unknown): string | null {
  return explain(snapshotCheck, x);
}

/** Why a message to the webview was dropped: its type's problem, or that the type is unknown. */
export function explainToWebview(x: unknown): string | null {
  return explainMessage(toWebview, x);
}

/** The same for any message table: why `x` is not one of its messages, or null. */
export function explainMessage(table: Record<string, Check>, x: unknown): string | null {
  if (!isObjLike(x)) return x === null ? 'the message is null' : Array.isArray(x) ? 'the message is a list, not an object' : x === undefined ? 'the message is undefined' : `the message is a ${typeof x}, not an object`;
  const t = (x as Obj).type;
  if (typeof t !== 'string') return 'the message has no string "type"';
  if (!Object.prototype.hasOwnProperty.call(table, t)) return `the type ${JSON.stringify(t.slice(0, 40)).replace(/[^\x20-\x7e]/g, '?')} is unknown`;
  const why = explain(table[t]!, x);
  return why && `${JSON.stringify(t)}: ${why}`;
}

const isObjLike = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);

export function validateDelta(x: unknown): SnapshotDelta | null {
  return deltaCheck(x) ? (x as SnapshotDelta) : null;
}

export function validateHeapDelta(x: unknown): HeapDelta | null {
  return heapDelta(x) ? (x as HeapDelta) : null;
}

const viewState = record({
  version: oneOf(VIEW_STATE_VERSION),
  layout: oneOf(...MAP_LAYOUTS),
  zoom: record({ k: (v) => num(v) && (v as number) > 0, x: num }),
  selected: nullable(record({ kind: selectKind, key: str(1024) })),
});

/** Saved or seeded view state, or null (a stale or foreign state is ignored, not trusted). */
export function validateViewState(x: unknown): MapViewState | null {
  return viewState(x) ? (x as MapViewState) : null;
}
