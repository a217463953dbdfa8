/**
 * Lists DPDK targets with `memscope list --json`: a short-lived process
 * (under memscope.agent.launchPrefix when set), so the extension host never
 * loads native code and discovery runs with the agent's rights.
 */
import type { TargetSummaryWire } from '../../common/protocol';
import { AgentError, agentScript } from './agent';
import { checkSettings, runAgentCliWith } from './launch';
import { settings } from './settings';

/**
 * Runs the agent's CLI once (under the launch prefix, as the agent would run)
 * and returns its stdout (extension/src/launch.ts: an argument vector, no shell).
 */
export function runAgentCli(extensionPath: string, args: string[], timeoutMs = 15_000): Promise<string> {
  const s = settings();
  checkSettings(s);
  return runAgentCliWith(s.launchPrefix, agentScript(extensionPath), args, timeoutMs);
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
