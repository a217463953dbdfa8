/**
 * The CLI's register / unregister / repair, and the background holder
 * (`memscope __hold`) that keeps a registration alive after `register`
 * returns. Shared by the CLI and the agent server.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ErrorCode, MemscopeError } from '../../common/errors';
import { findTarget } from '../discovery';
import { isAlive, readCmdline } from '../procfs';
import { Session } from '../session';
import { attachWithRetry } from '../reattach';
import { inRootCommand, removeEndedSecondary } from '../secondary';
import { selfScript } from '../self';
import { PAGE_SIZES, parseSize } from '../../common/units';
import type { BufferBacking } from './buffers';
import { type HoldInfo, type HoldSpec, Holder } from './holder';
import { readTable, Registry } from './registry';

const CLI = selfScript();

export { registerWarning as REGISTER_WARNING } from '../../common/messages';

export function holdSpecFrom(o: { prefix: string; size?: string; pageSize?: string; backing?: string; dmabufOffset?: string; heap?: string; runtimeDirs?: string[] }): HoldSpec {
  const size = parseSize(o.size ?? '');
  if (size === null) throw new MemscopeError(ErrorCode.BadArguments, `--size "${o.size ?? ''}" is not a size: use bytes or a unit, e.g. 64M or 1G.`);
  const pageSize = PAGE_SIZES[(o.pageSize ?? '4K').toUpperCase()];
  if (!pageSize) throw new MemscopeError(ErrorCode.BadArguments, `--page-size "${o.pageSize}" is not 4K, 2M or 1G: pick one.`);
  const backing = (o.backing ?? 'auto') as BufferBacking;
  if (!['auto', 'udmabuf', 'dma-heap', 'memfd'].includes(backing)) throw new MemscopeError(ErrorCode.BadArguments, `--backing "${backing}" is not auto, udmabuf, dma-heap or memfd: pick one.`);
  const offset = o.dmabufOffset === undefined ? 0 : parseSize(o.dmabufOffset) ?? (o.dmabufOffset === '0' ? 0 : NaN);
  if (!Number.isSafeInteger(offset)) throw new MemscopeError(ErrorCode.BadArguments, `--dmabuf-offset "${o.dmabufOffset}" is not a size: use bytes or a unit, e.g. 2M.`);
  const heap = o.heap ?? null;
  if (heap !== null && !/^[A-Za-z0-9_.-]{1,31}$/.test(heap)) throw new MemscopeError(ErrorCode.BadArguments, `--heap "${heap.slice(0, 40)}" is not a heap name: use at most 31 letters, digits, '_', '.' or '-'.`);
  return { prefix: o.prefix, size, pageSize, backing, offset, heap, runtimeDirs: o.runtimeDirs ?? [] };
}

/**
 * Starts a background holder and returns what it registered. The holder and
 * its guardian outlive this call; `unregister` (or the primary's exit) ends them.
 */
/**
 * How to run this CLI for a target: here, or in the target's own root (a
 * chroot's DPDK needs that root's libraries), where its runtime dir is the
 * one the primary sees.
 */
function cliFor(prefix: string, runtimeDirs: string[]): { cmd: string; args: string[]; runtimeDirs: string[]; env: NodeJS.ProcessEnv } {
  let t: ReturnType<typeof findTarget> | null = null;
  try {
    t = findTarget(prefix, { runtimeDirs });
  } catch {
    /* the command itself says why */
  }
  if (!t?.root) return { cmd: process.execPath, args: [CLI], runtimeDirs, env: process.env };
  return { ...inRootCommand(t.root, prefix), runtimeDirs: [path.dirname(t.runtimeDirInRoot)] };
}

export function registerInBackground(spec: HoldSpec, timeoutMs = 60_000): Promise<HoldInfo> {
  return new Promise((resolve, reject) => {
    const run = cliFor(spec.prefix, spec.runtimeDirs);
    const child = spawn(run.cmd, [...run.args, '__hold', JSON.stringify({ ...spec, runtimeDirs: run.runtimeDirs })], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: run.env });
    let out = '';
    let errText = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new MemscopeError(ErrorCode.RegisterFailed, `the holder did not report within ${timeoutMs} ms: it was asked to stop; check \`memscope snapshot\` for a leftover registration.`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (errText += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const msg = JSON.parse(out.slice(0, nl)) as { ok: boolean; info?: HoldInfo; error?: { code: ErrorCode; message: string } };
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (msg.ok && msg.info) resolve(msg.info);
      else reject(new MemscopeError(msg.error?.code ?? ErrorCode.RegisterFailed, msg.error?.message ?? 'the holder failed.'));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // a holder that died before it reported (SIGKILLed inside its attach,
      // say) cannot delete its fbarray copies, mp socket and EAL log: we do
      if (!out.includes('\n') && child.pid !== undefined) removeDeadHolderFiles(spec, child.pid);
      if (!out.includes('\n')) reject(new MemscopeError(ErrorCode.RegisterFailed, `the holder ended (${code}) before registering: ${errText.trim().split('\n').pop() ?? 'no message'}.`));
    });
  });
}

function removeDeadHolderFiles(spec: HoldSpec, pid: number): void {
  let t: ReturnType<typeof findTarget> | null = null;
  try {
    t = findTarget(spec.prefix, { runtimeDirs: spec.runtimeDirs });
  } catch {
    /* the target is gone: so are its files */
  }
  removeEndedSecondary(t?.runtimeDir ?? null, pid, false, t?.root ?? null);
}

/** `memscope __hold SPEC`: a holder in the background, reporting once on stdout. */
export async function runHolder(specJson: string, foreground: ((info: HoldInfo) => void) | null = null): Promise<number> {
  const spec = JSON.parse(specJson) as HoldSpec;
  const report = (o: object) => {
    try {
      process.stdout.write(JSON.stringify(o) + '\n');
    } catch {
      /* the caller went away */
    }
  };
  let holder: Holder;
  let stop: (why: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => (stop = resolve));
  // handlers first: a signal that arrives while registering is answered once registered
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  process.on('uncaughtException', (e) => stop(`uncaught error: ${e.message}`));
  try {
    holder = await Holder.start(spec, (why) => stop(why));
  } catch (e) {
    const me = e instanceof MemscopeError ? e : new MemscopeError(ErrorCode.RegisterFailed, (e as Error).message);
    report({ ok: false, error: me.toJSON() });
    return me.exitCode;
  }
  if (foreground) foreground(holder.info);
  else report({ ok: true, info: holder.info });
  const why = await ended;
  try {
    await holder.release();
    if (foreground) process.stderr.write(`memscope: test buffer at ${holder.info.va} unregistered (${why}).\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`memscope: releasing the test buffer failed (${(e as Error).message}); its guardian will retry when this process ends.\n`);
    return 1;
  }
}

function isHolder(pid: number): boolean {
  const argv = readCmdline(pid);
  return !!argv && argv.some((a) => a === '__hold' || a === 'register');
}

/** Asks the holder of a registration to undo it, and waits until it has. */
export async function unregister(prefix: string, va: bigint, runtimeDirs: string[] = [], timeoutMs = 10_000, attached?: Session): Promise<{ ownerPid: number }> {
  const session = attached ?? (await attachWithRetry(() => Session.attach({ prefix, runtimeDirs, via: 'auto' })));
  const entry = [...readTable(session).values()].find((e) => e.baseVa === va);
  const list = session.memConfig().lists.find((l) => l.external && l.baseVa === va);
  if (!entry) {
    if (list) throw new MemscopeError(ErrorCode.NotRegistered, `the memory at 0x${va.toString(16)} was not registered by Memscope: unregister it with the tool that registered it (or \`memscope repair\` if its owner is gone).`);
    throw new MemscopeError(ErrorCode.NotRegistered, `nothing is registered at 0x${va.toString(16)} in "${prefix}": see \`memscope snapshot\` for external memory.`);
  }
  if (!entry.ownerAlive || !isAlive(entry.ownerPid)) {
    throw new MemscopeError(ErrorCode.OrphanedList, `the holder (pid ${entry.ownerPid}) of 0x${va.toString(16)} is gone: run \`memscope repair --file-prefix ${prefix} --yes\`.`);
  }
  if (!isHolder(entry.ownerPid)) {
    throw new MemscopeError(ErrorCode.Permission, `0x${va.toString(16)} is held by pid ${entry.ownerPid}, which is not a Memscope holder: unregister it from that process.`);
  }
  process.kill(entry.ownerPid, 'SIGTERM');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    const still = session.memConfig().lists.some((l) => l.external && l.baseVa === va);
    if (!still && !readTable(session).has(entry.mslIndex)) return { ownerPid: entry.ownerPid };
  }
  throw new MemscopeError(ErrorCode.RegisterBusy, `the holder (pid ${entry.ownerPid}) did not unregister 0x${va.toString(16)} within ${timeoutMs} ms: check it, or end it (its guardian then cleans up).`);
}

export interface RepairResult {
  repaired: { index: number; baseVa: string }[];
  unrepairable: { index: number; baseVa: string; why: string }[];
  staleEntries: number[];
}

/**
 * Removes orphaned external lists whose fbarray file still exists (attach,
 * then unregister: hazard 4), and table entries of dead owners.
 */
export async function repair(prefix: string, runtimeDirs: string[] = []): Promise<RepairResult> {
  const t = findTarget(prefix, { runtimeDirs });
  if (t.root) return repairInRoot(prefix, runtimeDirs);
  const session = await attachWithRetry(() => Session.attach({ prefix, runtimeDirs, via: 'secondary', inProcess: true }));
  const registry = new Registry(session);
  const snap = session.snapshot();
  const res: RepairResult = { repaired: [], unrepairable: [], staleEntries: [] };
  for (const l of snap.memsegLists.filter((x) => x.state === 'orphaned')) {
    const va = BigInt(l.baseVa);
    if (l.heap) {
      res.unrepairable.push({ index: l.index, baseVa: l.baseVa, why: 'it belongs to a malloc heap whose memory died with its owner; only a restart of the primary clears it' });
      continue;
    }
    const a = registry.ops.extmemAttach(va, l.len);
    if (a.rc < 0) {
      res.unrepairable.push({ index: l.index, baseVa: l.baseVa, why: 'its fbarray file is gone; only a restart of the primary clears it' });
      continue;
    }
    const u = registry.ops.extmemUnregister(va, l.len);
    if (u.rc < 0) res.unrepairable.push({ index: l.index, baseVa: l.baseVa, why: `rte_extmem_unregister failed (errno ${u.errno}); a restart of the primary clears it` });
    else res.repaired.push({ index: l.index, baseVa: l.baseVa });
  }
  for (const [i, e] of readTable(session)) {
    if (!e.ownerAlive) {
      registry.clearSlot(i);
      res.staleEntries.push(i);
    }
  }
  return res;
}

/** `memscope repair` run in the target's root (it attaches as a secondary, which needs that root's DPDK). */
function repairInRoot(prefix: string, runtimeDirs: string[]): Promise<RepairResult> {
  const run = cliFor(prefix, runtimeDirs);
  return new Promise((resolve, reject) => {
    const child = spawn(run.cmd, [...run.args, 'repair', '--file-prefix', prefix, '--yes', '--json', ...run.runtimeDirs.flatMap((d) => ['--runtime-dir', d])], { stdio: ['ignore', 'pipe', 'pipe'], env: run.env });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new MemscopeError(ErrorCode.AttachFailed, `could not run repair in the target's root (${e.message}).`)));
    child.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as RepairResult);
      } catch {
        const last = err.trim().split('\n').pop()?.replace(/^memscope: /, '') ?? 'no message';
        reject(new MemscopeError(ErrorCode.AttachFailed, `repair in the target's root failed: ${last}`));
      }
    });
  });
}
