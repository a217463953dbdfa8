/**
 * The one protocol of Memscope: agent ⇄ extension (JSON-RPC over stdio) and,
 * later, extension ⇄ webview. Method names, parameter and result types, and
 * validators for what arrives from the other side. No runtime dependency (only
 * common/checks.ts and common/units.ts), so the webview bundle can import it too.
 */
import { absPath, checkInputs, HEX } from './checks';
import type { ErrorData } from './errors';
import type { TimelinePoint } from './leak-tracker';
import { PAGE_SIZES, parseSize } from './units';
import type { PackedColumnDelta, PackedColumns } from './columns-wire';
import type { Snapshot, TargetInfo } from './snapshot';
import type { SnapshotDelta } from './delta';

export const PROTOCOL_VERSION = 1;

export interface TargetSummaryWire {
  filePrefix: string;
  runtimeDir: string;
  pid: number | null;
  alive: boolean;
  dpdkVersion: string | null;
  /** The shared config's version word (DPDK's RTE_VERSION of the build), or null. */
  versionWord: number | null;
  mode: 'hugepages' | 'in-memory' | 'no-huge' | 'unknown';
  hugepageBytes: number;
  memsegLists: number;
  ealLibrary: string | null;
  /** The primary's root when it is not the agent's (a chroot, a container). */
  root: { path: string; label: string; pid: number; otherMountNs: boolean } | null;
  /** The runtime dir as the primary sees it. */
  runtimeDirInRoot: string;
  /** The release whose data file Memscope reads it with, or null. */
  layout: string | null;
  attachable: boolean;
  reason?: string;
  reasonCode?: string;
}

export interface ListTargetsParams {
  runtimeDirs?: string[];
}

export interface AttachParams {
  filePrefix: string;
  runtimeDirs?: string[];
  dpdkLib?: string | null;
  timeoutMs?: number;
  allowLockingReads?: boolean;
  extraEalArgs?: string[];
  /** 'secondary' (default): attach as a DPDK secondary; 'peek': read the primary's memory without attaching; 'auto'. */
  via?: 'secondary' | 'peek' | 'auto';
}

export interface AttachResult {
  target: TargetInfo;
  dpdkVersion: string;
  /** The librte_eal loaded, or null when peeking. */
  ealLibrary: string | null;
  /** The lcore id taken, or null when peeking. */
  lcore: number | null;
  access: 'secondary' | 'peek';
  attachMs: number;
  readMethod: 'lock-free' | 'locking';
  /** The agent's own pid (for the log, and to tell a restarted agent apart). */
  agentPid: number;
}

export interface SubscribeParams {
  intervalMs: number;
  /** Samples the agent keeps for the timeline and suspected leaks (a ring). */
  historySamples?: number;
  /** The primary's --trace-dir: elements are named by their rte_malloc type from the trace it saves. */
  traceDir?: string;
  /** Heap elements as packed columns (`columns` of the result) instead of `elements` arrays: the extension's form. */
  columns?: boolean;
}

export interface SnapshotParams {
  /** As in SubscribeParams. */
  columns?: boolean;
}

/**
 * A snapshot whose heaps' `elements` are empty because they travel in
 * `columns` (common/columns-wire.ts), one entry per heap whose elements were read.
 */
export interface ColumnSnapshot {
  snapshot: Snapshot;
  columns: PackedColumns[];
}

export interface LeaksParams {
  minAgeMs: number;
  minPoolGrowth?: number;
}

export interface TimelineResult {
  points: TimelinePoint[];
  maxSamples: number;
}

export interface SubscribeResult {
  /** The full picture the deltas start from. */
  snapshot: Snapshot;
  /** With `columns: true`: the heaps' elements (their `elements` are then empty). */
  columns?: PackedColumns[];
}

export interface DeltaNotification {
  seq: number;
  takenAt: string;
  /** A subscription with `columns: true` gets its heaps' changes as packed column slices. */
  delta: SnapshotDelta | PackedColumnDelta;
}

export interface TargetExitedNotification {
  message: string;
  error: ErrorData;
}

/**
 * The primary stopped (SIGSTOP, a debugger's breakpoint) or runs again. Its
 * memory stays readable while it is stopped: snapshots go on, showing it as
 * it was when it stopped.
 */
export interface TargetStateNotification {
  stopped: boolean;
  message: string;
}

export interface RegisterTestBufferParams {
  /** Bytes, or a size with a unit ("64M"). */
  size: string;
  pageSize?: '4K' | '2M' | '1G';
  backing?: 'auto' | 'udmabuf' | 'dma-heap' | 'memfd';
  dmabufOffset?: string;
  heap?: string | null;
  /** The user has read the risk and confirmed. */
  confirm: true;
}

export interface TestBufferInfo {
  prefix: string;
  va: string;
  len: number;
  mslIndex: number;
  socketId: number;
  fd: number;
  offset: number;
  pageSize: number;
  backing: string;
  kind: 'udmabuf' | 'dma-heap' | 'memfd';
  exporter: string | null;
  heap: string | null;
  via: string;
  holderPid: number;
  guardianPid: number;
}

export interface DmabufQueryResult {
  mslIndex: number;
  /** The seed's answers: fd (in its owner) or -1, and the offset. */
  fd: number;
  offset: number;
}

export const Methods = {
  listTargets: 'memscope/listTargets',
  registerTestBuffer: 'memscope/registerTestBuffer',
  unregisterTestBuffer: 'memscope/unregisterTestBuffer',
  dmabufQuery: 'memscope/dmabufQuery',
  attach: 'memscope/attach',
  snapshot: 'memscope/snapshot',
  subscribe: 'memscope/subscribe',
  unsubscribe: 'memscope/unsubscribe',
  detach: 'memscope/detach',
  leaks: 'memscope/leaks',
  timeline: 'memscope/timeline',
  resetLeaks: 'memscope/resetLeaks',
} as const;

export const Notifications = {
  delta: 'memscope/delta',
  targetExited: 'memscope/targetExited',
  targetState: 'memscope/targetState',
} as const;

/** JSON-RPC error code carrying a MemscopeError (its ErrorData rides in `data`). */
export const MEMSCOPE_RPC_ERROR = -32001;

// ---------------------------------------------------------------- validation

export class ProtocolError extends Error {}


function obj(x: unknown, what: string): Record<string, unknown> {
  if (x === undefined || x === null) return {};
  if (typeof x !== 'object' || Array.isArray(x)) throw new ProtocolError(`${what} must be an object`);
  return x as Record<string, unknown>;
}

function optStrings(v: unknown, what: string, max = 64): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > max || !v.every((s) => typeof s === 'string' && s.length <= 4096)) {
    throw new ProtocolError(`${what} must be an array of at most ${max} strings`);
  }
  return v as string[];
}

/** A name the client sent, fit to quote in a one-line message: printable ASCII, at most 40 characters. */
function shown(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
}

function known(o: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ProtocolError(`${what} has an unknown field "${shown(k)}"`);
}

export function validateListTargets(x: unknown): ListTargetsParams {
  const o = obj(x, 'listTargets params');
  known(o, ['runtimeDirs'], 'listTargets params');
  const runtimeDirs = optStrings(o.runtimeDirs, 'runtimeDirs');
  checkInputs('rpc', { runtimeDir: runtimeDirs });
  return runtimeDirs ? { runtimeDirs } : {};
}

export function validateAttach(x: unknown): AttachParams {
  const o = obj(x, 'attach params');
  known(o, ['filePrefix', 'runtimeDirs', 'dpdkLib', 'timeoutMs', 'allowLockingReads', 'extraEalArgs', 'via'], 'attach params');
  if (typeof o.filePrefix !== 'string') throw new ProtocolError('filePrefix must be a string');
  const p: AttachParams = { filePrefix: o.filePrefix };
  const dirs = optStrings(o.runtimeDirs, 'runtimeDirs');
  if (dirs) p.runtimeDirs = dirs;
  if (o.dpdkLib !== undefined && o.dpdkLib !== null) {
    if (typeof o.dpdkLib !== 'string') throw new ProtocolError('dpdkLib must be a string');
    p.dpdkLib = o.dpdkLib;
  }
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !Number.isInteger(o.timeoutMs) || o.timeoutMs < 100 || o.timeoutMs > 600_000) {
      throw new ProtocolError('timeoutMs must be an integer from 100 to 600000');
    }
    p.timeoutMs = o.timeoutMs;
  }
  if (o.allowLockingReads !== undefined) {
    if (typeof o.allowLockingReads !== 'boolean') throw new ProtocolError('allowLockingReads must be a boolean');
    p.allowLockingReads = o.allowLockingReads;
  }
  const extra = optStrings(o.extraEalArgs, 'extraEalArgs', 32);
  if (extra) p.extraEalArgs = extra;
  if (o.via !== undefined) {
    if (o.via !== 'secondary' && o.via !== 'peek' && o.via !== 'auto') throw new ProtocolError('via must be "secondary", "peek" or "auto"');
    p.via = o.via;
  }
  // the right types; now what they hold (a MemscopeError, bad-arguments, naming the field)
  checkInputs('rpc', { filePrefix: p.filePrefix, runtimeDir: p.runtimeDirs, dpdkLib: p.dpdkLib, ealArg: p.extraEalArgs });
  return p;
}

function intIn(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ProtocolError(`${name} must be an integer from ${min} to ${max}`);
  return v;
}

export function validateSubscribe(x: unknown): SubscribeParams {
  const o = obj(x, 'subscribe params');
  known(o, ['intervalMs', 'historySamples', 'traceDir', 'columns'], 'subscribe params');
  const p: SubscribeParams = { intervalMs: intIn(o.intervalMs === undefined ? 1000 : o.intervalMs, 'intervalMs', 100, 3_600_000) };
  if (o.historySamples !== undefined) p.historySamples = intIn(o.historySamples, 'historySamples', 10, 1_000_000);
  if (o.traceDir !== undefined && o.traceDir !== null && o.traceDir !== '') {
    if (typeof o.traceDir !== 'string') throw new ProtocolError('traceDir must be a string');
    checkInputs('rpc', { traceDir: o.traceDir });
    if (!absPath(o.traceDir)) throw new ProtocolError('traceDir must be an absolute path without ".." or NUL');
    p.traceDir = o.traceDir;
  }
  if (o.columns !== undefined) {
    if (typeof o.columns !== 'boolean') throw new ProtocolError('columns must be true or false');
    p.columns = o.columns;
  }
  return p;
}

export function validateSnapshotParams(x: unknown): SnapshotParams {
  const o = obj(x, 'snapshot params');
  known(o, ['columns'], 'snapshot params');
  if (o.columns === undefined) return {};
  if (typeof o.columns !== 'boolean') throw new ProtocolError('columns must be true or false');
  return { columns: o.columns };
}

export function validateLeaks(x: unknown): LeaksParams {
  const o = obj(x, 'leaks params');
  known(o, ['minAgeMs', 'minPoolGrowth'], 'leaks params');
  const p: LeaksParams = { minAgeMs: intIn(o.minAgeMs, 'minAgeMs', 0, 30 * 86_400_000) };
  if (o.minPoolGrowth !== undefined) p.minPoolGrowth = intIn(o.minPoolGrowth, 'minPoolGrowth', 1, 1 << 30);
  return p;
}

export function validateEmpty(x: unknown, what: string): void {
  known(obj(x, what), [], what);
}

export function validateRegisterTestBuffer(x: unknown): RegisterTestBufferParams {
  const o = obj(x, 'registerTestBuffer params');
  known(o, ['size', 'pageSize', 'backing', 'dmabufOffset', 'heap', 'confirm'], 'registerTestBuffer params');
  if (o.confirm !== true) throw new ProtocolError('confirm must be true: the user has to confirm the risk first');
  if (typeof o.size !== 'string' || o.size.length > 32) throw new ProtocolError('size must be a string such as "64M"');
  const size = parseSize(o.size);
  if (size === null) throw new ProtocolError('size must be a positive size such as "64M" (bytes, or K, M, G, T)');
  const p: RegisterTestBufferParams = { size: o.size, confirm: true };
  if (o.pageSize !== undefined) {
    if (o.pageSize !== '4K' && o.pageSize !== '2M' && o.pageSize !== '1G') throw new ProtocolError('pageSize must be 4K, 2M or 1G');
    p.pageSize = o.pageSize;
  }
  const page = PAGE_SIZES[p.pageSize ?? '4K']!;
  if (size % page !== 0) throw new ProtocolError(`size must be a whole number of ${p.pageSize ?? '4K'} pages`);
  if (o.backing !== undefined) {
    if (!['auto', 'udmabuf', 'dma-heap', 'memfd'].includes(o.backing as string)) throw new ProtocolError('backing must be auto, udmabuf, dma-heap or memfd');
    p.backing = o.backing as RegisterTestBufferParams['backing'];
  }
  if (o.dmabufOffset !== undefined) {
    if (typeof o.dmabufOffset !== 'string' || o.dmabufOffset.length > 32) throw new ProtocolError('dmabufOffset must be a string such as "2M"');
    const offset = o.dmabufOffset.trim() === '0' ? 0 : parseSize(o.dmabufOffset);
    if (offset === null || offset % page !== 0) throw new ProtocolError(`dmabufOffset must be 0 or a whole number of ${p.pageSize ?? '4K'} pages`);
    p.dmabufOffset = o.dmabufOffset;
  }
  if (o.heap !== undefined && o.heap !== null) {
    if (typeof o.heap !== 'string' || !/^[A-Za-z0-9_.-]{1,31}$/.test(o.heap)) throw new ProtocolError("heap must be a name of at most 31 letters, digits, '_', '.' or '-'");
    p.heap = o.heap;
  }
  return p;
}

export function validateVa(x: unknown, what: string): { va: string } {
  const o = obj(x, what);
  known(o, ['va'], what);
  if (typeof o.va !== 'string' || !HEX.test(o.va)) throw new ProtocolError('va must be a hex address such as "0x7f0000000000"');
  return { va: o.va };
}

/** Far above any DPDK build's RTE_MAX_MEMSEG_LISTS (128 by default). */
const MAX_MSL_INDEX = 65535;

export function validateDmabufQuery(x: unknown): { mslIndex: number } {
  const o = obj(x, 'dmabufQuery params');
  known(o, ['mslIndex'], 'dmabufQuery params');
  return { mslIndex: intIn(o.mslIndex, 'mslIndex', 0, MAX_MSL_INDEX) };
}
