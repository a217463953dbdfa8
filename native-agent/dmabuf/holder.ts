/**
 * Test buffers that can never poison the target.
 *
 * External memory registered by a secondary stays in the target's shared
 * config after that process dies (an orphan every memseg walker crashes on,
 * dpdk-notes.md hazards 2-4). So a registration always has two processes:
 *
 *  - the holder: attached as a secondary, owns the buffer, registers it,
 *    publishes it in the shared table, and undoes all of it on every way it
 *    can end that runs code (normal end, SIGTERM/SIGINT/SIGHUP, uncaught
 *    errors, its primary or guardian going away);
 *  - the guardian: a second secondary started before the registration, with
 *    the buffer's fd inherited and mapped at the same address. It attaches
 *    to the registered memory (rte_extmem_attach / heap attach) and, when the
 *    holder dies without saying goodbye — SIGKILL, a crash — it unregisters
 *    the memory itself (possible because it is attached, hazard 4) and
 *    clears the table entry. It learns of the death from its stdin pipe
 *    closing, at once.
 *
 * Unregistering destroys the list's fbarray, which fails with EBUSY while
 * another process is attached: on a normal release the guardian detaches
 * first, then the holder unregisters, then tells the guardian it is done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { ErrorCode, MemscopeError } from '../../common/errors';
import type { TestBufferInfo } from '../../common/protocol';
import { libc } from '../native/libc';
import { untilGone } from '../procfs';
import { attachWithRetry } from '../reattach';
import { removeEndedSecondary, sweepDeadSecondaryFiles } from '../secondary';
import { Session } from '../session';
import { selfScript } from '../self';
import { stage } from '../stage';
import { type BufferBacking, createBuffer, mapAt, releaseBuffer, type TestBuffer } from './buffers';
import { Registry } from './registry';

export interface HoldSpec {
  prefix: string;
  size: number;
  pageSize: number;
  backing: BufferBacking;
  offset: number;
  heap: string | null;
  runtimeDirs: string[];
}

/** What a registration reports (the same type the agent server returns). */
export type HoldInfo = TestBufferInfo;

const CLI = selfScript();
const STEP_MS = 30_000;

/** MEMSCOPE_PROGRESS=1: one stderr line per step (tests use it to time faults). */
function progress(step: string): void {
  stage(step);
  if (process.env.MEMSCOPE_PROGRESS) process.stderr.write(`memscope-progress: ${step}\n`);
}

/** One JSON line at a time from a stream, each awaited with a timeout. */
class Lines {
  private queue: unknown[] = [];
  private waiters: ((v: unknown) => void)[] = [];
  private ended = false;
  constructor(stream: NodeJS.ReadableStream, onEnd: () => void) {
    const rl = readline.createInterface({ input: stream });
    rl.on('line', (l) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        return;
      }
      const w = this.waiters.shift();
      if (w) w(v);
      else this.queue.push(v);
    });
    rl.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
      onEnd();
    });
  }
  next(timeoutMs = STEP_MS): Promise<Record<string, unknown> | null> {
    if (this.queue.length) return Promise.resolve(this.queue.shift() as Record<string, unknown>);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      const done = (v: unknown) => {
        clearTimeout(t);
        resolve(v as Record<string, unknown> | null);
      };
      this.waiters.push(done);
    });
  }
}

/**
 * Marks every descriptor of this process close-on-exec but `keep`. EAL opens
 * its files (fbarrays, hugepages, the mp socket) without O_CLOEXEC: a
 * guardian started after the attach would inherit them, and with them this
 * holder's flocks and its mp socket, which then outlive a SIGKILLed holder
 * (the primary's hot-plug requests to that socket are neither answered nor
 * refused until they time out).
 */
function closeOnExec(keep: number): void {
  const F_SETFD = 2;
  const FD_CLOEXEC = 1;
  for (const name of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd > 2 && fd !== keep) libc().fcntlInt(fd, F_SETFD, FD_CLOEXEC);
  }
}

function send(child: ChildProcess, msg: object): void {
  if (child.stdin && !child.stdin.destroyed) child.stdin.write(JSON.stringify(msg) + '\n');
}

/** Waits for `p`, at most `ms` (the timer keeps the process alive meanwhile, then goes). */
async function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** rte_errno of an attach whose memseg list's array cannot be mapped at its address in the guardian (eal_get_virtual_area). */
const EADDRNOTAVAIL = 99;

export class Holder {
  private released: Promise<void> | null = null;

  private constructor(
    readonly info: HoldInfo,
    private readonly registry: Registry,
    private readonly buffer: TestBuffer,
    private readonly guardian: ChildProcess,
    private readonly fromGuardian: Lines,
    private guardianGone: boolean,
    /** Resolves once the guardian has been reaped (and its files deleted). */
    private readonly guardianExit: Promise<void>,
  ) {}

  /** Attaches, creates the buffer, starts the guardian, registers. */
  static async start(spec: HoldSpec, onGuardianLost: (why: string) => void): Promise<Holder> {
    const session = await attachWithRetry(() => Session.attach({ prefix: spec.prefix, runtimeDirs: spec.runtimeDirs, via: 'secondary', inProcess: true }));
    const registry = new Registry(session);
    progress('attached');
    const buffer = createBuffer(spec.size, spec.pageSize, spec.backing, spec.offset);
    progress('buffer');
    let guardian: ChildProcess | null = null;
    let h: Holder | null = null;
    let gone = false;
    const exits = new Map<ChildProcess, Promise<void>>();
    try {
      let reg: ReturnType<Registry['registerDmabuf']> | null = null;
      let lines: Lines | null = null;
      for (let round = 0; round < 2 && !reg; round++) {
        lines = null;
        // the guardian maps the buffer at the same address; a fresh process
        // may have something there already, so give it a few tries
        for (let attempt = 0; attempt < 3 && !lines; attempt++) {
          stage('guardian-start');
          closeOnExec(buffer.memfd ?? buffer.fd);
          // execArgv: a holder started in a target's root passes on how it reaches this script
          const g = spawn(process.execPath, [...process.execArgv, CLI, '__guard', JSON.stringify({ prefix: spec.prefix, runtimeDirs: spec.runtimeDirs, va: buffer.va.toString(), len: buffer.len, offset: buffer.offset, heap: spec.heap, holder: process.pid })], {
            stdio: ['pipe', 'pipe', 'inherit', buffer.memfd ?? buffer.fd],
            detached: true,
          });
          // a guardian that was killed cannot delete its fbarray copies and mp
          // socket. Its pipe closes before it is gone: the process that
          // closed it may still be exiting, so only its reaping counts
          exits.set(
            g,
            new Promise<void>((resolve) =>
              g.once('exit', () => {
                removeEndedSecondary(session.target.runtimeDir, g.pid!);
                resolve();
              }),
            ),
          );
          const l = new Lines(g.stdout!, () => {
            // only the guardian kept counts (one given up on has ended too)
            if (g !== guardian) return;
            gone = true;
            if (h) h.guardianGone = true;
            if (h && !h.released) onGuardianLost('the guardian of this test buffer ended');
          });
          const ready = await l.next();
          if (ready?.ready && (ready.mapped || spec.heap === null)) {
            guardian = g;
            lines = l;
          } else {
            g.kill('SIGKILL');
            if (attempt === 2) {
              throw new MemscopeError(ErrorCode.RegisterFailed, `the guardian could not ${ready?.ready ? 'map the buffer at its address' : `attach (${String(ready?.error ?? 'no answer')})`}: nothing was registered; try again.`);
            }
          }
        }
        progress('guardian');
        stage('intent');
        send(guardian!, { intent: true });
        if (!(await lines!.next())?.ack) throw new MemscopeError(ErrorCode.RegisterFailed, 'the guardian did not acknowledge: nothing was registered; try again.');
        reg = registry.registerDmabuf(
          { va: buffer.va, len: buffer.len, dmabufFd: buffer.fd, dmabufOffset: buffer.offset, iovaAddrs: null, nPages: buffer.len / buffer.pageSize, pageSz: buffer.pageSize },
          { kind: buffer.kind === 'memfd' ? 'memfd' : 'dmabuf', exporter: buffer.exporter ?? '', size: buffer.size, inode: buffer.inode },
          spec.heap,
        );
        progress('registered');
        stage('guardian-attach');
        send(guardian!, { registered: true });
        const att = await lines!.next();
        if (!att?.attached) {
          registry.unregister(buffer.va, buffer.len, spec.heap);
          // EADDRNOTAVAIL: the guardian has something of its own where the
          // holder's registration put the memseg list's array (each process
          // lays its address space out at random); registered again, it gets
          // another address, and a fresh guardian another layout
          if (round === 0 && att?.errno === EADDRNOTAVAIL && !gone) {
            const g = guardian!;
            guardian = null;
            send(g, { abort: true });
            g.stdin?.end();
            if (!(await untilGone(g.pid!, 2000))) g.kill('SIGKILL');
            stage('register-again');
            reg = null;
            continue;
          }
          throw new MemscopeError(ErrorCode.RegisterFailed, `the guardian could not attach to the registered memory (${String(att?.error ?? 'no answer')})${round > 0 ? ', twice' : ''}: the registration was undone; try again.`);
        }
      }
      if (!reg) throw new MemscopeError(ErrorCode.RegisterFailed, 'the registration did not complete: nothing is registered; try again.');
      h = new Holder(
        {
          prefix: spec.prefix,
          va: '0x' + buffer.va.toString(16),
          len: buffer.len,
          mslIndex: reg.mslIndex,
          socketId: reg.socketId,
          fd: buffer.fd,
          offset: buffer.offset,
          pageSize: buffer.pageSize,
          backing: buffer.label,
          kind: buffer.kind,
          exporter: buffer.exporter,
          heap: spec.heap,
          via: reg.via,
          holderPid: process.pid,
          guardianPid: guardian!.pid!,
        },
        registry,
        buffer,
        guardian!,
        lines!,
        gone,
        exits.get(guardian!)!,
      );
      session.onPrimaryExit(() => onGuardianLost('the primary has exited'));
      stage('holding');
      return h;
    } catch (e) {
      if (guardian) {
        send(guardian, { abort: true });
        guardian.stdin?.end();
        // this process ends right after: wait for the guardian's reaping (its
        // exit handler deletes what a killed one left; one that ends now deletes its own)
        await within(exits.get(guardian)!, 2000);
      }
      releaseBuffer(buffer);
      throw e;
    }
  }

  /** Undoes the registration (once): guardian detaches, holder unregisters, guardian leaves. */
  release(): Promise<void> {
    this.released ??= (async () => {
      stage('release');
      if (!this.guardianGone) {
        send(this.guardian, { release: true });
        await this.fromGuardian.next(5000);
      }
      try {
        this.registry.unregister(this.buffer.va, this.buffer.len, this.info.heap);
      } finally {
        send(this.guardian, { done: true });
        this.guardian.stdin?.end();
        releaseBuffer(this.buffer);
        // a guardian that was killed cannot delete its files, and this process
        // ends right after this: wait for its reaping (which deletes them)
        if (this.guardianGone) await within(this.guardianExit, 2000);
        stage('released');
      }
    })();
    return this.released;
  }
}

/**
 * `memscope __guard SPEC`: the guardian. Its stdin is the holder's pipe;
 * fd 3 is the buffer. Output: one JSON line per step.
 */
export async function runGuardian(specJson: string): Promise<number> {
  const spec = JSON.parse(specJson) as { prefix: string; runtimeDirs: string[]; va: string; len: number; offset: number; heap: string | null; holder?: number };
  const va = BigInt(spec.va);
  const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  // map first, before EAL reserves its ranges: the holder's address must be free here
  stage('map');
  const mapped = mapAt(3, va, spec.len, spec.offset);
  let registry: Registry;
  try {
    const session = await attachWithRetry(() => Session.attach({ prefix: spec.prefix, runtimeDirs: spec.runtimeDirs, via: 'secondary', inProcess: true }));
    registry = new Registry(session);
  } catch (e) {
    say({ ready: false, error: (e as Error).message });
    return 1;
  }
  say({ ready: true, mapped });
  stage('ready');
  let state: 'idle' | 'intent' | 'attached' | 'released' = 'idle';
  const heap = spec.heap;
  const ops = registry.ops;
  const attach = () => (heap !== null ? ops.heapAttach(heap, va, spec.len) : ops.extmemAttach(va, spec.len));
  const detach = () => (heap !== null ? ops.heapDetach(heap, va, spec.len) : ops.extmemDetach(va, spec.len));

  const heapNamed = (name: string) => registry.session.memConfig().heaps.find((h) => h.name === name);
  /** A heap of the registration's name existed before the holder's intent: never the holder's to destroy. */
  let heapWasThere = true;

  /** The holder is gone: undo whatever it left registered. */
  const cleanup = (): number => {
    stage('cleanup');
    if (state === 'idle') return 0;
    const list = registry.session.memConfig().lists.find((l) => l.external && l.baseVa === va && l.len === spec.len);
    if (!list) {
      // a holder that died between creating its heap and adding memory to
      // it, or between removing the memory and destroying the heap, left the
      // heap empty: finish. Only a heap that did not exist when the holder
      // said what it would do is the holder's (rte_malloc_heap_destroy
      // refuses one that has memory)
      if (heap !== null && !heapWasThere && heapNamed(heap)?.totalSize === 0) ops.heapDestroy(heap);
      return 0;
    }
    if (state !== 'attached') attach();
    if (heap !== null && !mapped) {
      process.stderr.write(`memscope guardian: the holder died; heap "${heap}" cannot be removed safely because its memory is not mapped here: restart the primary.\n`);
      return 1;
    }
    try {
      registry.unregister(va, spec.len, heap);
      return 0;
    } catch (e) {
      process.stderr.write(`memscope guardian: ${(e as Error).message}\n`);
      return 1;
    }
  };

  return new Promise<number>((resolve) => {
    const rl = readline.createInterface({ input: process.stdin });
    let finished = false;
    rl.on('line', (line) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line);
      } catch {
        return;
      }
      if (m.intent) {
        stage('intent');
        // before the holder creates it (it waits for the ack)
        heapWasThere = heap === null || heapNamed(heap) !== undefined;
        state = 'intent';
        say({ ack: true });
      } else if (m.registered) {
        stage(heap !== null ? 'heap-attach' : 'extmem-attach');
        const r = attach();
        if (r.rc < 0) say({ attached: false, errno: r.errno, error: `attach failed (errno ${r.errno})` });
        else {
          state = 'attached';
          say({ attached: true });
        }
        stage('attached-memory');
      } else if (m.release) {
        stage(heap !== null ? 'heap-detach' : 'extmem-detach');
        if (state === 'attached') detach();
        stage('detached');
        state = 'released';
        say({ detached: true });
      } else if (m.done || m.abort) {
        finished = true;
        state = 'idle';
        rl.close();
      }
    });
    rl.on('close', async () => {
      const code = finished ? 0 : cleanup();
      // the holder ends right after it lets go of us, or it was killed: once
      // it is gone, delete what a killed one left (its fbarray copies, mp
      // socket and EAL log; a holder that ended well deleted its own)
      const holder = Number.isSafeInteger(spec.holder) && spec.holder! > 1 ? spec.holder! : null;
      const holderGone = holder !== null && (await untilGone(holder, 2000));
      sweepDeadSecondaryFiles(registry.session.target.runtimeDir);
      if (holderGone) removeEndedSecondary(null, holder!);
      resolve(code);
    });
  });
}
