/**
 * DPDK Memscope for VS Code: attach to DPDK processes from the editor, see
 * their memory in a tree, a status bar item and a live map, register test
 * buffers, locate addresses. Each attached target has its own agent process
 * (extension/src/agent.ts); the extension host loads no native code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkInputs, inputProblem, MAX_SNAPSHOT_NAME } from '../../common/checks';
import { diffForLeaks, diffToCsv, diffToMarkdown, type SnapshotDiff } from '../../common/leaks';
import type { Suspects } from '../../common/leak-tracker';
import { describeLocation, locate, type Location, parseAddress } from '../../common/locate';
import { registerWarning } from '../../common/messages';
import type { TargetSummaryWire, TestBufferInfo } from '../../common/protocol';
import type { Snapshot } from '../../common/snapshot';
import { checkBufferSizes, PAGE_SIZES, parseSize } from '../../common/units';
import { Agent, AgentError } from './agent';
import { cliBundle, installChoices, nodeOnPath } from './install-cli';
import { LeaksPanel } from './leaksPanel';
import { snapshotMessage } from './map-message';
import { MAP_VIEW_TYPE, MapPanel } from './mapPanel';
import { type SavedSnapshot, SnapshotStore } from './snapshots';
import { checkSettings } from './launch';
import { runAgentCli, TargetLister } from './targets';
import { settings } from './settings';
import { bytes, type Node, registrations, StatusItem, TargetsTree } from './tree';

let state: State | undefined;

class State implements vscode.Disposable {
  readonly agents = new Map<string, Agent>();
  readonly log = vscode.window.createOutputChannel('DPDK Memscope', { log: true });
  readonly tree = new TargetsTree(() => [...this.agents.values()]);
  readonly status = new StatusItem();
  /** What the user was told, per target (tests read it: one message per event, no storm). */
  readonly told = new Map<string, string[]>();
  readonly treeView: vscode.TreeView<Node>;
  /** The discovery agent behind Attach's quick pick. */
  readonly lister: TargetLister;
  private treeTimer: NodeJS.Timeout | undefined;

  constructor(readonly ctx: vscode.ExtensionContext) {
    this.lister = new TargetLister(ctx.extensionPath, this.log);
    this.treeView = vscode.window.createTreeView('memscope.targets', { treeDataProvider: this.tree, showCollapseAll: true });
  }

  /** Tree and status bar follow the live snapshots, at most a few times a second. */
  changed(): void {
    this.status.update([...this.agents.values()]);
    if (this.treeTimer) return;
    this.treeTimer = setTimeout(() => {
      this.treeTimer = undefined;
      this.tree.refresh();
    }, 250);
    void vscode.commands.executeCommand('setContext', 'memscope.attached', [...this.agents.values()].some((a) => !a.exited));
    void vscode.commands.executeCommand('setContext', 'memscope.hasRegistrations', [...this.agents.values()].some((a) => a.snapshot && registrations(a.snapshot).length > 0));
  }

  /** One message to the user about a target, logged too. */
  tell(prefix: string, level: 'info' | 'warning' | 'error', message: string): void {
    const list = this.told.get(prefix) ?? [];
    list.push(message);
    this.told.set(prefix, list.slice(-50));
    this.log[level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'info'](message);
    const show = level === 'error' ? vscode.window.showErrorMessage : level === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(`DPDK Memscope: ${message}`);
  }

  dispose(): void {
    for (const a of this.agents.values()) a.dispose();
    this.agents.clear();
    void this.lister.dispose();
    this.status.dispose();
    this.log.dispose();
  }
}

/** A failed command: one error message (recorded under "*" for tests). */
function fail(e: unknown): void {
  const msg = e instanceof AgentError ? e.message : e instanceof Error ? e.message : String(e);
  if (state) state.tell('*', 'error', msg);
  else void vscode.window.showErrorMessage(`DPDK Memscope: ${msg}`);
}

/** Wraps a command: errors become one message, never a stack trace. */
function command<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R | undefined> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (e) {
      fail(e);
      return undefined;
    }
  };
}

/** The target a command is about: the argument, the only one, or a pick. */
async function pickAgent(arg?: unknown): Promise<Agent | undefined> {
  const s = state!;
  const prefix = typeof arg === 'string' ? arg : arg && typeof arg === 'object' && 'prefix' in arg ? String((arg as { prefix: unknown }).prefix) : arg && typeof arg === 'object' && 'agent' in arg ? (arg as { agent: Agent }).agent.prefix : undefined;
  if (prefix) return s.agents.get(prefix);
  const live = [...s.agents.values()];
  if (live.length <= 1) return live[0];
  const pick = await vscode.window.showQuickPick(
    live.map((a) => ({ label: a.prefix, description: a.exited ? 'exited' : `pid ${a.snapshot?.target.pid ?? '?'}${a.targetStopped ? ' (stopped)' : ''}`, agent: a })),
    { placeHolder: 'Which DPDK target?' },
  );
  return pick?.agent;
}

async function attach(arg?: unknown): Promise<Snapshot | undefined> {
  const s = state!;
  let prefix = typeof arg === 'string' ? arg : undefined;
  if (!prefix) {
    const targets = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Memscope: looking for DPDK processes' }, () => s.lister.list());
    if (!targets.length) {
      void vscode.window.showInformationMessage('DPDK Memscope: no DPDK process found (looked in /var/run/dpdk and $XDG_RUNTIME_DIR/dpdk); start one, or add its runtime dir to memscope.runtimeDirs.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      targets.map((t: TargetSummaryWire) => ({
        label: `${t.attachable ? '$(server-process)' : '$(circle-slash)'} ${t.filePrefix}`,
        description: `${t.root ? `${t.root.label}: ${t.runtimeDirInRoot} · ` : ''}pid ${t.pid ?? '?'} · ${t.alive ? 'alive' : 'dead'} · DPDK ${t.dpdkVersion ?? '?'}${t.layout ? ` (${t.layout} table)` : ''} · ${bytes(t.hugepageBytes)}`,
        detail: t.attachable ? undefined : t.reason,
        target: t,
      })),
      { placeHolder: 'Attach to which DPDK process?', matchOnDetail: true },
    );
    if (!pick) return undefined;
    if (!pick.target.attachable) throw new AgentError(pick.target.reasonCode ?? 'not-attachable', pick.target.reason ?? 'this target cannot be attached.');
    prefix = pick.target.filePrefix;
  }
  // the prefix and the settings the agent will get, by the CLI's and the agent's rules
  checkSettings(settings(), prefix);
  const old = s.agents.get(prefix);
  if (old && !old.exited) {
    MapPanel.get(prefix)?.panel.reveal();
    return old.snapshot ?? undefined;
  }
  old?.dispose();
  const agent = new Agent(prefix, s.ctx.extensionPath, s.log, {
    onSnapshot: (a, snap, delta) => {
      s.changed();
      MapPanel.get(a.prefix)?.post(delta ? { type: 'delta', seq: delta.seq, delta: delta.delta } : snapshotMessage(snap));
      LeaksPanel.get(a.prefix)?.onSnapshot(snap);
    },
    onExited: (a, message) => {
      s.changed();
      MapPanel.get(a.prefix)?.post({ type: 'status', text: `target exited: ${message}`, level: 'error' });
      // one message per target, not a dialog storm
      s.tell(a.prefix, 'warning', message);
    },
    onTargetState: (a, stopped, message) => {
      s.changed();
      MapPanel.get(a.prefix)?.post({ type: 'status', text: message, level: stopped ? 'warning' : 'info' });
      s.tell(a.prefix, stopped ? 'warning' : 'info', message);
    },
    notify: (a, level, message) => s.tell(a.prefix, level, message),
  });
  s.agents.set(prefix, agent);
  s.changed();
  try {
    // a launch prefix that cannot run the agent (sudo -n wanting a password) says so in one sentence
    if (settings().launchPrefix.length) await runAgentCli(s.ctx.extensionPath, ['--version'], 10_000);
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `DPDK Memscope: attaching to "${prefix}"`, cancellable: false },
      () => agent.start(),
    );
  } catch (e) {
    s.agents.delete(prefix);
    agent.dispose();
    s.changed();
    throw e;
  }
}

async function detach(arg?: unknown): Promise<void> {
  const agent = await pickAgent(arg);
  if (!agent) return;
  await agent.stop();
  state!.agents.delete(agent.prefix);
  MapPanel.get(agent.prefix)?.post({ type: 'status', text: `detached from "${agent.prefix}"`, level: 'info' });
  state!.changed();
}

interface RegisterArgs {
  prefix?: string;
  size?: string;
  pageSize?: '4K' | '2M' | '1G';
  backing?: 'auto' | 'udmabuf' | 'dma-heap' | 'memfd';
  dmabufOffset?: string;
  heap?: string | null;
  /** Tests and scripts confirm in advance; people are asked. */
  confirm?: boolean;
}

/** The multi-step input of "Register Test Buffer…", validated inline. */
async function registerTestBuffer(arg?: RegisterArgs): Promise<TestBufferInfo | undefined> {
  const agent = await pickAgent(arg);
  if (!agent) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  const a: RegisterArgs = { ...(arg ?? {}) };
  const title = 'Register Test Buffer';
  if (a.size === undefined) {
    a.size = await vscode.window.showInputBox({
      title: `${title} (1/5): size`,
      prompt: 'Size of the buffer, with a unit: 64M, 1G, 4096…',
      value: '64M',
      validateInput: (v) => (parseSize(v) === null ? 'A positive size: a number with K, M, G or T (e.g. 64M).' : null),
    });
    if (a.size === undefined) return undefined;
  }
  if (a.pageSize === undefined) {
    const p = await vscode.window.showQuickPick(
      [
        { label: '4K', description: 'regular pages (memfd, udmabuf, dma-heap)' },
        { label: '2M', description: '2 MB hugepages' },
        { label: '1G', description: '1 GB hugepages' },
      ],
      { title: `${title} (2/5): page size` },
    );
    if (!p) return undefined;
    a.pageSize = p.label as RegisterArgs['pageSize'];
  }
  if (a.backing === undefined) {
    const b = await vscode.window.showQuickPick(
      [
        { label: 'auto', description: 'udmabuf, else a dma-heap, else a memfd' },
        { label: 'udmabuf', description: 'a dma-buf from /dev/udmabuf' },
        { label: 'dma-heap', description: 'a dma-buf from /dev/dma_heap/system' },
        { label: 'memfd', description: 'no dma-buf: a memfd (hugetlb for 2M/1G)' },
      ],
      { title: `${title} (3/5): backing` },
    );
    if (!b) return undefined;
    a.backing = b.label as RegisterArgs['backing'];
  }
  const size = parseSize(a.size) ?? 0;
  const page = PAGE_SIZES[a.pageSize!]!;
  if (a.dmabufOffset === undefined) {
    a.dmabufOffset = await vscode.window.showInputBox({
      title: `${title} (4/5): dma-buf offset`,
      prompt: 'Where in the dma-buf the registered region starts (page-aligned)',
      value: '0',
      validateInput: (v) => {
        const n = v.trim() === '0' ? 0 : parseSize(v);
        if (n === null) return 'A size: 0, or a number with K, M or G.';
        return checkBufferSizes(size, page, n);
      },
    });
    if (a.dmabufOffset === undefined) return undefined;
  }
  if (a.heap === undefined) {
    const h = await vscode.window.showInputBox({
      title: `${title} (5/5): malloc heap (optional)`,
      prompt: 'Name a malloc heap to create on the buffer, or leave empty',
      validateInput: (v) => (v === '' || /^[A-Za-z0-9_.-]{1,31}$/.test(v) ? null : "At most 31 letters, digits, '_', '.' or '-'."),
    });
    if (h === undefined) return undefined;
    a.heap = h || null;
  }
  const sizeProblem = checkBufferSizes(size, page, a.dmabufOffset === '0' ? 0 : parseSize(a.dmabufOffset) ?? -1);
  if (sizeProblem) throw new AgentError('bad-arguments', sizeProblem);
  if (a.confirm !== true) {
    const go = await vscode.window.showWarningMessage(registerWarning(agent.prefix), { modal: true }, 'Register');
    if (go !== 'Register') return undefined;
  }
  const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `DPDK Memscope: registering ${a.size} in "${agent.prefix}"` }, () =>
    agent.registerTestBuffer({
      size: a.size!,
      pageSize: a.pageSize!,
      backing: a.backing!,
      dmabufOffset: a.dmabufOffset!,
      heap: a.heap ?? null,
      confirm: true,
    }),
  );
  void vscode.window.showInformationMessage(
    `DPDK Memscope: registered ${bytes(info.len)} at ${info.va} (memseg list ${info.mslIndex}, fd ${info.fd}, offset ${info.offset}, ${info.backing}${info.heap ? `, heap "${info.heap}"` : ''}).`,
  );
  await agent.refresh();
  MapPanel.get(agent.prefix)?.post({ type: 'reveal', address: info.va });
  return info;
}

async function unregisterTestBuffer(arg?: { prefix?: string; va?: string; agent?: Agent; address?: string }): Promise<boolean> {
  const agent = await pickAgent(arg);
  if (!agent?.snapshot) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  let va = arg?.va ?? arg?.address;
  if (!va) {
    const regs = registrations(agent.snapshot);
    if (!regs.length) {
      void vscode.window.showInformationMessage(`DPDK Memscope: nothing registered through Memscope in "${agent.prefix}".`);
      return false;
    }
    const pick = await vscode.window.showQuickPick(
      regs.map((l) => ({ label: l.baseVa, description: `${bytes(l.len)} · list ${l.index} · ${l.registration!.kind} · pid ${l.registration!.ownerPid}` })),
      { placeHolder: 'Unregister which test buffer?' },
    );
    if (!pick) return false;
    va = pick.label;
  }
  await agent.unregisterTestBuffer(va);
  await agent.refresh();
  return true;
}

async function locateAddress(arg?: { prefix?: string; address?: string } | string): Promise<Location | undefined> {
  const agent = await pickAgent(typeof arg === 'object' ? arg : undefined);
  if (!agent?.snapshot) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  const text =
    (typeof arg === 'string' ? arg : arg?.address) ??
    (await vscode.window.showInputBox({
      title: 'Locate Address',
      prompt: 'An address from a log or a crash (0x7f…)',
      validateInput: (v) => (parseAddress(v) === null ? 'An address: 0x followed by hex digits.' : null),
    }));
  if (!text) return undefined;
  const addr = parseAddress(text);
  if (addr === null) throw new AgentError('bad-arguments', `"${text.slice(0, 40)}" holds no address: paste a hex address such as 0x7f12a000.`);
  const loc = locate(agent.snapshot, addr);
  void vscode.window.showInformationMessage(`DPDK Memscope: ${describeLocation(loc)}`);
  MapPanel.show(agent.prefix, state!.ctx.extensionUri, state!.log, () => agent.snapshot).post({ type: 'reveal', address: loc.address });
  return loc;
}

function store(): SnapshotStore {
  const base = state!.ctx.storageUri ?? state!.ctx.globalStorageUri;
  return new SnapshotStore(vscode.Uri.joinPath(base, 'snapshots').fsPath);
}

/** Named, time-stamped, kept in workspace storage; returns the saved entry. */
async function takeSnapshot(arg?: { prefix?: string; name?: string } | string): Promise<SavedSnapshot | undefined> {
  const agent = await pickAgent(typeof arg === 'string' ? arg : arg);
  if (!agent) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  const snap = await agent.refresh();
  let name = typeof arg === 'object' ? arg.name : undefined;
  if (name === undefined) {
    name = await vscode.window.showInputBox({
      title: 'Take Snapshot',
      prompt: `A name for this snapshot of "${agent.prefix}"`,
      value: `${agent.prefix} ${new Date(snap.takenAt).toLocaleTimeString()}`,
      validateInput: (v) => (inputProblem('snapshotName', v) ? `1 to ${MAX_SNAPSHOT_NAME} visible characters (this name ${inputProblem('snapshotName', v)}).` : null),
    });
    if (name === undefined) return undefined;
  }
  checkInputs('settings', { snapshotName: name });
  const saved = store().save(snap, name);
  LeaksPanel.get(agent.prefix)?.snapshotsChanged();
  void vscode.window.showInformationMessage(`DPDK Memscope: snapshot "${name}" of "${agent.prefix}" saved.`);
  return saved;
}

async function importSnapshot(arg?: { path?: string }): Promise<SavedSnapshot | undefined> {
  const file =
    arg?.path ??
    (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Memscope snapshot': ['json'] }, title: 'Import a Memscope snapshot' }))?.[0]?.fsPath;
  if (!file) return undefined;
  let saved: SavedSnapshot;
  try {
    saved = store().import(file);
  } catch (e) {
    throw new AgentError('bad-snapshot', (e as Error).message);
  }
  LeaksPanel.get(saved.prefix)?.snapshotsChanged();
  void vscode.window.showInformationMessage(`DPDK Memscope: imported "${saved.name}" (${saved.prefix}, ${saved.takenAt}).`);
  return saved;
}

let lastDiff: SnapshotDiff | null = null;

/** Diffs two saved snapshots (ids or paths), shows the diff in the Leaks panel, returns it. */
async function compareSnapshots(arg?: { a?: string; b?: string }): Promise<SnapshotDiff | undefined> {
  let [a, b] = [arg?.a, arg?.b];
  const st = store();
  if (!a || !b) {
    const all = st.list();
    if (all.length < 2) {
      void vscode.window.showInformationMessage('DPDK Memscope: take or import two snapshots first ("DPDK Memscope: Take Snapshot").');
      return undefined;
    }
    const items = all.map((s) => ({ label: s.name, description: `${s.prefix} · ${s.takenAt} · ${s.elements} elements`, id: s.id }));
    const first = await vscode.window.showQuickPick(items, { placeHolder: 'Compare from (older) snapshot' });
    if (!first) return undefined;
    const second = await vscode.window.showQuickPick(items.filter((i) => i !== first), { placeHolder: 'to (newer) snapshot' });
    if (!second) return undefined;
    [a, b] = [first.id, second.id];
  }
  let sa: Snapshot;
  let sb: Snapshot;
  try {
    [sa, sb] = [st.load(a), st.load(b)];
  } catch (e) {
    throw new AgentError('bad-snapshot', (e as Error).message);
  }
  // older first, whichever order they were picked in
  if (Date.parse(sa.takenAt) > Date.parse(sb.takenAt)) [sa, sb] = [sb, sa];
  const d = diffForLeaks(sa, sb);
  lastDiff = d;
  void vscode.commands.executeCommand('setContext', 'memscope.hasDiff', true);
  const prefix = sb.target.filePrefix;
  showLeaksPanel(prefix).post({ type: 'diff', diff: d });
  return d;
}

/** Writes the last diff as Markdown or CSV; returns the file. */
async function exportDiff(arg?: { format?: 'markdown' | 'csv'; path?: string }): Promise<string | undefined> {
  if (!lastDiff) throw new AgentError('bad-arguments', 'there is no diff to export: run "DPDK Memscope: Compare Snapshots…" first.');
  let format = arg?.format;
  if (!format) {
    const pick = await vscode.window.showQuickPick([{ label: 'Markdown', f: 'markdown' as const }, { label: 'CSV', f: 'csv' as const }], { placeHolder: 'Export the diff as' });
    if (!pick) return undefined;
    format = pick.f;
  }
  const ext = format === 'markdown' ? 'md' : 'csv';
  const target =
    arg?.path ??
    (await vscode.window.showSaveDialog({ filters: format === 'markdown' ? { Markdown: ['md'] } : { CSV: ['csv'] }, defaultUri: vscode.Uri.file(`memscope-diff.${ext}`) }))?.fsPath;
  if (!target) return undefined;
  fs.writeFileSync(target, format === 'markdown' ? diffToMarkdown(lastDiff) : diffToCsv(lastDiff));
  void vscode.window.showInformationMessage(`DPDK Memscope: diff written to ${path.basename(target)}.`);
  return target;
}

function showLeaksPanel(prefix: string): LeaksPanel {
  const s = state!;
  return LeaksPanel.show(prefix, s.ctx.extensionUri, s.log, {
    agent: () => s.agents.get(prefix),
    store: store(),
    compare: (a, b) => compareSnapshots({ a, b }),
    exportDiff: (format) => exportDiff({ format }),
    takeSnapshot: (p) => takeSnapshot(p),
    reveal: (p, address) => void vscode.commands.executeCommand('memscope.revealAddress', p, address),
  });
}

/** Opens the Leaks panel; returns the suspected leaks the agent sees now. */
async function showLeaks(arg?: unknown): Promise<Suspects | undefined> {
  const agent = await pickAgent(arg);
  if (!agent) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  showLeaksPanel(agent.prefix);
  return agent.leaks(settings().leakMinAgeMs);
}

async function resetLeakBaseline(arg?: unknown): Promise<boolean> {
  const agent = await pickAgent(arg);
  if (!agent) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  await agent.resetLeaks();
  await LeaksPanel.get(agent.prefix)?.refreshSuspects();
  void vscode.window.showInformationMessage(`DPDK Memscope: leak baseline of "${agent.prefix}" reset; what exists now is not suspected.`);
  return true;
}

async function exportSnapshot(arg?: { prefix?: string; path?: string }): Promise<string | undefined> {
  const agent = await pickAgent(arg);
  if (!agent?.snapshot) throw new AgentError('not-attached', 'attach to a DPDK process first.');
  const target =
    arg?.path ??
    (await vscode.window.showSaveDialog({ filters: { 'Memscope snapshot': ['memscope.json', 'json'] }, defaultUri: vscode.Uri.file(`${agent.prefix}.memscope.json`) }))?.fsPath;
  if (!target) return undefined;
  fs.writeFileSync(target, JSON.stringify(agent.snapshot));
  return target;
}

/**
 * "Install CLI on PATH": `memscope install` from the CLI this extension
 * carries, in a terminal (sudo may ask there); returns the prefix chosen.
 */
async function installCli(): Promise<string | undefined> {
  const bundle = cliBundle(state!.ctx.extensionPath);
  if (!bundle) throw new AgentError('bad-arguments', `this copy of the extension carries no one-file CLI (out/agent/cli.js): in a checkout, run \`npm run install-cli\` instead.`);
  const node = nodeOnPath(process.env.PATH ?? '');
  if (!node) throw new AgentError('bad-arguments', 'no `node` on PATH here, and the installed memscope runs the first node on PATH: install Node.js 20 or later, then run this command again.');
  const choices = installChoices(bundle, node, process.getuid?.() ?? -1, os.homedir());
  const pick =
    choices.length === 1
      ? choices[0]
      : (await vscode.window.showQuickPick(choices.map((c) => ({ label: c.label, detail: c.detail, choice: c })), { title: 'Install the memscope CLI into' }))?.choice;
  if (!pick) return undefined;
  const term = vscode.window.createTerminal({ name: 'memscope install', shellPath: pick.command, shellArgs: pick.args });
  term.show();
  return pick.args[pick.args.length - 1];
}

export function activate(ctx: vscode.ExtensionContext): void {
  state = new State(ctx);
  const s = state;
  ctx.subscriptions.push(
    s,
    s.treeView,
    vscode.commands.registerCommand(
      'memscope.attach',
      command(async (arg?: unknown) => {
        const snap = await attach(arg);
        // from the palette: the tree comes forward and the map opens beside it
        if (snap && settings().revealOnAttach) await revealAttached(snap.target.filePrefix);
        return snap;
      }),
    ),
    vscode.commands.registerCommand('memscope.detach', command(detach)),
    vscode.commands.registerCommand(
      'memscope.openMap',
      command(async (arg?: unknown) => {
        const agent = await pickAgent(arg);
        if (!agent) throw new AgentError('not-attached', 'attach to a DPDK process first ("DPDK Memscope: Attach to DPDK Process…").');
        MapPanel.show(agent.prefix, ctx.extensionUri, s.log, () => agent.snapshot);
        return agent.prefix;
      }),
    ),
    vscode.commands.registerCommand(
      'memscope.refresh',
      command(async () => {
        for (const a of s.agents.values()) if (!a.exited) await a.refresh();
      }),
    ),
    vscode.commands.registerCommand('memscope.registerTestBuffer', command(registerTestBuffer)),
    vscode.commands.registerCommand('memscope.unregisterTestBuffer', command(unregisterTestBuffer)),
    vscode.commands.registerCommand('memscope.locateAddress', command(locateAddress)),
    vscode.commands.registerCommand('memscope.takeSnapshot', command(takeSnapshot)),
    vscode.commands.registerCommand('memscope.compareSnapshots', command(compareSnapshots)),
    vscode.commands.registerCommand('memscope.exportSnapshot', command(exportSnapshot)),
    vscode.commands.registerCommand('memscope.importSnapshot', command(importSnapshot)),
    vscode.commands.registerCommand('memscope.exportDiff', command(exportDiff)),
    vscode.commands.registerCommand('memscope.showLeaks', command(showLeaks)),
    vscode.commands.registerCommand('memscope.resetLeakBaseline', command(resetLeakBaseline)),
    vscode.commands.registerCommand('memscope.showAgentLog', () => s.log.show()),
    vscode.commands.registerCommand('memscope.installCli', command(installCli)),
    vscode.commands.registerCommand(
      'memscope.revealAddress',
      command(async (prefix: string, address: string) => {
        const agent = s.agents.get(prefix);
        if (!agent) return;
        MapPanel.show(prefix, ctx.extensionUri, s.log, () => agent.snapshot).post({ type: 'reveal', address });
      }),
    ),
    /** For tests and scripts: the live snapshot of a target, and the tree's labels under it. */
    vscode.commands.registerCommand('memscope.internal.snapshot', (prefix: string) => s.agents.get(prefix)?.snapshot ?? null),
    vscode.commands.registerCommand('memscope.internal.tree', (prefix: string) => s.tree.labels(prefix)),
    vscode.commands.registerCommand('memscope.internal.state', (prefix: string) => {
      const a = s.agents.get(prefix);
      return {
        agentPid: a?.attach?.agentPid ?? null,
        exited: a?.exited ?? null,
        restarts: a?.restartCount ?? 0,
        live: a?.live ?? false,
        told: s.told.get(prefix) ?? [],
        mapStatus: MapPanel.get(prefix)?.lastStatus ?? null,
        mapOpen: !!MapPanel.get(prefix),
        dropped: a?.dropped ?? 0,
        treeVisible: s.treeView.visible,
        leaksPanel: LeaksPanel.get(prefix) ? { suspects: LeaksPanel.get(prefix)!.lastSuspects, diff: !!LeaksPanel.get(prefix)!.lastDiff } : null,
      };
    }),
    vscode.window.registerWebviewPanelSerializer(MAP_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, saved: unknown) {
        const prefix = saved && typeof saved === 'object' && typeof (saved as { prefix?: unknown }).prefix === 'string' ? (saved as { prefix: string }).prefix : panel.title.replace(/^Memory Map: /, '');
        MapPanel.revive(panel, prefix, ctx.extensionUri, s.log, () => s.agents.get(prefix)?.snapshot ?? null);
      },
    }),
  );
  void vscode.commands.executeCommand('setContext', 'memscope.attached', false);
  void autoAttach();
}

/** Brings the Memscope view forward (its Targets tree) and opens the target's map in the editor area. */
async function revealAttached(prefix: string): Promise<void> {
  const agent = state?.agents.get(prefix);
  if (!agent) return;
  await vscode.commands.executeCommand('memscope.targets.focus');
  MapPanel.show(prefix, state!.ctx.extensionUri, state!.log, () => agent.snapshot);
}

/**
 * A workspace holding `.memscope-attach.json` ({"prefix": "…"}), as
 * `npm run demo` makes, attaches to that target and opens its map.
 */
async function autoAttach(): Promise<void> {
  for (const f of vscode.workspace.workspaceFolders ?? []) {
    const file = path.join(f.uri.fsPath, '.memscope-attach.json');
    if (!fs.existsSync(file)) continue;
    try {
      const { prefix } = JSON.parse(fs.readFileSync(file, 'utf8')) as { prefix?: unknown };
      if (typeof prefix !== 'string') throw new AgentError('bad-arguments', `${file} names no "prefix": write {"prefix": "<file prefix>"}.`);
      if (await attach(prefix)) await revealAttached(prefix);
    } catch (e) {
      console.error(`memscope: auto-attach from ${file} failed: ${(e as Error).message}`);
      fail(e);
    }
  }
}

export function deactivate(): void {
  for (const p of MapPanel.all()) p.dispose();
  for (const p of LeaksPanel.all()) p.dispose();
  state?.dispose();
  state = undefined;
}
