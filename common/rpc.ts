/**
 * Every JSON-RPC message between the agent (`memscope serve`) and the
 * extension host, as a typed constant that carries its own checks: a
 * request's params (the agent checks them before it acts) and its result
 * (the extension checks it before it uses it), a notification's params (the
 * extension checks them). One definition per message, used by both ends;
 * nothing crosses the process boundary unchecked.
 */
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import { arrayOf, bool, type Check, count, explain, int, isObj, nullable, oneOf, record, str, text } from './checks';
import type { Snapshot } from './snapshot';
import type { ErrorData } from './errors';
import { isErrorCode } from './errors';
import { pointCheck, suspectsCheck } from './leaks-protocol';
import type { Suspects } from './leak-tracker';
import {
  type AttachParams,
  type AttachResult,
  type ColumnSnapshot,
  type DeltaNotification,
  type DmabufQueryResult,
  type LeaksParams,
  type ListTargetsParams,
  Methods,
  Notifications,
  ProtocolError,
  type RegisterTestBufferParams,
  type SnapshotParams,
  type SubscribeParams,
  type SubscribeResult,
  type TargetExitedNotification,
  type TargetStateNotification,
  type TargetSummaryWire,
  type TestBufferInfo,
  type TimelineResult,
  validateAttach,
  validateDmabufQuery,
  validateEmpty,
  validateLeaks,
  validateListTargets,
  validateRegisterTestBuffer,
  validateSnapshotParams,
  validateSubscribe,
  validateVa,
} from './protocol';
import { isPackedDelta } from './columns-wire';
import { deltaCheck, deltaRecord, heapHeaderCheck, snapshotCheck, target as targetCheck } from './webview-protocol';

/** A request: its method, and how each end checks what the other sent. */
export interface Request<P, R> extends RequestType<P, R, ErrorData> {
  /** The agent's check of the params: the params as typed, or a ProtocolError saying what is wrong. */
  readonly parseParams: (x: unknown) => P;
  /** The extension's check of the result. */
  readonly result: Check;
}

/** A notification from the agent, and the extension's check of it. */
export interface Notification<P> extends NotificationType<P> {
  readonly check: Check;
}

function request<P, R>(method: string, parseParams: (x: unknown) => P, result: Check): Request<P, R> {
  return Object.assign(new RequestType<P, R, ErrorData>(method), { parseParams, result });
}

/** The params of a request that takes none. */
function empty(name: string): (x: unknown) => Record<string, never> {
  return (x) => (validateEmpty(x, `${name} params`), {});
}

function notification<P>(method: string, check: Check): Notification<P> {
  return Object.assign(new NotificationType<P>(method), { check });
}

/** Checks `x` against what `spec` says its result is; the value as typed, or a ProtocolError naming the field. */
export function checkedResult<R>(spec: Request<unknown, R>, x: unknown): R {
  // the plain check on the way through; explain (which runs it again) only for the message
  if (!spec.result(x)) throw new ProtocolError(`${spec.method} result: ${explain(spec.result, x) ?? 'has a wrong type or value'}`);
  return x as R;
}

/** The notification's params as typed, or a ProtocolError naming the field. */
export function checkedNotification<P>(spec: Notification<P>, x: unknown): P {
  if (!spec.check(x)) throw new ProtocolError(`${spec.method}: ${explain(spec.check, x) ?? 'has a wrong type or value'}`);
  return x as P;
}

// ------------------------------------------------------------------ results

const isNull: Check = (v) => v === null;
const errorData = record({ code: (v) => isErrorCode(v), message: str(8192) }, { detail: str(65536) });
const va = str(18);
const targetSummary = record(
  {
    filePrefix: str(64),
    runtimeDir: text,
    pid: nullable(int),
    alive: bool,
    dpdkVersion: nullable(text),
    versionWord: nullable(int),
    mode: oneOf('hugepages', 'in-memory', 'no-huge', 'unknown'),
    hugepageBytes: count,
    memsegLists: count,
    ealLibrary: nullable(text),
    root: nullable(record({ path: text, label: text, pid: int, otherMountNs: bool })),
    runtimeDirInRoot: text,
    layout: nullable(text),
    attachable: bool,
  },
  { reason: str(8192), reasonCode: str(64) },
);
const attachResult = record({
  target: targetCheck,
  dpdkVersion: text,
  ealLibrary: nullable(text),
  lcore: nullable(int),
  access: oneOf('secondary', 'peek'),
  attachMs: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  readMethod: oneOf('lock-free', 'locking'),
  agentPid: int,
});
/** Packed columns are checked where they are decoded (common/columns-wire.ts's unpackColumns): here, their shape (base64 strings of any length). */
const b64: Check = (v) => typeof v === 'string';
const packed = record({ heapId: int, n: count, len: b64, state: b64, owner: b64, jumps: b64, big: b64, pads: b64, owners: arrayOf(str(512), 1 << 20) }, { addr: b64 });
/** A subscription with columns sends its heaps' changes as packed column slices (common/columns-wire.ts PackedHeapDelta), one without as objects. */
const packedDelta = deltaRecord(record({ id: int, removed: b64, added: packed, changed: packed }, { header: heapHeaderCheck }));
const anyDelta: Check = (v) => (isPackedDelta(v) ? packedDelta(v) : deltaCheck(v));
const columnSnapshot = record({ snapshot: snapshotCheck, columns: arrayOf(packed, 4096) });
const subscribeResult = record({ snapshot: snapshotCheck }, { columns: arrayOf(packed, 4096) });
const testBuffer = record({
  prefix: str(64),
  va,
  len: count,
  mslIndex: count,
  socketId: int,
  fd: int,
  offset: count,
  pageSize: count,
  backing: text,
  kind: oneOf('udmabuf', 'dma-heap', 'memfd'),
  exporter: nullable(text),
  heap: nullable(text),
  via: text,
  holderPid: int,
  guardianPid: int,
});

// ------------------------------------------------------------------ messages

export const Requests = {
  listTargets: request<ListTargetsParams, TargetSummaryWire[]>(Methods.listTargets, validateListTargets, arrayOf(targetSummary, 4096)),
  attach: request<AttachParams, AttachResult>(Methods.attach, validateAttach, attachResult),
  // with `columns: true` (the extension's form) a column snapshot, else a snapshot
  snapshot: request<SnapshotParams, ColumnSnapshot | Snapshot>(Methods.snapshot, validateSnapshotParams, (v) => (isObj(v) && 'columns' in v ? columnSnapshot(v) : snapshotCheck(v))),
  subscribe: request<SubscribeParams, SubscribeResult>(Methods.subscribe, validateSubscribe, subscribeResult),
  unsubscribe: request<Record<string, never>, null>(Methods.unsubscribe, empty('unsubscribe'), isNull),
  detach: request<Record<string, never>, null>(Methods.detach, empty('detach'), isNull),
  leaks: request<LeaksParams, Suspects>(Methods.leaks, validateLeaks, suspectsCheck),
  timeline: request<Record<string, never>, TimelineResult>(Methods.timeline, empty('timeline'), record({ points: arrayOf(pointCheck, 1_000_000), maxSamples: count })),
  resetLeaks: request<Record<string, never>, null>(Methods.resetLeaks, empty('resetLeaks'), isNull),
  registerTestBuffer: request<RegisterTestBufferParams, TestBufferInfo>(Methods.registerTestBuffer, validateRegisterTestBuffer, testBuffer),
  unregisterTestBuffer: request<{ va: string }, { ownerPid: number }>(Methods.unregisterTestBuffer, (x) => validateVa(x, 'unregisterTestBuffer params'), record({ ownerPid: int })),
  dmabufQuery: request<{ mslIndex: number }, DmabufQueryResult>(Methods.dmabufQuery, validateDmabufQuery, record({ mslIndex: count, fd: int, offset: count })),
} as const;

export const AgentNotifications = {
  delta: notification<DeltaNotification>(Notifications.delta, record({ seq: count, takenAt: text, delta: anyDelta })),
  targetExited: notification<TargetExitedNotification>(Notifications.targetExited, record({ message: str(8192), error: errorData })),
  targetState: notification<TargetStateNotification>(Notifications.targetState, record({ stopped: bool, message: str(8192) })),
} as const;
