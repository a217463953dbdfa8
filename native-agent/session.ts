/**
 * One attached target: pre-flight, rte_eal_init as a secondary, layout
 * self-check, snapshots, and a watch on the primary's life. A process can
 * attach once (EAL's rule); detaching is ending the process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkInputs } from '../common/checks';
import { ErrorCode, MemscopeError } from '../common/errors';
import type { Snapshot, TargetInfo } from '../common/snapshot';
import { findTarget, type TargetSummary } from './discovery';
import { decodeVersion, type Layout, layoutFor, supportedReleases } from './dpdk/layout';
import { decodeMemConfig, type MemConfig } from './dpdk/memconfig';
import { agentVersionWord, type EalLib, type EalLog, loadEal, preloadPlugins, redirectEalLog } from './eal';
import { lockedSnapshot } from './locking-reader';
import { flockShared, reserveRange, toPtr, unlockFlock } from './native/libc';
import { fixedRanges, releaseEarly, takeEarly } from './early-reserve';
import { EalOps } from './dmabuf/eal-ops';
import { VmReader } from './native/vm';
import { isDmabufPath } from './backing';
import { leaveMpGroup, MP_GRACE_MS, removeSecondaryFiles, sweepDeadSecondaryFiles } from './secondary';
import { isAlive, parseCpuList, processState, readCmdline, readMaps, selfCpus, startTime } from './procfs';
import { readConfig } from './discovery';
import { readMemConfig, readMemzones, type ReaderContext, takeSnapshot } from './reader';
import { stage } from './stage';

export interface AttachOptions {
  prefix: string;
  runtimeDirs?: string[];
  dpdkLib?: string | null;
  timeoutMs?: number;
  allowLockingReads?: boolean;
  /**
   * 'locking' reads through DPDK's own (locking) calls even when the layout
   * check passes: an explicit opt-in, used to compare both ways of reading.
   */
  readMethod?: 'auto' | 'locking';
  /**
   * How to reach the target's memory. 'secondary': attach as a DPDK
   * secondary (rte_eal_init) and read it in this process. 'peek': no attach
   * at all; read the live primary's own address space with process_vm_readv
   * (needs ptrace rights over it). 'auto': peek when it can, else secondary.
   */
  via?: Access | 'auto';
  ealLogFile?: string;
  extraEalArgs?: string[];
  /** A preloadPlugins() already under way (the CLI starts it before loading the rest). */
  warm?: Promise<void>;
  /** The target, when the caller already looked it up. */
  found?: TargetSummary;
  /**
   * Run rte_eal_init in this process (the secondary helper, holders,
   * guardians, locking reads). Otherwise a secondary attach is made by a
   * helper process (secondary.ts) and read through its mappings.
   */
  inProcess?: boolean;
}

export type Access = 'secondary' | 'peek';

let attachedOnce = false;
/** The runtime dir this process attached to in-process (its own files live there). */
let ownRuntimeDir: string | null = null;
/** The EAL log this process chose itself (none was asked for): deleted with the files above. */
let ownLog: string | null = null;

/**
 * Deletes the files this process's secondary attach created in the target's
 * runtime dir (fbarray copies, mp socket) and its own EAL log: a
 * detach-by-exit never removes them. It leaves the mp group first
 * (leaveGroup). Call right before the process ends.
 */
export function removeOwnSecondaryFiles(): void {
  if (ownLog !== null) fs.rmSync(ownLog, { force: true });
  ownLog = null;
  if (ownRuntimeDir === null) return;
  leaveGroup(ownRuntimeDir);
  removeSecondaryFiles(ownRuntimeDir, process.pid);
  ownRuntimeDir = null;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Leaves the multi-process group right before this process ends: under the
 * hot-plug lock when it can (leaveLocked), else by deleting its mp socket
 * and waiting MP_GRACE_MS while EAL's mp thread answers requests already
 * under way. A secondary that vanished with a hot-plug free unsynced would
 * keep its lock on those pages' files, so nobody unlinks them and the
 * primary's freed hugepages stay allocated.
 */
export function leaveGroup(runtimeDir: string): void {
  if (!leaveLocked() && leaveMpGroup(runtimeDir, process.pid)) sleepSync(MP_GRACE_MS);
}

/** Set by a secondary attach in this process: leaves the mp group under DPDK's hot-plug lock. */
let leaver: (() => boolean) | null = null;

/**
 * Leaves the multi-process group between two hot-plugs, where nothing can be
 * lost: under DPDK's memory hot-plug lock taken for reading
 * (rte_mcfg_mem_read_lock, which the primary holds for writing through every
 * allocation or free of pages and the syncs that go with it), deletes this
 * process's mp socket and unlocks and closes its descriptors of the prefix's
 * page files, so a page the primary frees later is one it can
 * unlink (a secondary that ends holding a lock on a freed page's file
 * leaves that file, and its hugepage, to nobody). The mappings stay until
 * the process ends; nothing is unmapped. Taken once the lock word is free
 * (a hot-plug under way is waited for, up to LEAVE_WAIT_MS; a writer that
 * takes it after the check finishes its hot-plug in milliseconds, one wedged
 * would wedge this process): false when not taken. Once, at the end.
 */
function leaveLocked(): boolean {
  const l = leaver;
  leaver = null;
  return l !== null && l();
}

/** How long a leaving secondary waits for a hot-plug under way to end before it leaves without the lock. */
const LEAVE_WAIT_MS = 2000;

function makeLeaver(eal: EalLib, L: Layout, mcfgAddr: number, self: VmReader, runtimeDir: string, prefix: string): () => boolean {
  const readLock = eal.lib.func('void rte_mcfg_mem_read_lock()');
  const readUnlock = eal.lib.func('void rte_mcfg_mem_read_unlock()');
  const word = mcfgAddr + L.memConfig.memoryHotplugLock;
  const free = () => self.read(word, 4)?.readInt32LE(0) === 0;
  return () => {
    // a hot-plug under way (its syncs included) ends in milliseconds: wait
    // for the word to be free once, then take the lock at once (a primary's
    // grow takes and drops it twice, alloc then free: a second look after
    // the wait could find the free's hold and give up)
    stage('leave-wait');
    const end = performance.now() + LEAVE_WAIT_MS;
    while (!free()) {
      if (performance.now() > end) {
        stage('leave-busy');
        return false;
      }
      sleepSync(1);
    }
    stage('leave-locked');
    readLock();
    try {
      leaveMpGroup(runtimeDir, process.pid);
      closePageFiles(prefix);
    } finally {
      readUnlock();
      stage('left');
    }
    return true;
  };
}

/** Unlocks and closes this process's descriptors of the prefix's hugepage files (EAL's segment fds; the mappings stay). */
function closePageFiles(prefix: string): void {
  const page = `${prefix}map_`;
  let fds: string[] = [];
  try {
    fds = fs.readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  for (const n of fds) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${n}`);
    } catch {
      continue;
    }
    if (path.basename(target).startsWith(page)) {
      try {
        // the page stays mapped, which keeps the open file (and its lock) alive past the close
        unlockFlock(Number(n));
        fs.closeSync(Number(n));
      } catch {
        /* closed meanwhile */
      }
    }
  }
}
/** Whether this process's fd is a dma-buf. */
function isDmabufFd(fd: number): boolean {
  try {
    return isDmabufPath(fs.readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    return false;
  }
}

/** Set when rte_eal_init never returned: the process must end. */
export let ealWedged = false;

const MAX_LCORE = 128;

/** Lcores the primary's command line claims (-l, -c, --lcores), best effort. */
export function primaryLcores(argv: string[] | null): Set<number> {
  const used = new Set<number>();
  if (!argv) return used;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let v: string | undefined;
    if (a === '-l' || a === '--lcores' || a === '-c') v = argv[i + 1];
    else if (a.startsWith('--lcores=')) v = a.slice(9);
    else if (a.startsWith('-l') && a.length > 2) v = a.slice(2);
    if (!v) continue;
    if (a === '-c') {
      const hexDigits = v.replace(/^0[xX]/, '');
      if (!/^[0-9a-fA-F]{1,32}$/.test(hexDigits)) continue;
      const mask = BigInt('0x' + hexDigits);
      for (let b = 0; b < MAX_LCORE; b++) if ((mask >> BigInt(b)) & 1n) used.add(b);
      continue;
    }
    // "--lcores=1@(0-1),2" and "-l 0-3,5": keep the lcore ids (left of '@')
    for (const group of v.replace(/\(([^)]*)\)/g, (_m, g: string) => g.replace(/,/g, ';')).split(',')) {
      const id = group.split('@')[0]!.replace(/;/g, ',');
      for (const n of parseCpuList(id.replace(/[()]/g, ''))) used.add(n);
    }
  }
  return used;
}

export function pickLcore(used: Set<number>): number {
  for (let id = MAX_LCORE - 1; id > 0; id--) if (!used.has(id)) return id;
  return MAX_LCORE - 1;
}

export class Session {
  private readonly owners = new Map<number, VmReader>();
  private readonly exitHandlers: ((why: string) => void)[] = [];
  private readonly stateHandlers: ((stopped: boolean, why: string) => void)[] = [];
  private stopped = false;
  private watch: NodeJS.Timeout | undefined;
  private primaryStart: number | null;
  private ctx: ReaderContext;
  private lostWhy: string | null = null;
  readonly attachMs: number;
  /** The seed's unlocked getter as the loaded librte_eal spells it, or null when it carries none. */
  readonly dmabufGetter: string | null;
  /** The process that holds the secondary attach, when a helper made it. */
  helper: import('./secondary').SecondaryHelper | null = null;

  private constructor(
    readonly target: TargetSummary,
    /** null when peeking: no EAL in this process. */
    readonly eal: EalLib | null,
    readonly L: Layout,
    readonly log: EalLog | null,
    readonly mcfgAddr: number,
    readonly lockFree: boolean,
    /** The lcore id the agent took, or null when peeking. */
    readonly lcore: number | null,
    readonly access: Access,
    shared: VmReader,
    attachMs: number,
  ) {
    this.attachMs = attachMs;
    this.primaryStart = target.pid !== null ? startTime(target.pid) : null;
    const native = eal ? new EalOps(eal, L).native : null;
    this.dmabufGetter = native?.getter ?? null;
    this.ctx = {
      L,
      shared,
      ...(native
        ? {
            nativeDmabuf: (i: number) => {
              const msl = toPtr(BigInt(mcfgAddr + L.memConfig.memsegs + i * L.memsegList.size));
              const off = new BigUint64Array(1);
              const fd = native.getFdThreadUnsafe(msl);
              // a carrier of the seed answers 0 for a list never given a
              // dma-buf: fd 0 counts only when it is a dma-buf here
              const real = fd > 0 || (fd === 0 && isDmabufFd(0));
              return real && native.getOffsetThreadUnsafe(msl, off) === 0 ? { fd, offset: Number(off[0]) } : null;
            },
          }
        : {}),
      mcfgAddr,
      runtimeDir: target.runtimeDir,
      target: () => this.targetInfo(),
      readerFor: (pid) => {
        let r = this.owners.get(pid);
        if (!r) {
          r = new VmReader(pid);
          this.owners.set(pid, r);
        }
        return r;
      },
    };
  }

  static async attach(opts: AttachOptions): Promise<Session> {
    try {
      return await Session.attachOnce(opts);
    } finally {
      releaseEarly();
    }
  }

  private static async attachOnce(opts: AttachOptions): Promise<Session> {
    const t0 = performance.now();
    // the front doors (CLI, JSON-RPC) checked these already; nothing gets past unchecked
    checkInputs('cli', { filePrefix: opts.prefix, runtimeDir: opts.runtimeDirs ?? [], dpdkLib: opts.dpdkLib, ealLog: opts.ealLogFile });
    checkExtraArgs(opts.extraEalArgs ?? []);
    const target = opts.found ?? findTarget(opts.prefix, { runtimeDirs: opts.runtimeDirs ?? [], agentVersionWord: (so) => agentVersionWord(opts.dpdkLib, [so]) });
    if (!target.attachable) {
      throw new MemscopeError(target.reasonCode ?? ErrorCode.NotAttachable, target.reason ?? `prefix "${opts.prefix}" cannot be attached.`);
    }
    const via = opts.via ?? 'secondary';
    if (via !== 'secondary' && opts.readMethod !== 'locking') {
      const peeked = Session.peek(target, t0, via === 'peek');
      if (peeked) return peeked;
    }
    if (!opts.inProcess && opts.readMethod !== 'locking') {
      try {
        return await Session.viaHelper(target, opts, t0);
      } catch (e) {
        // a layout this build cannot verify: only DPDK's own (locking) calls
        // can read it, and only in this process
        if (!(e instanceof MemscopeError && e.code === ErrorCode.LayoutUnverified && opts.allowLockingReads)) throw e;
      }
    }
    if (target.root) {
      throw new MemscopeError(
        ErrorCode.SecondaryUnavailable,
        `prefix "${opts.prefix}" runs in another root (${target.root.label}), whose DPDK this process cannot load (it needs that root's own libraries), so DPDK's locking calls cannot be made from here: read it lock-free (--via peek or secondary).`,
      );
    }
    if (attachedOnce) {
      throw new MemscopeError(ErrorCode.AlreadyAttached, 'this agent is already attached as a secondary (EAL allows one attach per process): start another agent for another target.');
    }
    stage('preflight');
    const libPath = opts.dpdkLib ?? (target.ealLibrary && !target.ealLibrary.endsWith(' (deleted)') ? target.ealLibrary : null);
    const warm = opts.warm ?? preloadPlugins(libPath);
    const eal = loadEal(libPath);
    if (target.versionWord !== null && eal.versionWord !== target.versionWord) {
      throw new MemscopeError(
        ErrorCode.VersionMismatch,
        `prefix "${opts.prefix}" runs DPDK ${decodeVersion(target.versionWord).text} but the agent loaded DPDK ${eal.version} from ${eal.path}: point memscope.dpdkLibraryPath (--dpdk-lib) at the primary's librte_eal.so.`,
      );
    }
    const L = layoutFor(eal.versionWord);
    if (!L) {
      throw new MemscopeError(ErrorCode.VersionMismatch, `DPDK ${eal.version}'s private memory layout is unknown to this Memscope (it reads DPDK ${supportedReleases()}): use a release that supports it.`);
    }
    const { cfg } = readConfig(`${target.runtimeDir}/config`);
    if (!cfg) throw new MemscopeError(ErrorCode.NotAttachable, `the shared config of "${opts.prefix}" could not be decoded: is the primary still starting? Try again.`);
    const release = preflightAddresses(cfg, L);
    try {
      await preflightHotplugLock(target, L);
    } catch (e) {
      release();
      throw e;
    }

    const argv = target.pid !== null ? readCmdline(target.pid) : null;
    const lcore = pickLcore(primaryLcores(argv));
    const cpus = selfCpus();
    const args = [
      'memscope-agent',
      '--proc-type=secondary',
      `--file-prefix=${opts.prefix}`,
      '--no-pci',
      `--lcores=${lcore}@(${cpus.join(',')})`,
      '--log-level=lib.eal:notice',
      ...(opts.extraEalArgs ?? []),
    ];
    try {
      await warm;
    } finally {
      // hand the ranges to EAL
      release();
    }
    // At the end of its init, EAL deletes every fbarray file of the runtime
    // dir that no process holds: an orphaned external list's included, which
    // would turn an orphan that `memscope repair` can still remove into one
    // only a restart clears (hazard 3). Hold them until init is done.
    const guarded = guardFbarrays(target.runtimeDir, cfg);
    const log = redirectEalLog(eal, opts.ealLogFile);
    if (!opts.ealLogFile) ownLog = log.path;
    attachedOnce = true;
    sweepDeadSecondaryFiles(target.runtimeDir);
    ownRuntimeDir = target.runtimeDir;
    process.once('exit', removeOwnSecondaryFiles);
    const timeoutMs = opts.timeoutMs ?? 15000;
    let timer: NodeJS.Timeout | undefined;
    let rc: number;
    stage('eal-init');
    try {
      rc = await Promise.race([
        eal.init(args),
        new Promise<number>((_, reject) => {
          timer = setTimeout(() => {
            ealWedged = true;
            reject(
              new MemscopeError(
                ErrorCode.AttachTimeout,
                `attaching to "${opts.prefix}" did not finish within ${timeoutMs} ms (EAL is waiting on the primary${log.lastError() ? `: ${log.lastError()}` : ''}); the agent ends now, and the primary may hold a lock left by a process that died: check it, restart it if it is wedged.`,
                log.tail(),
              ),
            );
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      for (const fd of guarded) fs.closeSync(fd);
    }
    stage(rc < 0 ? 'eal-init-failed' : 'eal-init-done');
    if (rc < 0) {
      const why = log.lastError();
      throw new MemscopeError(
        ErrorCode.AttachFailed,
        `rte_eal_init failed to attach to "${opts.prefix}"${why ? ` (${why.replace(/^EAL:\s*/, '')})` : ''}: see the agent log, and check that the primary is healthy and the prefix right.`,
        log.tail(),
      );
    }
    // rte_eal_init of a secondary allocates the service library's tables
    // (~156 KiB) from the primary's shared heap, and only rte_eal_cleanup
    // frees them, which a tool that detaches by exiting never calls: each
    // attach would leak them in the target. Free them now; we run no services.
    stage('service-finalize');
    eal.lib.func('void rte_service_finalize()')();
    stage('layout-check');
    const mcfgAddr = Number(cfg.memCfgAddr);
    const self = new VmReader(process.pid);
    const mem = self.read(mcfgAddr, L.memConfig.size);
    if (!mem || mem.readUInt32LE(0) !== cfg.magic || mem.readUInt32LE(4) !== cfg.version) {
      throw new MemscopeError(ErrorCode.LayoutUnverified, `after attaching, the shared config is not at ${cfg.memCfgAddr.toString(16)} where its header says: this DPDK build differs from the one Memscope knows; use --allow-locking-reads to read through DPDK's own calls.`);
    }
    checkBuild(decodeMemConfig(L, mem, cfg.memCfgAddr), L, self, eal.version);
    const check = verifyLayout(decodeMemConfig(L, mem, cfg.memCfgAddr), L, self);
    let lockFree: boolean = opts.readMethod !== 'locking';
    if (check) {
      if (!opts.allowLockingReads) {
        throw new MemscopeError(
          ErrorCode.LayoutUnverified,
          `the private memory layout of this DPDK ${eal.version} build failed a self-check (${check}), so lock-free reads could be wrong: rerun with --allow-locking-reads (memscope.allowLockingReads) to read through DPDK's locking calls.`,
        );
      }
      lockFree = false;
    }
    leaver = makeLeaver(eal, L, mcfgAddr, self, target.runtimeDir, target.filePrefix);
    stage('attached');
    return new Session(target, eal, L, log, mcfgAddr, lockFree, lcore, 'secondary', self, performance.now() - t0);
  }

  /** A secondary attach made by a helper process, read through its mappings. */
  private static async viaHelper(target: TargetSummary, opts: AttachOptions, t0: number): Promise<Session> {
    if (target.versionWord === null) throw new MemscopeError(ErrorCode.NotAttachable, `the DPDK version of "${opts.prefix}" is unknown: is the primary still starting? Try again.`);
    const L = layoutFor(target.versionWord);
    if (!L) throw new MemscopeError(ErrorCode.VersionMismatch, `DPDK ${decodeVersion(target.versionWord).text}'s private memory layout is unknown to this Memscope (it reads DPDK ${supportedReleases()}): use a release that supports it.`);
    checkExtraArgs(opts.extraEalArgs ?? []);
    const { SecondaryHelper } = await import('./secondary');
    // a target in another root gets its helper started there, where paths are the primary's
    const root = target.root;
    const helper = await SecondaryHelper.start(
      {
        prefix: opts.prefix,
        runtimeDirs: root ? [path.dirname(target.runtimeDirInRoot)] : (opts.runtimeDirs ?? []),
        dpdkLib: root ? null : (opts.dpdkLib ?? null),
        timeoutMs: opts.timeoutMs ?? 15000,
        extraEalArgs: opts.extraEalArgs ?? [],
        ealLogFile: root ? null : (opts.ealLogFile ?? null),
      },
      target.runtimeDir,
      root,
    );
    try {
      const reader = new VmReader(helper.pid);
      const mem = reader.read(helper.ready.mcfgAddr, L.memConfig.size);
      const cfg = readConfig(`${target.runtimeDir}/config`).cfg;
      if (!cfg || !mem || mem.readUInt32LE(0) !== cfg.magic || mem.readUInt32LE(4) !== cfg.version) {
        throw new MemscopeError(ErrorCode.LayoutUnverified, `the secondary helper's shared config is not where its header says: this DPDK build differs from the one Memscope knows; use --allow-locking-reads to read through DPDK's own calls.`);
      }
      checkBuild(decodeMemConfig(L, mem, cfg.memCfgAddr), L, reader, helper.ready.ealVersion);
      const check = verifyLayout(decodeMemConfig(L, mem, cfg.memCfgAddr), L, reader);
      if (check) {
        throw new MemscopeError(
          ErrorCode.LayoutUnverified,
          `the private memory layout of this DPDK ${helper.ready.ealVersion} build failed a self-check (${check}), so lock-free reads could be wrong: rerun with --allow-locking-reads (memscope.allowLockingReads) to read through DPDK's locking calls.`,
        );
      }
      const s = new Session(target, null, L, null, helper.ready.mcfgAddr, true, helper.ready.lcore, 'secondary', reader, performance.now() - t0);
      s.helper = helper;
      helper.onExit((why) => s.lost(s.primaryAlive() ? `the secondary helper (pid ${helper.pid}) of "${target.filePrefix}" ${why}: the agent ends; attach again.` : s.primaryGone()));
      return s;
    } catch (e) {
      // a refusal leaves the target as it was: the helper has left (its files with it) before it is said
      await helper.closeAndWait(5000);
      throw e;
    }
  }

  /**
   * The gentlest way in: read the live primary's own address space with
   * process_vm_readv. Nothing joins the target's multi-process group: no
   * rte_eal_init, no mp socket, no allocation in its heap, no hot-plug read
   * lock taken during an init that a kill could interrupt. Every address the
   * lock-free reader follows is mapped in the primary at the same address.
   * Returns null (to attach as a secondary instead) when peeking is not
   * possible and `required` is false.
   */
  private static peek(target: TargetSummary, t0: number, required: boolean): Session | null {
    const refuse = (why: string): null => {
      if (required) throw new MemscopeError(ErrorCode.Permission, `cannot read the memory of "${target.filePrefix}" directly (${why}): run as root or the primary's user, or attach as a secondary (--via secondary).`);
      return null;
    };
    if (target.pid === null || target.versionWord === null) return refuse('no live primary');
    const L = layoutFor(target.versionWord);
    if (!L) return refuse('unknown layout');
    const { cfg } = readConfig(`${target.runtimeDir}/config`);
    if (!cfg) throw new MemscopeError(ErrorCode.NotAttachable, `the shared config of "${target.filePrefix}" could not be decoded: is the primary still starting? Try again.`);
    const primary = new VmReader(target.pid);
    let mem: Buffer | null;
    try {
      mem = primary.read(Number(cfg.memCfgAddr), L.memConfig.size);
    } catch (e) {
      return refuse((e as Error).message);
    }
    if (!mem || mem.readUInt32LE(0) !== cfg.magic || mem.readUInt32LE(4) !== cfg.version) return refuse('its config is not where its header says');
    checkBuild(decodeMemConfig(L, mem, cfg.memCfgAddr), L, primary, decodeVersion(cfg.version).text);
    const check = verifyLayout(decodeMemConfig(L, mem, cfg.memCfgAddr), L, primary);
    if (check) {
      if (required) {
        throw new MemscopeError(
          ErrorCode.LayoutUnverified,
          `the private memory layout of this DPDK ${decodeVersion(cfg.version).text} build failed a self-check (${check}), so lock-free reads could be wrong: attach as a secondary with --allow-locking-reads to read through DPDK's locking calls.`,
        );
      }
      return null;
    }
    return new Session(target, null, L, null, Number(cfg.memCfgAddr), true, null, 'peek', primary, performance.now() - t0);
  }

  targetInfo(): TargetInfo {
    return {
      filePrefix: this.target.filePrefix,
      pid: this.target.pid,
      dpdkVersion: this.target.dpdkVersion ?? this.eal?.version ?? '?',
      runtimeDir: this.target.runtimeDir,
      alive: this.primaryAlive(),
      // every attach (peek or secondary) passed verifyLayout against the live target, or it refused
      layout: `${this.L.release} table, verified at attach`,
      ...(this.target.root ? { root: this.target.root.label } : {}),
      // which of the seed's spellings the librte_eal attached with carries (ours, or the helper's)
      ...(this.eal ? { dmabufGetter: this.dmabufGetter } : this.helper ? { dmabufGetter: this.helper.ready.dmabufGetter ?? null } : {}),
    };
  }

  primaryAlive(): boolean {
    const pid = this.target.pid;
    if (pid === null || !isAlive(pid)) return false;
    return this.primaryStart === null || startTime(pid) === this.primaryStart;
  }

  /**
   * A snapshot. `recycle`: an earlier snapshot of this session the caller no
   * longer needs; its element buffers are reused (its elements become unreadable).
   */
  snapshot(recycle?: Snapshot): Snapshot {
    let s: Snapshot;
    try {
      s = !this.lockFree && this.eal ? lockedSnapshot(this.eal, this.ctx) : takeSnapshot(this.ctx, recycle);
    } catch (e) {
      // a read that failed because the target (or our helper) is gone says so
      if (!this.primaryAlive()) throw new MemscopeError(ErrorCode.PrimaryDead, this.primaryGone());
      if (this.lostWhy !== null) throw new MemscopeError(ErrorCode.AttachFailed, this.lostWhy);
      throw e;
    }
    s.access = this.access;
    return s;
  }

  /** The shared config as it is now (lock-free copy). */
  memConfig(): MemConfig {
    return readMemConfig(this.ctx);
  }

  /** Address of a named memzone of the target (lock-free), or null. */
  memzoneAddr(name: string): number | null {
    const z = readMemzones(this.ctx, this.memConfig().memzones).find((m) => m.name === name);
    return z ? Number(z.addr) : null;
  }

  /** The reader of the target's shared memory. */
  get shared(): VmReader {
    return this.ctx.shared;
  }

  /** Calls back once when the primary exits (polled; pids can be reused, start times cannot). */
  onPrimaryExit(cb: (why: string) => void, intervalMs = 200): void {
    if (this.lostWhy !== null) return cb(this.lostWhy);
    this.exitHandlers.push(cb);
    this.startWatch(intervalMs);
  }

  /**
   * Calls back when the primary stops (SIGSTOP, a debugger) and when it runs
   * again. Reads go on either way: a stopped process's memory is readable.
   */
  onPrimaryState(cb: (stopped: boolean, why: string) => void, intervalMs = 200): void {
    this.stateHandlers.push(cb);
    this.startWatch(intervalMs);
  }

  private startWatch(intervalMs: number): void {
    if (this.watch) return;
    this.watch = setInterval(() => {
      if (!this.primaryAlive()) return this.lost(this.primaryGone());
      const st = this.target.pid !== null ? processState(this.target.pid) : null;
      const stopped = st === 'T' || st === 't';
      if (stopped === this.stopped) return;
      this.stopped = stopped;
      const why = stopped
        ? `the primary of "${this.target.filePrefix}" (pid ${this.target.pid}) is stopped (SIGSTOP or a debugger): its memory is shown as it was when it stopped, until it runs again.`
        : `the primary of "${this.target.filePrefix}" (pid ${this.target.pid}) runs again.`;
      for (const h of this.stateHandlers) h(stopped, why);
    }, intervalMs);
    this.watch.unref();
  }

  private primaryGone(): string {
    return `the primary of "${this.target.filePrefix}" (pid ${this.target.pid}) has exited: the agent ends; attach again once it is back.`;
  }

  /** The session cannot go on (its helper ended): tell whoever watches. */
  private lost(why: string): void {
    if (this.lostWhy !== null) return;
    this.lostWhy = why;
    clearInterval(this.watch);
    for (const h of this.exitHandlers) h(why);
  }

  dispose(): void {
    clearInterval(this.watch);
    this.helper?.close();
    this.log?.dispose();
  }
}

/** EAL options a user may add (memscope.eal.extraArgs): the whitelist is common/checks.ts's. */
export function checkExtraArgs(args: readonly string[]): void {
  checkInputs('settings', { ealArg: [...args] });
}

/**
 * The primary's fixed ranges must be free here: check them, and hold them
 * with placeholders until rte_eal_init, so nothing maps there meanwhile.
 */
function preflightAddresses(cfg: MemConfig, L: Layout): () => void {
  const maps = readMaps('self') ?? [];
  const held: (() => void)[] = [];
  const releaseAll = () => {
    for (const r of held.splice(0)) r();
  };
  for (const r of fixedRanges(cfg, L)) {
    // held since this process started, when it knew its target then
    const early = takeEarly(r.start, r.end);
    if (early) {
      held.push(early);
      continue;
    }
    const hit = maps.find((m) => m.start < r.end && r.start < m.end);
    const release = hit ? null : reserveRange(r.start, r.end);
    if (!release) {
      releaseAll();
      throw new MemscopeError(
        ErrorCode.AddressConflict,
        `${r.what} of the primary sits at 0x${r.start.toString(16)}-0x${r.end.toString(16)}, which this agent already uses${hit ? ` for ${hit.path || 'anonymous memory'}` : ''}: start a fresh agent, or restart the primary with --base-virtaddr elsewhere.`,
      );
    }
    held.push(release);
  }
  return releaseAll;
}

/** Shared flocks on the fbarray files of the target's external lists (fds to close later). */
function guardFbarrays(runtimeDir: string, cfg: MemConfig): number[] {
  const fds: number[] = [];
  for (const l of cfg.lists) {
    if (!l.external) continue;
    try {
      const fd = fs.openSync(`${runtimeDir}/fbarray_${l.arr.name}`, 'r');
      if (flockShared(fd)) fds.push(fd);
      else fs.closeSync(fd);
    } catch {
      /* already gone, or not ours to read */
    }
  }
  return fds;
}

/** A writer stuck on the hot-plug lock would make rte_eal_init wait forever. */
async function preflightHotplugLock(target: TargetSummary, L: Layout): Promise<void> {
  const path = `${target.runtimeDir}/config`;
  const read = () => {
    const fd = fs.openSync(path, 'r');
    try {
      const b = Buffer.alloc(4);
      fs.readSync(fd, b, 0, 4, L.memConfig.memoryHotplugLock);
      return b.readInt32LE(0);
    } finally {
      fs.closeSync(fd);
    }
  };
  // a writer that holds or waits for the lock keeps every reader out (EAL's init takes it to read)
  for (let i = 0; i < 40; i++) {
    if ((read() & L.rwlock.blocksReaders) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new MemscopeError(
    ErrorCode.AttachTimeout,
    `the memory hot-plug lock of "${target.filePrefix}" has been write-held for 2 s (a process may have died holding it): attaching now would hang; check whether the primary is wedged and restart it.`,
  );
}

/** RTE_MALLOC_DEBUG's mark at the start of each element's data (malloc_elem.h). */
const MALLOC_HEADER_COOKIE = 0xbadbadbadadd2e55n;

/**
 * Build options the data file's table does not describe, seen in the target
 * itself: RTE_MALLOC_DEBUG puts a cookie in each element header (where the
 * table's build has padding) and a trailer after the data, which would make
 * every element's size and the heap's free bytes wrong. Throws the one
 * sentence naming the build (exit 19).
 */
export function checkBuild(cfg: MemConfig, L: Layout, reader: VmReader, version: string): void {
  if (L.build.mallocDebug) return;
  for (const h of cfg.heaps) {
    if (h.socketId >= L.build.externalSocketMin || h.first === 0n) continue;
    const e = reader.borrow(Number(h.first), L.elem.headerLen);
    if (e && e.readBigUInt64LE(L.elem.headerCookie) === MALLOC_HEADER_COOKIE) {
      throw new MemscopeError(
        ErrorCode.LayoutUnverified,
        `this DPDK ${version} was built with RTE_MALLOC_DEBUG (heap ${h.name}'s elements carry its cookies and trailers), which the ${L.release} table Memscope reads does not describe, so Memscope will not read it: build DPDK without malloc debug to inspect it.`,
      );
    }
  }
}

/** Returns why the layout table does not fit this build, or null when it does. */
export function verifyLayout(cfg: MemConfig, L: Layout, self: VmReader): string | null {
  if (!cfg.heaps.length) return 'no malloc heap found';
  for (const h of cfg.heaps) {
    const internal = h.socketId < L.build.externalSocketMin;
    if (internal && h.name !== `socket_${h.socketId}`) return `heap ${h.index} is named "${h.name}" for socket ${h.socketId}`;
    if (h.totalSize < 0 || h.totalSize > 2 ** 50) return `heap ${h.name} has size ${h.totalSize}`;
    if (internal && h.first !== 0n) {
      const e = self.borrow(Number(h.first), L.elem.headerLen);
      if (!e) return `heap ${h.name}'s first element is not mapped`;
      if (e.readBigUInt64LE(L.elem.heap) !== h.addr) return `heap ${h.name}'s first element does not point back at it`;
      if (e.readBigUInt64LE(L.elem.prev) !== 0n) return `heap ${h.name}'s first element has a predecessor`;
    }
  }
  for (const l of cfg.lists) {
    if (l.pageSz <= 0 || (l.pageSz & (l.pageSz - 1)) !== 0) return `memseg list ${l.index} has page size ${l.pageSz}`;
    if (l.arr.eltSz !== L.memseg.size) return `memseg list ${l.index} holds ${l.arr.eltSz}-byte elements`;
  }
  if (cfg.memzones.eltSz !== L.memzone.size) return `memzones are ${cfg.memzones.eltSz} bytes`;
  return null;
}
