/**
 * The DPDK secondary lives in its own small process, never in the agent.
 *
 * DPDK's shared locks are plain counters in the target's config: a process
 * that dies holding one wedges the primary forever (dpdk-notes.md hazard 1).
 * A secondary's rte_eal_init holds the memory hot-plug read lock for most of
 * its run, the memzone lock as a writer and fbarray locks for moments, some of
 * them inline in DPDK's code where nobody outside can tell who holds them. A
 * SIGKILL that lands there — a user's `kill -9` of a stuck-looking agent, the
 * OOM killer choosing the agent (it is the process with the big heap), an
 * editor ending its language server's process group — cannot be repaired
 * afterwards.
 *
 * So the agent (the CLI's `--via secondary`, the extension's `memscope
 * serve`) never calls rte_eal_init itself. It starts `memscope __secondary`:
 * a process in its own session (a signal to the agent's process group does not
 * reach it), with almost no heap of its own, that attaches and then only
 * waits. The agent reads the target's memory through that process's mappings
 * with process_vm_readv, exactly as it read its own before. When the agent
 * ends — any way, SIGKILL included — the helper's stdin closes; the helper
 * finishes the step it is in (rte_eal_init runs to its end, never cut short),
 * deletes the runtime files a secondary leaves behind (its fbarray copies and
 * mp socket, which a detach-by-exit never removes) and exits. SIGTERM, SIGINT
 * and SIGHUP mean the same. The primary's exit ends it too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, MemscopeError, type ErrorData } from '../common/errors';
import { SECONDARY_NODE_FLAGS } from '../common/node-flags';
import { isAlive } from './procfs';
import { type ForeignRoot, ownPathFromElsewhere, reachInRoot, resolveInRoot } from './roots';
import { selfScript } from './self';

export interface SecondarySpec {
  prefix: string;
  runtimeDirs: string[];
  dpdkLib: string | null;
  timeoutMs: number;
  extraEalArgs: string[];
  ealLogFile: string | null;
}

/** What the helper reports once attached. */
export interface SecondaryReady {
  pid: number;
  mcfgAddr: number;
  lcore: number | null;
  ealVersion: string;
  ealLibrary: string;
  attachMs: number;
  /** The seed's unlocked getter as the helper's librte_eal spells it, or null when it carries none (absent from older helpers). */
  dmabufGetter?: string | null;
}

/** How long a leaving secondary keeps answering the primary's requests already under way. */
export const MP_GRACE_MS = 150;
export const PRIMARY_EXITED = 'the primary exited';

/** The helper's one line to the agent. */
export type Report = { ok: true; ready: SecondaryReady } | { ok: false; error: ErrorData };

/**
 * The pid in the name of a secondary's file of the runtime dir, or null: its
 * private copies of the primary's fbarrays (`fbarray_<name>_<pid>` up to
 * 23.11, `fbarray_<name>_<pid>_<tsc>` from 24.11: the primary's own
 * `fbarray_<name>` is in `names`, which tells the two apart however the tsc
 * is spelled) and its mp socket (`mp_socket_<pid>_<tsc>`).
 */
export function secondaryFilePid(n: string, names: ReadonlySet<string>): number | null {
  const sock = /^mp_socket_(\d+)_[0-9a-f]+$/.exec(n);
  if (sock) return Number(sock[1]);
  const withTsc = /^(fbarray_.+)_(\d+)_[0-9a-f]+$/.exec(n);
  if (withTsc && names.has(withTsc[1]!)) return Number(withTsc[2]);
  const plain = /^(fbarray_.+)_(\d+)$/.exec(n);
  if (plain && names.has(plain[1]!)) return Number(plain[2]);
  return null;
}

/**
 * Deletes what a secondary with this pid leaves in the runtime dir when it
 * ends without rte_eal_cleanup: its private fbarray copies and its mp socket
 * (secondaryFilePid). Only names that carry this exact pid.
 */
export function removeSecondaryFiles(runtimeDir: string, pid: number): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(runtimeDir);
  } catch {
    return removed;
  }
  const all = new Set(names);
  for (const n of names) {
    if (secondaryFilePid(n, all) !== pid) continue;
    try {
      fs.unlinkSync(path.join(runtimeDir, n));
      removed.push(n);
    } catch {
      /* gone already */
    }
  }
  return removed;
}

/** The EAL log a Memscope process writes when it was given none (eal.ts, redirectEalLog). */
export function defaultEalLog(pid: number): string {
  return path.join(os.tmpdir(), `memscope-eal-${pid}.log`);
}

/**
 * Deletes what a secondary of ours that ended left: its files in the
 * runtime dir (when known) and, unless it was given a log of its own, its
 * default EAL log. A killed one cleans up nothing itself.
 */
export function removeEndedSecondary(runtimeDir: string | null, pid: number, ownLog = false, root: ForeignRoot | null = null): void {
  if (runtimeDir !== null) removeSecondaryFiles(runtimeDir, pid);
  // a helper in another root wrote its log in that root's /tmp
  if (!ownLog) fs.rmSync(root ? reachInRoot(root, path.join('/tmp', path.basename(defaultEalLog(pid)))) : defaultEalLog(pid), { force: true });
}

/**
 * How a helper is started in a target's own root (a chroot's DPDK needs its
 * own glibc): /usr/sbin/chroot into /proc/<primary>/root, that root's Node,
 * and this very script reached back through /proc/<pid>/root. Throws the
 * one sentence when it cannot be (not root, no Node there, a container).
 */
export function inRootCommand(root: ForeignRoot, prefix: string): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const peek = `read it with --via peek, which needs no helper (the extension does so by itself)`;
  if (root.otherMountNs) {
    throw new MemscopeError(ErrorCode.SecondaryUnavailable, `prefix "${prefix}" runs in a container (${root.label}, another mount namespace), and a secondary would have to enter its namespaces, which Memscope does not do: ${peek}.`);
  }
  if ((process.geteuid?.() ?? 0) !== 0) {
    throw new MemscopeError(ErrorCode.SecondaryUnavailable, `prefix "${prefix}" runs in another root (${root.label}), and starting a helper there takes chroot, which needs root: run memscope as root, or ${peek}.`);
  }
  const node = ['/usr/bin/node', '/usr/local/bin/node', '/usr/bin/nodejs'].find((n) => {
    const p = resolveInRoot(root.path, n);
    return p !== null && fs.existsSync(p);
  });
  if (!node) {
    throw new MemscopeError(ErrorCode.SecondaryUnavailable, `prefix "${prefix}" runs in another root (${root.label}) without Node.js, which a secondary helper needs there (its DPDK needs that root's own libraries): install nodejs in it, or ${peek}.`);
  }
  const chroot = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((c) => fs.existsSync(c)) ?? 'chroot';
  // Node would resolve the script's /proc/<pid>/root link to a path inside the root: keep it as given
  // its temporary files (the EAL log) go to the root's /tmp, whatever this process's TMPDIR
  return { cmd: chroot, args: [root.path, node, ...SECONDARY_NODE_FLAGS, '--preserve-symlinks', '--preserve-symlinks-main', ownPathFromElsewhere(path.resolve(selfScript()))], env: { ...process.env, TMPDIR: '/tmp' } };
}

/**
 * Leaves the multi-process group: deletes this pid's mp socket, so the
 * primary sends it nothing new, while a request already sent (a hot-plug
 * sync) is still answered by EAL's mp thread, which keeps running while the
 * caller waits MP_GRACE_MS. True when there was a socket.
 */
export function leaveMpGroup(runtimeDir: string, pid: number): boolean {
  let left = false;
  try {
    for (const n of fs.readdirSync(runtimeDir).filter((f) => f.startsWith(`mp_socket_${pid}_`))) {
      fs.rmSync(path.join(runtimeDir, n), { force: true });
      left = true;
    }
  } catch {
    /* no runtime dir any more */
  }
  return left;
}

/**
 * Deletes the files secondaries that died without a word left (a SIGKILL
 * leaves them all): names carrying a pid no process has any more. DPDK does
 * the same for both kinds (a secondary's init deletes fbarray files nobody
 * holds, the primary unlinks an mp socket that refuses a connection).
 */
export function sweepDeadSecondaryFiles(runtimeDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(runtimeDir);
  } catch {
    return [];
  }
  const pids = new Set<number>();
  const all = new Set(names);
  for (const n of names) {
    const pid = secondaryFilePid(n, all);
    if (pid !== null) pids.add(pid);
  }
  const removed: string[] = [];
  for (const pid of pids) if (pid > 1 && !isAlive(pid)) removed.push(...removeSecondaryFiles(runtimeDir, pid));
  return removed;
}

/** The agent's handle on its helper. */
export class SecondaryHelper {
  private exitHandlers: ((why: string) => void)[] = [];
  private gone: string | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: SecondaryReady,
    private readonly runtimeDir: string,
    spec: SecondarySpec,
    root: ForeignRoot | null,
  ) {
    child.on('exit', (code, signal) => {
      // a helper that was killed cannot clean up after itself
      removeEndedSecondary(this.runtimeDir, ready.pid, !!spec.ealLogFile, root);
      this.gone = signal ? `was ended by ${signal}` : `exited (${code})`;
      for (const h of this.exitHandlers) h(this.gone);
    });
  }

  get pid(): number {
    return this.ready.pid;
  }

  /** Calls back once if the helper ends before the agent does. */
  onExit(cb: (why: string) => void): void {
    if (this.gone !== null) cb(this.gone);
    else this.exitHandlers.push(cb);
  }

  /** Asks the helper to detach and waits (at most `ms`) until it has ended. */
  async closeAndWait(ms: number): Promise<void> {
    const ended = new Promise<void>((resolve) => {
      if (this.gone !== null) return resolve();
      this.child.once('exit', () => resolve());
    });
    this.close();
    // a timer that keeps the process alive: the helper itself is unref'd
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Asks the helper to detach (it ends once its current step is done). */
  close(): void {
    this.exitHandlers = [];
    try {
      this.child.stdin?.end();
    } catch {
      /* gone */
    }
  }

  /** Starts a helper (in the target's root when it has its own) and waits for its report. */
  static start(spec: SecondarySpec, runtimeDir: string, root: ForeignRoot | null = null): Promise<SecondaryHelper> {
    sweepDeadSecondaryFiles(runtimeDir);
    // in its root, the helper finds the target where the primary sees it (its own runtime dir)
    const { cmd, args, env } = root ? inRootCommand(root, spec.prefix) : { cmd: process.execPath, args: [...SECONDARY_NODE_FLAGS, selfScript()], env: process.env };
    // own session: a signal to the agent's process group does not reach it
    const child = spawn(cmd, [...args, '__secondary', JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
    // started processes take a while to load on a busy host; EAL's own timeout
    // is inside the helper, this one only covers a helper that never answers
    const limitMs = spec.timeoutMs + 20_000;
    return new Promise<SecondaryHelper>((resolve, reject) => {
      let out = '';
      let err = '';
      let settled = false;
      const fail = (e: MemscopeError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          child.stdin?.end();
        } catch {
          /* gone */
        }
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new MemscopeError(ErrorCode.AttachTimeout, `the secondary helper for "${spec.prefix}" did not report within ${limitMs} ms: it was asked to stop; check that the primary is healthy and try again.`)),
        limitMs,
      );
      child.on('error', (e) => fail(new MemscopeError(ErrorCode.AttachFailed, `could not start the secondary helper (${e.message}): check that ${process.execPath} can run.`)));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        if (err.length < 8192) err += d;
      });
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        if (settled) return;
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        let r: Report;
        try {
          r = JSON.parse(out.slice(0, nl)) as Report;
        } catch {
          return fail(new MemscopeError(ErrorCode.Internal, `the secondary helper answered something that is not JSON (${out.slice(0, 80)}): report this as a bug.`));
        }
        if (!r.ok) {
          // a helper that refused (a build Memscope does not know, say) has
          // attached: the refusal is said once it has left, its files with it
          const e = new MemscopeError(r.error.code, r.error.message, r.error.detail);
          const left = setTimeout(() => fail(e), 5000);
          child.once('exit', () => {
            clearTimeout(left);
            fail(e);
          });
          try {
            child.stdin?.end();
          } catch {
            /* gone */
          }
          return;
        }
        settled = true;
        clearTimeout(timer);
        // the pipes stay open (stdin is the helper's lifeline) but must not
        // keep a CLI that has finished from ending
        child.stdout!.removeAllListeners('data');
        child.stdout!.destroy();
        for (const s of [child.stdin, child.stderr] as unknown as { unref?: () => void }[]) s?.unref?.();
        child.unref();
        resolve(new SecondaryHelper(child, r.ready, runtimeDir, spec, root));
      });
      child.on('close', (code, signal) => {
        // a helper killed before it reported (inside rte_eal_init, say)
        // cannot delete its fbarray copies, mp socket and log: its agent does
        if (child.pid !== undefined) removeEndedSecondary(runtimeDir, child.pid, !!spec.ealLogFile, root);
        const last = err.trim().split('\n').filter(Boolean).pop();
        fail(new MemscopeError(ErrorCode.AttachFailed, `the secondary helper for "${spec.prefix}" ended (${signal ?? code}) before attaching${last ? `: ${last}` : ''}; check the primary and try again.`));
      });
    });
  }
}
