/**
 * Where a process is in its work with DPDK, for the fault campaign. With
 * MEMSCOPE_STAGE_DIR=D set, a process keeps its current step in D/<pid>: one
 * positional write per step (the first 96 bytes: "<role> <stage> <ns>"), and
 * every step also appended after that record, with CLOCK_MONOTONIC
 * nanoseconds (the clock of process.hrtime in every process). A step's write
 * is done before the step starts, so a process that was SIGKILLed shows the
 * step the kill found it in. Off (and free) when the variable is unset.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const RECORD = 96;
let fd: number | null | undefined;
let at = RECORD;
let role = '';

export function stage(name: string): void {
  if (fd === undefined) {
    const dir = process.env.MEMSCOPE_STAGE_DIR;
    fd = null;
    if (dir && path.isAbsolute(dir)) {
      try {
        fd = fs.openSync(path.join(dir, String(process.pid)), 'w', 0o600);
      } catch {
        fd = null;
      }
      role = (process.argv[2] ?? 'node').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 16) || 'node';
    }
  }
  if (fd === null) return;
  const line = `${role} ${name.replace(/\s/g, '_').slice(0, 32)} ${process.hrtime.bigint()}`;
  try {
    fs.writeSync(fd, line.padEnd(RECORD - 1) + '\n', 0);
    at += fs.writeSync(fd, line + '\n', at);
  } catch {
    /* a full or removed directory must not change what the process does */
  }
}
