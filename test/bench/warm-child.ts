/**
 * Benchmark child: one attached agent (EAL allows one attach per process, so
 * every measurement that needs a warm agent runs in a process of its own).
 *
 *   node warm-child.js PREFIX COUNT
 *       attaches, takes a few warm-up snapshots, times COUNT snapshots and
 *       prints one JSON line on stdout:
 *       {median, p90, min, max, elements, busy, rssMb, attachMs, cpus}
 *   node warm-child.js PREFIX --loop INTERVAL_MS
 *       attaches, prints {"ready":true, attachMs, cpus, elements}, then
 *       snapshots every INTERVAL_MS until a line or EOF arrives on stdin (or
 *       SIGTERM), and prints {"stopped":true, snapshots, median, max, spans}
 *       where spans are [start, end] of each snapshot in epoch milliseconds.
 *
 * It always ends with the CLI's hard exit (no rte_eal_cleanup, which takes
 * the primary's hot-plug write lock): detaching is ending the process.
 * Exit status 75: the attach met an address conflict (V8's heap sat where
 * the primary's ranges go); the bench then starts a fresh child.
 */
import * as fs from 'node:fs';
import { ErrorCode, MemscopeError } from '../../common/errors';
import type { Snapshot } from '../../common/snapshot';

const WARMUP = 5;
/** A loop child whose parent vanished without closing its stdin still ends. */
const LOOP_MAX_MS = 120_000;

/** Writes synchronously: the process ends with _exit right after. */
function out(text: string): void {
  let buf = Buffer.from(text);
  while (buf.length) {
    try {
      buf = buf.subarray(fs.writeSync(1, buf));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') return;
      throw e;
    }
  }
}

function end(code: number): never {
  const { hardExit } = require('../../native-agent/native/libc') as typeof import('../../native-agent/native/libc');
  hardExit(code);
  throw new Error('unreachable');
}

function fail(msg: string): never {
  try {
    fs.writeSync(2, `warm-child: ${msg}\n`);
  } catch {
    /* nothing left to tell */
  }
  end(1);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

function cpus(): string {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? m[1]! : '?';
}

function counts(s: Snapshot): { elements: number; busy: number } {
  let elements = 0;
  let busy = 0;
  for (const h of s.heaps) {
    elements += h.elements.length;
    for (const e of h.elements) if (e.state === 'busy') busy++;
  }
  return { elements, busy };
}

/** Exit status asking the bench for a fresh child (see attach). */
const EXIT_RETRY = 75;

async function attach(prefix: string) {
  const { Session } = await import('../../native-agent/session');
  try {
    return await Session.attach({ prefix });
  } catch (e) {
    // V8's heap may sit where the primary's ranges go; EAL is untouched when
    // this is raised, so a fresh process may try again. The bench starts that
    // process itself (exit EXIT_RETRY) rather than re-executing this one: a
    // fresh child keeps the measurement out of reexec's path, and a reexec
    // that leaves fds 0-2 close-on-exec (Node sets that flag) loses stdio.
    if (e instanceof MemscopeError && e.code === ErrorCode.AddressConflict) {
      try {
        fs.writeSync(2, `warm-child: ${e.message}\n`);
      } catch {
        /* nothing left to tell */
      }
      end(EXIT_RETRY);
    }
    throw e;
  }
}

async function timed(prefix: string, count: number): Promise<never> {
  mark('attaching');
  const session = await attach(prefix);
  mark('snapshotting');
  // as a subscription takes them: two snapshots alive, the older one's
  // element buffers reused by the next
  let last: Snapshot | undefined;
  let spare: Snapshot | undefined;
  const take = () => {
    const next = session.snapshot(spare);
    spare = last;
    last = next;
  };
  for (let i = 0; i < WARMUP; i++) take();
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    take();
    ms.push(performance.now() - t0);
  }
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  // the secondary helper holds the attach for the agent: its memory counts
  // too. Two Node processes share the node binary's and DPDK's code pages, so
  // they are summed as PSS (each shared page split between its users), RSS
  // shown beside it.
  const status = (pid: number | 'self', file: string, key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  };
  const helperPid = session.helper?.pid;
  const helperRssMb = helperPid ? status(helperPid, 'status', 'VmRSS') : 0;
  const pssMb = status('self', 'smaps_rollup', 'Pss');
  const helperPssMb = helperPid ? status(helperPid, 'smaps_rollup', 'Pss') : 0;
  ms.sort((a, b) => a - b);
  const c = counts(last!);
  out(
    JSON.stringify({
      median: median(ms),
      p90: quantile(ms, 0.9),
      min: ms[0],
      max: ms[ms.length - 1],
      n: ms.length,
      elements: c.elements,
      busy: c.busy,
      rssMb,
      helperRssMb,
      pssMb,
      helperPssMb,
      attachMs: session.attachMs,
      cpus: cpus(),
      retries: last!.retries,
    }) + '\n',
  );
  session.dispose();
  end(0);
}

async function loop(prefix: string, intervalMs: number): Promise<never> {
  mark('attaching');
  const session = await attach(prefix);
  mark('attached');
  const first = session.snapshot();
  mark('looping');
  out(JSON.stringify({ ready: true, attachMs: session.attachMs, cpus: cpus(), ...counts(first) }) + '\n');
  const spans: [number, number][] = [];
  const ms: number[] = [];
  const origin = performance.timeOrigin;
  let last = first;
  let spare: Snapshot | undefined;
  const timer = setInterval(() => {
    const t0 = performance.now();
    const next = session.snapshot(spare);
    spare = last;
    last = next;
    const t1 = performance.now();
    spans.push([origin + t0, origin + t1]);
    ms.push(t1 - t0);
  }, intervalMs);
  await new Promise<void>((resolve) => {
    process.stdin.on('data', () => resolve());
    process.stdin.on('end', () => resolve());
    process.stdin.on('error', () => resolve());
    process.once('SIGTERM', () => resolve());
    setTimeout(resolve, LOOP_MAX_MS).unref();
  });
  clearInterval(timer);
  const sorted = [...ms].sort((a, b) => a - b);
  out(
    JSON.stringify({
      stopped: true,
      snapshots: ms.length,
      median: sorted.length ? median(sorted) : null,
      max: sorted.length ? sorted[sorted.length - 1] : null,
      spans,
    }) + '\n',
  );
  session.dispose();
  end(0);
}

/** Where the child is, for the message if Node ends it without a report. */
let stage = 'starting';

/** Marks progress on stderr (the bench shows stderr only when a child fails). */
function mark(what: string): void {
  stage = what;
  try {
    fs.writeSync(2, `warm-child ${process.pid} ${performance.now().toFixed(1)} ms: ${what}\n`);
  } catch {
    /* nothing left to tell */
  }
}

// Every normal end is a hard exit, which skips 'exit': Node ending on its own
// means the event loop drained while a promise was still pending.
process.on('exit', (code) => {
  try {
    fs.writeSync(2, `warm-child: the event loop drained (code ${code}) while ${stage}\n`);
  } catch {
    /* nothing left to tell */
  }
  process.exitCode = 1;
});

async function main(): Promise<never> {
  const [prefix, second, third] = process.argv.slice(2);
  if (!prefix) fail('usage: warm-child PREFIX COUNT | warm-child PREFIX --loop INTERVAL_MS');
  if (second === '--loop') {
    const interval = Number(third ?? '100');
    if (!Number.isInteger(interval) || interval < 1) fail('--loop takes an interval in milliseconds.');
    return loop(prefix, interval);
  }
  const count = Number(second);
  if (!Number.isInteger(count) || count < 1) fail('COUNT must be a positive integer.');
  return timed(prefix, count);
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
