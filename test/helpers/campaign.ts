/**
 * Bookkeeping of the fault campaigns: failures counted (with what failed)
 * instead of thrown, DPDK's own hazards counted apart, and the stage files
 * the processes under test keep (native-agent/stage.ts, MEMSCOPE_STAGE_DIR).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export class Tally {
  readonly failures: string[] = [];
  /** Runs that ended in DPDK's known hazard (a wedge), with what was seen. */
  readonly hazards: string[] = [];
  private readonly counts = new Map<string, number>();

  /** Counts a failure when ok is false; returns ok. */
  check(ok: boolean, what: string | (() => string)): boolean {
    if (!ok) this.failures.push(typeof what === 'function' ? what() : what);
    return ok;
  }

  fail(what: string): void {
    this.failures.push(what);
  }

  hazard(what: string): void {
    this.hazards.push(what);
  }

  /** Runs one step; an error it throws is counted as a failure of `at` and the campaign goes on. */
  async step<T>(at: string, fn: () => Promise<T> | T): Promise<{ ok: true; value: T } | { ok: false }> {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      this.failures.push(`${at}: ${(e as Error)?.message ?? String(e)}`.split('\n').slice(0, 4).join(' | '));
      return { ok: false };
    }
  }

  count(key: string, by = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }

  /** "k1 n1, k2 n2" for the keys starting with `prefix` (the prefix left off), in first-seen order. */
  counted(prefix: string): string {
    return [...this.counts].filter(([k]) => k.startsWith(prefix)).map(([k, n]) => `${k.slice(prefix.length)} ${n}`).join(', ');
  }

  /** "failures N" and, when N > 0, the first `first` of them. */
  failureSummary(first = 10): string {
    const n = this.failures.length;
    if (!n) return 'failures 0';
    const shown = this.failures.slice(0, first).map((f, i) => `  ${i + 1}. ${f.slice(0, 600)}`);
    return `failures ${n}${n > first ? ` (the first ${first})` : ''}:\n${shown.join('\n')}`;
  }
}

export interface StageRecord {
  pid: number;
  role: string;
  stage: string;
  ns: bigint;
}

export interface StageEvent {
  stage: string;
  ns: bigint;
}

/** native-agent/stage.ts's record size: the current step, then the history. */
const RECORD = 96;

function parseLine(l: string): { role: string; stage: string; ns: bigint } | null {
  const m = /^(\S+) (\S+) (\d+)/.exec(l);
  return m ? { role: m[1]!, stage: m[2]!, ns: BigInt(m[3]!) } : null;
}

/** The current stage of `pid` in `dir`, or null (no file yet). Cheap enough to spin on. */
export function readStage(dir: string, pid: number, fd?: number): StageRecord | null {
  const buf = Buffer.alloc(RECORD);
  let n = 0;
  try {
    if (fd !== undefined) n = fs.readSync(fd, buf, 0, RECORD, 0);
    else {
      const f = fs.openSync(path.join(dir, String(pid)), 'r');
      try {
        n = fs.readSync(f, buf, 0, RECORD, 0);
      } finally {
        fs.closeSync(f);
      }
    }
  } catch {
    return null;
  }
  const r = parseLine(buf.toString('latin1', 0, n));
  return r ? { pid, ...r } : null;
}

/** Every process that keeps a stage file in `dir`, with its current stage. */
export function stageRecords(dir: string): StageRecord[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  return names.map((n) => readStage(dir, Number(n))).filter((r): r is StageRecord => r !== null);
}

/** A process's steps, in order. */
export function stageHistory(dir: string, pid: number): StageEvent[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(dir, String(pid)), 'latin1').slice(RECORD);
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map(parseLine)
    .filter((r): r is NonNullable<ReturnType<typeof parseLine>> => r !== null)
    .map(({ stage, ns }) => ({ stage, ns }));
}

/** How long each entry into `stage` lasted (to the next step), in ns, over every file of `dir`. */
export function stageDurations(dir: string, stage: string, role?: string): number[] {
  const out: number[] = [];
  for (const r of stageRecords(dir)) {
    if (role && r.role !== role) continue;
    const h = stageHistory(dir, r.pid);
    for (let i = 0; i + 1 < h.length; i++) if (h[i]!.stage === stage) out.push(Number(h[i + 1]!.ns - h[i]!.ns));
  }
  return out;
}

/**
 * Processes of `dir` that were inside `stage` at some moment of [t0, t1]
 * (CLOCK_MONOTONIC ns, process.hrtime.bigint()): a stage still current at
 * the end of a process's history lasts until `deadAt(pid)` (its death), or
 * forever when that is unknown.
 */
export function inStageDuring(dir: string, stage: string, t0: bigint, t1: bigint, deadAt: (pid: number) => bigint | null = () => null): { pid: number; role: string }[] {
  const out: { pid: number; role: string }[] = [];
  for (const r of stageRecords(dir)) {
    const h = stageHistory(dir, r.pid);
    for (let i = 0; i < h.length; i++) {
      if (h[i]!.stage !== stage) continue;
      const from = h[i]!.ns;
      const to = i + 1 < h.length ? h[i + 1]!.ns : deadAt(r.pid) ?? BigInt(Number.MAX_SAFE_INTEGER) * 1000n;
      if (from <= t1 && to >= t0) {
        out.push({ pid: r.pid, role: r.role });
        break;
      }
    }
  }
  return out;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Every process's steps in `dir` as "role:pid stage@ms …", times in ms relative to `t0` (for a failure's message). */
export function stageTimeline(dir: string, t0: bigint): string {
  return stageRecords(dir)
    .map((r) => `${r.role}:${r.pid} ${stageHistory(dir, r.pid).map((e) => `${e.stage}@${(Number(e.ns - t0) / 1e6).toFixed(1)}`).join(' ')}`)
    .join('; ');
}
