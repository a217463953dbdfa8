/**
 * The Memory Map webview panel: one per target, restored after a reload by a
 * WebviewPanelSerializer. The page is the bundled d3 + canvas map
 * (webview/), served under a strict CSP with a nonce; every message from the
 * page is validated before it is looked at.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { type FromWebview, type ToWebview, validateFromWebview } from '../../common/webview-protocol';
import type { Snapshot } from '../../common/snapshot';
import { renderHtml } from '../../webview/html';
import { snapshotMessage } from './map-message';

export const MAP_VIEW_TYPE = 'memscope.memoryMap';

export class MapPanel implements vscode.Disposable {
  private static readonly panels = new Map<string, MapPanel>();
  private ready = false;
  private pending: ToWebview[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  /** The last status line sent to the page. */
  lastStatus: string | null = null;

  private constructor(
    readonly prefix: string,
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    /** The target's live snapshot: what a (re)loaded page starts from. */
    private readonly latest: () => Snapshot | null,
  ) {
    const root = vscode.Uri.joinPath(extensionUri, 'out', 'webview');
    panel.webview.options = { enableScripts: true, localResourceRoots: [root] };
    const nonce = crypto.randomBytes(18).toString('base64');
    panel.webview.html = renderHtml({
      cspSource: panel.webview.cspSource,
      nonce,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(root, 'main.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(root, 'style.css')).toString(),
    });
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'memscope.svg');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      panel.onDidDispose(() => this.dispose()),
      vscode.window.onDidChangeActiveColorTheme(() => this.post({ type: 'theme' })),
    );
    MapPanel.panels.set(prefix, this);
  }

  static show(prefix: string, extensionUri: vscode.Uri, log: vscode.LogOutputChannel, latest: () => Snapshot | null): MapPanel {
    const existing = MapPanel.panels.get(prefix);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(MAP_VIEW_TYPE, `Memory Map: ${prefix}`, vscode.ViewColumn.Active, { enableScripts: true, retainContextWhenHidden: false });
    return new MapPanel(prefix, panel, extensionUri, log, latest);
  }

  static revive(panel: vscode.WebviewPanel, prefix: string, extensionUri: vscode.Uri, log: vscode.LogOutputChannel, latest: () => Snapshot | null): MapPanel {
    const p = new MapPanel(prefix, panel, extensionUri, log, latest);
    if (!latest()) p.post({ type: 'status', text: `not attached to "${prefix}": run "DPDK Memscope: Attach to DPDK Process…"`, level: 'warning' });
    return p;
  }

  static get(prefix: string): MapPanel | undefined {
    return MapPanel.panels.get(prefix);
  }

  static all(): MapPanel[] {
    return [...MapPanel.panels.values()];
  }

  /** Queues until the page says it is ready; snapshots replace queued ones. */
  post(msg: ToWebview): void {
    if (msg.type === 'status') this.lastStatus = msg.text;
    if (!this.ready) {
      if (msg.type === 'snapshot') this.pending = this.pending.filter((m) => m.type !== 'snapshot' && m.type !== 'delta');
      this.pending.push(msg);
      return;
    }
    void this.panel.webview.postMessage(msg);
  }

  private receive(raw: unknown): void {
    const msg: FromWebview | null = validateFromWebview(raw);
    if (!msg) {
      this.log.warn(`memory map: dropped a malformed message from the webview: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (msg.type) {
      case 'ready': {
        // a new page, a reloaded one, or one that missed a delta: start it
        // from the live snapshot, then what was queued
        this.ready = true;
        const snap = this.latest();
        if (snap) void this.panel.webview.postMessage(snapshotMessage(snap) satisfies ToWebview);
        for (const m of this.pending.splice(0)) if (m.type !== 'snapshot' && m.type !== 'delta') void this.panel.webview.postMessage(m);
        break;
      }
      case 'log':
        this.log[msg.level === 'error' ? 'error' : msg.level === 'warn' ? 'warn' : 'info'](`memory map: ${msg.message}`);
        break;
      default:
        break;
    }
  }

  dispose(): void {
    MapPanel.panels.delete(this.prefix);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
