/**
 * Lists DPDK targets with `memscope list --json`: a short-lived process
 * (under memscope.agent.launchPrefix when set), so the extension host never
 * loads native code and discovery runs with the agent's rights.
 */
import { execFile } from 'node:child_process';
import type { TargetSummaryWire } from '../../common/protocol';
import { AgentError, agentScript } from './agent';
import { settings } from './settings';

export function listTargets(extensionPath: string, timeoutMs = 15_000): Promise<TargetSummaryWire[]> {
  const s = settings();
  const args = ['list', '--json', ...s.runtimeDirs.flatMap((d) => ['--runtime-dir', d])];
  const [cmd, ...pre] = s.launchPrefix.length ? [...s.launchPrefix, process.execPath, agentScript(extensionPath)] : [process.execPath, agentScript(extensionPath)];
  return new Promise((resolve, reject) => {
    execFile(cmd!, [...pre, ...args], { timeout: timeoutMs, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const text = String(stderr || err.message).trim();
        if (/sudo: a (terminal|password) is required|sudo: .*password/.test(text)) {
          return reject(new AgentError('permission', `"${s.launchPrefix.join(' ')}" needs a password: allow it without one for this command (sudoers NOPASSWD), or run VS Code's server as root.`));
        }
        return reject(new AgentError('internal', text.replace(/^memscope: /, '').split('\n')[0] || `listing targets failed (${err.message})`));
      }
      try {
        resolve(JSON.parse(stdout) as TargetSummaryWire[]);
      } catch {
        reject(new AgentError('internal', 'listing targets returned no JSON: see the agent log.'));
      }
    });
  });
}
