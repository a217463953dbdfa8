/**
 * The secondary helper process's own code (`memscope __secondary SPEC`):
 * attach to the primary as a DPDK secondary, report one JSON line to the
 * agent, wait for the end, leave the multi-process group, exit. The agent's
 * side (starting it, reading its report, cleaning up after it) is
 * native-agent/secondary.ts; this file is apart so that the attach
 * (session.ts, which uses secondary.ts) and the helper's files do not import
 * each other.
 */
import * as fs from 'node:fs';
import { ErrorCode, MemscopeError } from '../common/errors';
import { isAlive } from './procfs';
import { PRIMARY_EXITED, removeSecondaryFiles, type Report, type SecondarySpec } from './secondary';
import { stage } from './stage';

/** `memscope __secondary SPEC`: attach, report one JSON line, wait, clean up, exit. */
export async function runSecondary(specJson: string): Promise<number> {
  stage('start');
  const spec = JSON.parse(specJson) as SecondarySpec;
  const report = (r: Report) => {
    try {
      fs.writeSync(1, JSON.stringify(r) + '\n');
    } catch {
      /* the agent went away */
    }
  };
  let wake: (why: string) => void = () => undefined;
  let stopping: string | null = null;
  const stopped = new Promise<string>((resolve) => (wake = resolve));
  const stop = (why: string) => {
    stopping ??= why;
    wake(why);
  };
  // Registered first: a signal or the agent's end during rte_eal_init is
  // acted on once the init has run to its end, not inside it.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  process.on('SIGPIPE', () => undefined);
  process.stdin.on('end', () => stop('the agent went away'));
  process.stdin.on('error', () => stop('the agent went away'));
  process.stdin.on('close', () => stop('the agent went away'));
  process.stdin.resume();

  // loaded once the signals are ours (koffi and EAL's bindings come with them)
  const { attachWithRetry } = await import('./reattach');
  const { Session, leaveGroup } = await import('./session');
  const { hardExit, onPidExit } = await import('./native/libc');
  let session;
  try {
    session = await attachWithRetry(() =>
      Session.attach({
        prefix: spec.prefix,
        runtimeDirs: spec.runtimeDirs,
        dpdkLib: spec.dpdkLib,
        timeoutMs: spec.timeoutMs,
        extraEalArgs: spec.extraEalArgs,
        ...(spec.ealLogFile ? { ealLogFile: spec.ealLogFile } : {}),
        via: 'secondary',
        inProcess: true,
      }),
    );
  } catch (e) {
    const me = e instanceof MemscopeError ? e : new MemscopeError(ErrorCode.AttachFailed, (e as Error).message);
    report({ ok: false, error: me.toJSON() });
    const { ealWedged } = await import('./session');
    if (ealWedged) {
      // rte_eal_init never returned; nothing this process does now is safe
      hardExit(me.exitCode);
    }
    return me.exitCode;
  }
  const runtimeDir = session.target.runtimeDir;
  if (stopping === null) {
    report({
      ok: true,
      ready: {
        pid: process.pid,
        mcfgAddr: session.mcfgAddr,
        lcore: session.lcore,
        ealVersion: session.eal?.version ?? '?',
        ealLibrary: session.eal?.path ?? '',
        attachMs: session.attachMs,
        dmabufGetter: session.dmabufGetter,
      },
    });
    stage('ready');
    // at once: a primary restarting under the same prefix must not find our
    // locks on its old files
    if (session.target.pid === null || !onPidExit(session.target.pid, () => stop(PRIMARY_EXITED), isAlive)) {
      session.onPrimaryExit(() => stop(PRIMARY_EXITED), 20);
    }
    await stopped;
  }
  // Leave the multi-process group before leaving: with our mp socket gone the
  // primary sends us nothing new, and a request already sent (a hot-plug
  // sync) is answered by EAL's mp thread during the grace period. A
  // secondary that vanished with a free unsynced would leave those pages'
  // files for nobody to unlink (DPDK leaves that to the last user), and the
  // primary's freed hugepages allocated.
  // With the primary gone there is nobody to answer, and a primary restarted
  // under the same prefix must not find our locks on its files: leave at once.
  stage(stopping === PRIMARY_EXITED ? 'leaving-primary-gone' : 'leaving');
  if (stopping !== PRIMARY_EXITED) leaveGroup(runtimeDir);
  session.dispose();
  removeSecondaryFiles(runtimeDir, process.pid);
  stage('exit');
  // detach by ending, without rte_eal_cleanup (it would tear down what the
  // primary shares) and without library destructors
  return hardExit(0);
}

