/**
 * Lists DPDK targets with `memscope list --json`: a short-lived process
 * (under memscope.agent.launchPrefix when set), so the extension host never
 * loads native code and discovery runs with the agent's rights.
 */
import { execFile } from 'node:child_process';
import type { TargetSummaryWire } from '../../common/protocol';
import { AgentError, agentScript } from './agent';
import { settings } from './settings';

/**
 * Runs the agent's CLI once (under the launch prefix, as the agent would run)
 * and returns its stdout; a prefix that cannot run it (`sudo -n` wanting a
 * password) is one sentence on how to fix that.
 */
export function runAgentCli(extensionPath: string, args: string[], timeoutMs = 15_000): Promise<string> {
  const s = settings();
  const [cmd, ...pre] = s.launchPrefix.length ? [...s.launchPrefix, process.execPath, agentScript(extensionPath)] : [process.execPath, agentScript(extensionPath)];
  return new Promise((resolve, reject) => {
    execFile(cmd!, [...pre, ...args], { timeout: timeoutMs, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const text = String(stderr || err.message).trim();
      if (/sudo: a (terminal|password) is required|sudo: .*password/.test(text)) {
        return reject(new AgentError('permission', `memscope.agent.launchPrefix "${s.launchPrefix.join(' ')}" needs a password: allow the agent without one (a sudoers NOPASSWD rule for ${process.execPath}), or run VS Code's server as root.`));
      }
      if (s.launchPrefix.length && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new AgentError('attach-failed', `memscope.agent.launchPrefix names "${cmd}", which is not installed here: install it or change the setting.`));
      }
      if (err.killed) return reject(new AgentError('attach-timeout', `the agent (${[cmd, ...pre].join(' ')}) did not answer within ${timeoutMs / 1000} s: check memscope.agent.launchPrefix.`));
      reject(new AgentError('internal', text.replace(/^memscope: /, '').split('\n')[0] || `the agent failed (${err.message})`));
    });
  });
}

export async function listTargets(extensionPath: string, timeoutMs = 15_000): Promise<TargetSummaryWire[]> {
  const s = settings();
  const stdout = await runAgentCli(extensionPath, ['list', '--json', ...s.runtimeDirs.flatMap((d) => ['--runtime-dir', d])], timeoutMs);
  try {
    return JSON.parse(stdout) as TargetSummaryWire[];
  } catch {
    throw new AgentError('internal', 'listing targets returned no JSON: see the agent log.');
  }
}
