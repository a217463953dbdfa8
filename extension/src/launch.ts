/**
 * How the extension starts the agent: memscope.agent.launchPrefix, then this
 * Node, then the agent script and its arguments, as one argument vector that
 * reaches execve as it is. No shell ever sees it, so `$(…)`, `;` or a
 * backquote in a setting are just bytes of an argument. No vscode import: the
 * unit tests run this very code.
 */
import { execFile } from 'node:child_process';
import { checkInputs, shown, unseenProblem } from '../../common/checks';
import { ErrorCode, MemscopeError } from '../../common/errors';

export interface AgentCommand {
  command: string;
  args: string[];
}

/** A user-facing failure: the agent's one sentence and its code. */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * memscope.agent.launchPrefix must be an argument vector: strings without
 * control characters, the first one a command (`["sudo","-n"]`, not
 * `["sudo -n"]`).
 */
export function checkLaunchPrefix(prefix: readonly unknown[]): void {
  const bad = (why: string) => new MemscopeError(ErrorCode.BadArguments, `memscope.agent.launchPrefix ${why}: write it as an argument vector such as ["sudo","-n"].`);
  prefix.forEach((a, i) => {
    if (typeof a !== 'string' || a === '') throw bad(`has an empty or non-string element ${i}`);
    // the characters no path or name may hold either (NUL, line breaks, controls, invisible ones)
    const p = unseenProblem(a);
    if (p) throw bad(`element ${i} "${shown(a)}" ${p}`);
  });
  const first = prefix[0];
  if (typeof first === 'string' && /\s/.test(first)) throw bad(`starts with "${shown(first)}", a command line in one string that no shell will split`);
}

/** The command and arguments that start the agent (`launchPrefix` may be empty). */
export function agentCommand(launchPrefix: readonly string[], execPath: string, script: string, args: readonly string[], nodeFlags: readonly string[] = []): AgentCommand {
  checkLaunchPrefix(launchPrefix);
  const [command, ...rest] = [...launchPrefix, execPath, ...nodeFlags, script, ...args];
  return { command: command!, args: rest };
}

export interface AgentSettings {
  runtimeDirs: readonly string[];
  dpdkLibraryPath: string | null;
  ealExtraArgs: readonly string[];
  traceDir: string | null;
  launchPrefix: readonly string[];
}

/**
 * The settings that reach the agent's command line or its requests, and the
 * target's file prefix, by the same rules the CLI and the agent apply
 * (common/checks.ts): a refused one is one sentence naming the setting.
 */
export function checkSettings(s: AgentSettings, filePrefix?: string): void {
  checkLaunchPrefix(s.launchPrefix);
  checkInputs('settings', {
    filePrefix,
    runtimeDir: s.runtimeDirs,
    dpdkLib: s.dpdkLibraryPath,
    ealArg: s.ealExtraArgs,
    traceDir: s.traceDir,
  });
}

/**
 * Runs the agent's CLI once (under the launch prefix, as the agent would run)
 * and returns its stdout; a prefix that cannot run it (`sudo -n` wanting a
 * password) is one sentence on how to fix that.
 */
export function runAgentCliWith(launchPrefix: readonly string[], script: string, args: readonly string[], timeoutMs = 15_000, execPath = process.execPath): Promise<string> {
  return new Promise((resolve, reject) => {
    // a refused launch prefix rejects (thrown in here), like any other failure
    const { command, args: argv } = agentCommand(launchPrefix, execPath, script, args);
    const shownCmd = [command, ...argv.slice(0, launchPrefix.length ? launchPrefix.length + 1 : 1)].join(' ');
    // execFile: execve of `command` with `argv`, no shell (its `shell` option stays off)
    execFile(command, argv, { timeout: timeoutMs, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const text = String(stderr || err.message).trim();
      if (/sudo: a (terminal|password) is required|sudo: .*password/.test(text)) {
        return reject(new AgentError('permission', `memscope.agent.launchPrefix "${launchPrefix.join(' ')}" needs a password: allow the agent without one (a sudoers NOPASSWD rule for ${execPath}), or run VS Code's server as root.`));
      }
      if (launchPrefix.length && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new AgentError('attach-failed', `memscope.agent.launchPrefix names "${shown(command)}", which is not installed here: install it or change the setting.`));
      }
      if (err.killed) return reject(new AgentError('attach-timeout', `the agent (${shown(shownCmd)}) did not answer within ${timeoutMs / 1000} s: check memscope.agent.launchPrefix.`));
      reject(new AgentError('internal', text.replace(/^memscope: /, '').split('\n')[0] || `the agent failed (${err.message})`));
    });
  });
}
