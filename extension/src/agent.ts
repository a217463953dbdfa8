/**
 * One `memscope serve` agent per attached target, driven with
 * vscode-languageclient: attach, a subscription whose deltas keep a live
 * snapshot, and a bounded restart policy (an agent that keeps dying is left
 * dead and the user told, not restarted forever).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandlerResult,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import type { ColumnDelta } from '../../common/delta';
import { type ErrorData, isErrorCode } from '../../common/errors';
import type { AttachResult, ColumnSnapshot, DmabufQueryResult, RegisterTestBufferParams, SubscribeParams, TestBufferInfo, TimelineResult } from '../../common/protocol';
import { AgentNotifications, checkedNotification, checkedResult, type Notification, type Request, Requests } from '../../common/rpc';
import type { Suspects } from '../../common/leak-tracker';
import type { Snapshot } from '../../common/snapshot';
import { AGENT_NODE_FLAGS } from '../../common/node-flags';
import { AgentError, agentCommand, checkSettings } from './launch';
import { applyColumnDelta, hydrate, liveDelta } from './map-message';
import { settings } from './settings';

const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 3 * 60_000;
const MAX_CONFLICT_RETRIES = 4;

export { AgentError };

export function asAgentError(e: unknown): AgentError {
  if (e instanceof AgentError) return e;
  const data = (e as { data?: ErrorData }).data;
  if (data && isErrorCode(data.code)) return new AgentError(data.code, data.message);
  const msg = e instanceof Error ? e.message : String(e);
  return new AgentError('internal', msg);
}

/**
 * The agent: a checkout's own build (never a bundle left over from an older
 * `npm run package`), else the bundle a .vsix carries.
 */
export function agentScript(extensionPath: string): string {
  const built = path.join(extensionPath, 'out', 'native-agent', 'cli.js');
  return fs.existsSync(built) ? built : path.join(extensionPath, 'out', 'agent', 'cli.js');
}

/**
 * How to start `memscope serve`: for one target (`prefix`, so the agent
 * holds the target's address ranges from its first moment) or for discovery
 * only (null). Under memscope.agent.launchPrefix when set: an argument vector,
 * never a shell string (an Executable without options.shell is spawned with
 * execve). Refused settings are one sentence, before anything starts.
 */
export function agentServerOptions(extensionPath: string, prefix: string | null): ServerOptions {
  const s = settings();
  checkSettings(s, prefix ?? undefined);
  const script = agentScript(extensionPath);
  const serve = ['serve', ...(prefix ? ['--file-prefix', prefix] : []), ...s.runtimeDirs.flatMap((d) => ['--runtime-dir', d])];
  if (s.launchPrefix.length) {
    const { command, args } = agentCommand(s.launchPrefix, process.execPath, script, serve, AGENT_NODE_FLAGS);
    return { command, args, transport: TransportKind.stdio, options: { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } } };
  }
  return { module: script, args: serve, transport: TransportKind.stdio, options: { execArgv: [...AGENT_NODE_FLAGS] } };
}

/** The subscription the extension asks for: the settings' interval, history and trace dir, elements as columns. */
function subscribeParams(): SubscribeParams {
  const s = settings();
  return { intervalMs: s.pollIntervalMs, historySamples: s.historySamples, columns: true, ...(s.traceDir ? { traceDir: s.traceDir } : {}) };
}

export interface AgentEvents {
  /** A new live snapshot; `delta` when it came from a subscription delta (forward that, not the whole). */
  /** A new live snapshot; `delta` when it came from one (the Memory Map applies that instead). */
  onSnapshot(agent: Agent, s: Snapshot, delta?: { seq: number; delta: ColumnDelta }): void;
  onExited(agent: Agent, message: string): void;
  /** The primary stopped (SIGSTOP, a debugger) or runs again. */
  onTargetState(agent: Agent, stopped: boolean, message: string): void;
  /** Something the user should be told once (a restart). */
  notify(agent: Agent, level: 'info' | 'warning' | 'error', message: string): void;
}

export class Agent implements vscode.Disposable {
  private client: LanguageClient | null = null;
  private restarts: number[] = [];
  /** How many times the agent was restarted since the start. */
  restartCount = 0;
  /** Attached and subscribed: the snapshot follows the target. */
  live = false;
  private deltaSeq = 0;
  snapshot: Snapshot | null = null;
  attach: AttachResult | null = null;
  exited: string | null = null;
  /** The primary is stopped (SIGSTOP, a debugger): snapshots show it as it was. */
  targetStopped = false;

  constructor(
    readonly prefix: string,
    private readonly extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
    private readonly events: AgentEvents,
  ) {}

  private serverOptions(): ServerOptions {
    return agentServerOptions(this.extensionPath, this.prefix);
  }

  private clientOptions(): LanguageClientOptions {
    return {
      documentSelector: [],
      outputChannel: this.log,
      traceOutputChannel: this.log,
      connectionOptions: { maxRestartCount: 0 },
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
        closed: (): CloseHandlerResult => {
          this.live = false;
          if (this.exited) return { action: CloseAction.DoNotRestart, handled: true };
          const now = Date.now();
          this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
          if (this.restarts.length >= MAX_RESTARTS) {
            this.markExited(`the agent for "${this.prefix}" stopped ${MAX_RESTARTS + 1} times in ${RESTART_WINDOW_MS / 60000} minutes: see "DPDK Memscope: Show Agent Log", then attach again.`);
            return { action: CloseAction.DoNotRestart, handled: true };
          }
          this.restarts.push(now);
          this.restartCount++;
          this.events.notify(this, 'warning', `the agent for "${this.prefix}" stopped; restarting it (${this.restarts.length}/${MAX_RESTARTS}).`);
          return { action: CloseAction.Restart, handled: true };
        },
      },
    };
  }

  /**
   * Starts the agent, attaches and subscribes; resolves with the first
   * snapshot. An address conflict (the agent's own heap landed where the
   * primary's memory must go) happens before EAL is touched, so a fresh
   * agent process, which draws new addresses, is tried a few times.
   */
  async start(timeoutMs = 30_000): Promise<Snapshot> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce(timeoutMs);
      } catch (e) {
        if (!(e instanceof AgentError) || e.code !== 'address-conflict' || attempt >= MAX_CONFLICT_RETRIES) throw e;
        this.log.warn(`attach ${attempt}: ${e.message} Trying a fresh agent.`);
      }
    }
  }

  private async startOnce(timeoutMs: number): Promise<Snapshot> {
    this.client = new LanguageClient('memscope', `DPDK Memscope (${this.prefix})`, this.serverOptions(), this.clientOptions());
    this.client.onDidChangeState((e) => {
      // a restarted agent is a fresh process: attach and subscribe again
      if (e.oldState === State.Starting && e.newState === State.Running && this.attach) void this.reattach();
    });
    await withTimeout(this.client.start(), timeoutMs, `the agent for "${this.prefix}" did not start within ${timeoutMs / 1000} s: see the agent log.`);
    this.onNotification(
      AgentNotifications.delta,
      (n) => {
        if (!this.snapshot || this.behind || n.seq <= this.deltaSeq) return;
        let delta: ColumnDelta;
        try {
          // the slices are checked as they are decoded
          delta = liveDelta(n.delta);
          this.snapshot = applyColumnDelta(this.snapshot, delta);
        } catch (e) {
          this.dropped++;
          this.log.warn(`dropped a malformed ${AgentNotifications.delta.method} from the agent for "${this.prefix}": ${(e as Error).message}`);
          this.behind = true;
          void this.resync();
          return;
        }
        this.deltaSeq = n.seq;
        this.events.onSnapshot(this, this.snapshot, { seq: n.seq, delta });
      },
      // the live snapshot is now behind the target: a fresh one, and the deltas after it
      () => {
        this.behind = true;
        void this.resync();
      },
    );
    this.onNotification(AgentNotifications.targetExited, (n) => this.markExited(n.message));
    this.onNotification(AgentNotifications.targetState, (n) => {
      this.targetStopped = n.stopped;
      this.events.onTargetState(this, n.stopped, n.message.slice(0, 500));
    });
    try {
      return await this.attachAndSubscribe(timeoutMs);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Attach and subscribe on the running agent; `live` once both are done. */
  private async attachAndSubscribe(timeoutMs: number): Promise<Snapshot> {
    const s = settings();
    this.live = false;
    this.attach = await this.request(Requests.attach, {
      filePrefix: this.prefix,
      runtimeDirs: s.runtimeDirs,
      dpdkLib: s.dpdkLibraryPath,
      timeoutMs,
      allowLockingReads: s.allowLockingReads,
      extraEalArgs: s.ealExtraArgs,
    });
    const sub = await this.request(Requests.subscribe, subscribeParams());
    const snap = this.hydrate({ snapshot: sub.snapshot, columns: sub.columns });
    this.deltaSeq = 0;
    this.behind = false;
    this.snapshot = snap;
    this.live = true;
    this.events.onSnapshot(this, snap);
    return snap;
  }

  /**
   * After a restart. When this agent dies too before it is done, its
   * connection is gone and the close handler restarts it again (or gives up):
   * only an answer from a running agent (the target went, say) ends it here.
   */
  private async reattach(): Promise<void> {
    const client = this.client;
    try {
      await this.attachAndSubscribe(30_000);
    } catch (e) {
      if (this.client !== client || client?.state !== State.Running || (e instanceof AgentError && e.code === 'internal' && /disposed|closed|ended/i.test(e.message))) {
        this.log.info(`re-attach of "${this.prefix}" cut short (${(e as Error).message}); the restart policy decides what follows.`);
        return;
      }
      if (e instanceof AgentError && e.code === 'address-conflict') {
        // not a crash: this process drew addresses in the target's ranges; a fresh one draws new ones
        this.log.warn(`re-attach: ${e.message} Trying a fresh agent.`);
        await this.stop();
        try {
          await this.start();
        } catch (e2) {
          this.markExited((e2 as Error).message);
        }
        return;
      }
      this.markExited((e as Error).message);
    }
  }

  private markExited(message: string): void {
    if (this.exited) return;
    this.exited = message;
    this.events.onExited(this, message);
    void this.stop();
  }

  /** A request of common/rpc.ts; its result checked by that request's own check before anyone uses it. */
  async request<P, R>(spec: Request<P, R>, params: P): Promise<R> {
    if (!this.client) throw new AgentError('not-attached', `no agent runs for "${this.prefix}": attach first.`);
    let raw: unknown;
    try {
      raw = await this.client.sendRequest(spec.method, params);
    } catch (e) {
      throw asAgentError(e);
    }
    try {
      return checkedResult(spec, raw);
    } catch (e) {
      this.log.error(`the agent for "${this.prefix}" sent a malformed answer: ${(e as Error).message}`);
      throw new AgentError('protocol-violation', `the agent for "${this.prefix}" sent a malformed answer to ${spec.method} (${(e as Error).message}): see "DPDK Memscope: Show Agent Log".`);
    }
  }

  /** A notification of common/rpc.ts, checked by its own check: a malformed one is dropped, logged, and `dropped` runs. */
  private onNotification<P>(spec: Notification<P>, fn: (p: P) => void, dropped?: () => void): void {
    this.client!.onNotification(spec.method, (raw: unknown) => {
      let p: P;
      try {
        p = checkedNotification(spec, raw);
      } catch (e) {
        this.dropped++;
        this.log.warn(`dropped a malformed ${spec.method} from the agent for "${this.prefix}": ${(e as Error).message}`);
        dropped?.();
        return;
      }
      fn(p);
    });
  }

  /** Messages from the agent that failed their check (tests read it). */
  dropped = 0;
  /** A delta was dropped: the deltas after it do not apply until a fresh snapshot is in. */
  private behind = false;

  /** After a dropped delta: a fresh snapshot, and the deltas that follow it. */
  private async resync(): Promise<void> {
    const client = this.client;
    try {
      const sub = await this.request(Requests.subscribe, subscribeParams());
      if (this.client !== client) return;
      this.behind = false;
      this.deltaSeq = 0;
      this.snapshot = this.hydrate({ snapshot: sub.snapshot, columns: sub.columns });
      this.events.onSnapshot(this, this.snapshot);
    } catch (e) {
      this.log.warn(`re-subscribe after a dropped delta failed: ${(e as Error).message}`);
    }
  }

  /** The agent's column snapshot as the live snapshot; columns that do not fit are the agent's error. */
  private hydrate(cs: { snapshot: Snapshot; columns: unknown }): Snapshot {
    try {
      return hydrate(cs as ColumnSnapshot);
    } catch (e) {
      throw new AgentError('internal', `the agent for "${this.prefix}" sent a snapshot the extension cannot read (${(e as Error).message}): see "DPDK Memscope: Show Agent Log".`);
    }
  }

  async refresh(): Promise<Snapshot> {
    this.snapshot = this.hydrate((await this.request(Requests.snapshot, { columns: true })) as ColumnSnapshot);
    this.events.onSnapshot(this, this.snapshot);
    return this.snapshot;
  }

  registerTestBuffer(p: RegisterTestBufferParams): Promise<TestBufferInfo> {
    return this.request(Requests.registerTestBuffer, p);
  }

  unregisterTestBuffer(va: string): Promise<{ ownerPid: number }> {
    return this.request(Requests.unregisterTestBuffer, { va });
  }

  leaks(minAgeMs: number): Promise<Suspects> {
    return this.request(Requests.leaks, { minAgeMs: Math.round(minAgeMs) });
  }

  timeline(): Promise<TimelineResult> {
    return this.request(Requests.timeline, {});
  }

  resetLeaks(): Promise<null> {
    return this.request(Requests.resetLeaks, {});
  }

  dmabufQuery(mslIndex: number): Promise<DmabufQueryResult> {
    return this.request(Requests.dmabufQuery, { mslIndex });
  }

  /** Ends the agent: detaching is ending its process. */
  async stop(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    try {
      if (c.state === State.Running) await withTimeout(c.stop(2000), 3000, 'stop timed out');
    } catch {
      /* the process is gone or going */
    }
  }

  dispose(): void {
    void this.stop();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new AgentError('attach-timeout', message)), ms)))]).finally(() => clearTimeout(t));
}
