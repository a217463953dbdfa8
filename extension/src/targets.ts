/**
 * Lists DPDK targets through a long-lived agent that attaches to nothing
 * (`memscope serve` under memscope.agent.launchPrefix when set), with the
 * typed `memscope/listTargets` request and its checked result: the
 * extension host never loads native code, and discovery runs with the
 * agent's rights.
 */
import type * as vscode from 'vscode';
import { LanguageClient, State } from 'vscode-languageclient/node';
import type { TargetSummaryWire } from '../../common/protocol';
import { checkedResult, Requests } from '../../common/rpc';
import { AgentError, agentScript, agentServerOptions, asAgentError } from './agent';
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

/** The discovery agent: started on the first list, kept for the next ones, started again when its settings changed or it ended. */
export class TargetLister implements vscode.Disposable {
  private client: LanguageClient | null = null;
  private started: Promise<void> | null = null;
  private settingsKey = '';

  constructor(
    private readonly extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async list(timeoutMs = 15_000): Promise<TargetSummaryWire[]> {
    const s = settings();
    const key = JSON.stringify([s.launchPrefix, s.runtimeDirs]);
    if (this.client && (key !== this.settingsKey || this.client.state === State.Stopped)) await this.dispose();
    if (!this.client) {
      this.settingsKey = key;
      const client = new LanguageClient('memscope-discovery', 'DPDK Memscope (discovery)', agentServerOptions(this.extensionPath, null), {
        documentSelector: [],
        outputChannel: this.log,
        connectionOptions: { maxRestartCount: 0 },
      });
      this.client = client;
      this.started = client.start();
    }
    const client = this.client;
    const work = (async () => {
      await this.started;
      let raw: unknown;
      try {
        raw = await client.sendRequest(Requests.listTargets.method, { runtimeDirs: s.runtimeDirs });
      } catch (e) {
        throw asAgentError(e);
      }
      try {
        return checkedResult(Requests.listTargets, raw);
      } catch (e) {
        this.log.error(`the discovery agent sent a malformed target list: ${(e as Error).message}`);
        throw new AgentError('protocol-violation', `the discovery agent sent a malformed target list (${(e as Error).message}): see "DPDK Memscope: Show Agent Log".`);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AgentError('internal', `listing DPDK processes took longer than ${timeoutMs / 1000} s: see "DPDK Memscope: Show Agent Log".`)), timeoutMs);
    });
    try {
      return await Promise.race([work, late]);
    } catch (e) {
      // a lister that failed to start or answer is started afresh next time
      await this.dispose();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async dispose(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.started = null;
    if (c && c.state === State.Running) await c.stop(2000).catch(() => undefined);
  }
}
