/**
 * The Leaks panel: one per target, fed with the agent's timeline (then a
 * point per live snapshot), the saved snapshots, suspected leaks (refreshed
 * every few seconds while visible) and the last diff. Every message from the
 * page is validated before it is looked at.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { type FromLeaks, type ToLeaks, validateFromLeaks } from '../../common/leaks-protocol';
import type { SnapshotDiff } from '../../common/leaks';
import { timelinePoint } from '../../common/leak-tracker';
import type { Snapshot } from '../../common/snapshot';
import { renderLeaksHtml } from '../../webview/html';
import type { Agent } from './agent';
import { settings } from './settings';
import type { SnapshotStore } from './snapshots';

export const LEAKS_VIEW_TYPE = 'memscope.leaks';
const SUSPECTS_EVERY_MS = 5000;

export interface LeaksActions {
  /** The target's live agent, if attached. */
  agent(): Agent | undefined;
  store: SnapshotStore;
  compare(a: string, b: string, prefix: string): Promise<SnapshotDiff | undefined>;
  exportDiff(format: 'markdown' | 'csv'): Promise<string | undefined>;
  takeSnapshot(prefix: string): Promise<unknown>;
  reveal(prefix: string, address: string): void;
}

export class LeaksPanel implements vscode.Disposable {
  private static readonly panels = new Map<string, LeaksPanel>();
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** What the page was last sent (tests read it through memscope.internal.state). */
  lastSuspects: number | null = null;
  lastDiff: SnapshotDiff | null = null;

  private constructor(
    readonly prefix: string,
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly actions: LeaksActions,
  ) {
    const root = vscode.Uri.joinPath(extensionUri, 'out', 'webview');
    panel.webview.options = { enableScripts: true, localResourceRoots: [root] };
    panel.webview.html = renderLeaksHtml({
      cspSource: panel.webview.cspSource,
      nonce: crypto.randomBytes(18).toString('base64'),
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(root, 'leaks.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(root, 'style.css')).toString(),
    });
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'memscope.svg');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => this.schedule()),
      vscode.window.onDidChangeActiveColorTheme(() => this.post({ type: 'theme' })),
    );
    LeaksPanel.panels.set(prefix, this);
  }

  static show(prefix: string, extensionUri: vscode.Uri, log: vscode.LogOutputChannel, actions: LeaksActions): LeaksPanel {
    const existing = LeaksPanel.panels.get(prefix);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(LEAKS_VIEW_TYPE, `Leaks: ${prefix}`, vscode.ViewColumn.Active, { enableScripts: true, retainContextWhenHidden: true });
    return new LeaksPanel(prefix, panel, extensionUri, log, actions);
  }

  static get(prefix: string): LeaksPanel | undefined {
    return LeaksPanel.panels.get(prefix);
  }

  static all(): LeaksPanel[] {
    return [...LeaksPanel.panels.values()];
  }

  post(m: ToLeaks): void {
    if (m.type === 'diff') this.lastDiff = m.diff;
    if (!this.ready) return; // the page asks for everything when it is ready
    void this.panel.webview.postMessage(m);
  }

  /** A live snapshot: one more point on the timeline. */
  onSnapshot(s: Snapshot): void {
    if (this.ready) this.post({ type: 'point', point: timelinePoint(s) });
  }

  snapshotsChanged(): void {
    const list = this.actions.store.list(this.prefix);
    this.post({
      type: 'snapshots',
      list: list.map((s) => ({ id: s.id, name: s.name, takenAt: s.takenAt, elements: s.elements })),
      markers: list.map((s) => ({ t: Date.parse(s.takenAt), id: s.id, name: s.name })),
    });
  }

  /** Asks the agent for suspected leaks and shows them; their count, or null without an agent. */
  async refreshSuspects(): Promise<number | null> {
    const agent = this.actions.agent();
    if (!agent || agent.exited) return null;
    const minAgeMs = settings().leakMinAgeMs;
    try {
      const suspects = await agent.leaks(minAgeMs);
      this.lastSuspects = suspects.elements.length + suspects.pools.length;
      this.post({ type: 'suspects', suspects, minAgeMs });
      return this.lastSuspects;
    } catch (e) {
      this.log.warn(`leaks: ${(e as Error).message}`);
      return null;
    }
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.panel.visible) this.timer = setInterval(() => void this.refreshSuspects(), SUSPECTS_EVERY_MS);
  }

  private async start(): Promise<void> {
    this.ready = true;
    const agent = this.actions.agent();
    this.post({ type: 'target', filePrefix: this.prefix, pid: agent?.snapshot?.target.pid ?? null });
    if (agent && !agent.exited) {
      try {
        const tl = await agent.timeline();
        this.post({ type: 'timeline', points: tl.points, maxSamples: tl.maxSamples });
      } catch (e) {
        this.log.warn(`leaks: timeline: ${(e as Error).message}`);
      }
    } else {
      this.post({ type: 'status', text: `not attached to "${this.prefix}": the timeline and suspected leaks need an attached agent; saved snapshots can still be compared.`, level: 'warning' });
    }
    this.snapshotsChanged();
    if (this.lastDiff) this.post({ type: 'diff', diff: this.lastDiff });
    await this.refreshSuspects();
    this.schedule();
  }

  private async receive(raw: unknown): Promise<void> {
    const msg: FromLeaks | null = validateFromLeaks(raw);
    if (!msg) {
      this.log.warn(`leaks panel: dropped a malformed message from the webview: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    try {
      switch (msg.type) {
        case 'ready':
          await this.start();
          break;
        case 'compare':
          await this.actions.compare(msg.a, msg.b, this.prefix);
          break;
        case 'compareSpan': {
          const inside = this.actions.store.list(this.prefix).filter((s) => {
            const t = Date.parse(s.takenAt);
            return t >= msg.from && t <= msg.to;
          });
          if (inside.length < 2) {
            this.post({ type: 'status', text: `${inside.length} saved snapshot${inside.length === 1 ? '' : 's'} in that span: the element-by-element diff needs two (Take Snapshot).`, level: 'info' });
            break;
          }
          await this.actions.compare(inside[0]!.id, inside[inside.length - 1]!.id, this.prefix);
          break;
        }
        case 'reveal':
          this.actions.reveal(this.prefix, msg.address);
          break;
        case 'refreshSuspects':
          await this.refreshSuspects();
          break;
        case 'export':
          await this.actions.exportDiff(msg.format);
          break;
        case 'takeSnapshot':
          await this.actions.takeSnapshot(this.prefix);
          break;
        case 'resetBaseline': {
          const agent = this.actions.agent();
          if (agent && !agent.exited) {
            await agent.resetLeaks();
            await this.refreshSuspects();
            this.post({ type: 'status', text: 'leak baseline reset: what exists now is not suspected.', level: 'info' });
          }
          break;
        }
        case 'log':
          this.log[msg.level === 'error' ? 'error' : msg.level === 'warn' ? 'warn' : 'info'](`leaks panel: ${msg.message}`);
          break;
      }
    } catch (e) {
      this.post({ type: 'status', text: (e as Error).message, level: 'error' });
    }
  }

  dispose(): void {
    LeaksPanel.panels.delete(this.prefix);
    if (this.timer) clearInterval(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
