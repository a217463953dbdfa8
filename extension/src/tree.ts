/**
 * The Memscope tree: targets → memseg lists (→ segments), heaps (→ largest
 * elements), memzones, mempools, registered buffers. Built from each agent's
 * live snapshot; nodes carry `contextValue`s for their context menus.
 */
import * as vscode from 'vscode';
import type { Heap, MemsegList, Snapshot } from '../../common/snapshot';
import type { Agent } from './agent';

import { formatBytes as bytes } from '../../common/units';
import { elementCount } from './map-message';

export { bytes };

export type Node =
  | { kind: 'target'; agent: Agent }
  | { kind: 'group'; agent: Agent; group: 'lists' | 'heaps' | 'memzones' | 'mempools' | 'buffers' }
  | { kind: 'list'; agent: Agent; list: MemsegList }
  | { kind: 'heap'; agent: Agent; heap: Heap }
  | { kind: 'leaf'; agent: Agent; label: string; description?: string; tooltip?: string; address?: string; context?: string; icon?: string };

const SEGMENTS_SHOWN = 200;
const ELEMENTS_SHOWN = 20;

export class TargetsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly agents: () => Agent[]) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(n: Node): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (n.kind) {
      case 'target': {
        const s = n.agent.snapshot;
        const item = new vscode.TreeItem(n.agent.prefix, C.Expanded);
        item.description = n.agent.exited ? 'target exited' : s ? `pid ${s.target.pid} · DPDK ${s.target.dpdkVersion}${s.target.root ? ` · ${s.target.root}` : ''} · ${n.agent.attach?.access ?? ''}` : 'attaching…';
        item.tooltip = n.agent.exited ?? (s?.target.layout ? `DPDK ${s.target.dpdkVersion}, read with Memscope's ${s.target.layout}${s.target.root ? `; the primary lives in ${s.target.root} (${s.target.runtimeDir})` : ''}` : undefined);
        item.iconPath = new vscode.ThemeIcon(n.agent.exited ? 'debug-disconnect' : 'server-process');
        item.contextValue = 'memscope.target';
        return item;
      }
      case 'group': {
        const s = n.agent.snapshot!;
        const count = { lists: s.memsegLists.length, heaps: s.heaps.length, memzones: s.memzones.length, mempools: s.mempools.length, buffers: registrations(s).length }[n.group];
        const label = { lists: 'Memseg lists', heaps: 'Heaps', memzones: 'Memzones', mempools: 'Mempools', buffers: 'Registered buffers' }[n.group];
        const item = new vscode.TreeItem(label, count ? C.Collapsed : C.None);
        item.description = String(count);
        item.iconPath = new vscode.ThemeIcon({ lists: 'layers', heaps: 'database', memzones: 'symbol-namespace', mempools: 'package', buffers: 'link' }[n.group]);
        return item;
      }
      case 'list': {
        const l = n.list;
        const item = new vscode.TreeItem(`list ${l.index} · ${bytes(l.pageSize)} pages`, l.segments.length ? C.Collapsed : C.None);
        const badges = [l.external ? 'external' : '', l.dmabuf ? `dma-buf fd ${l.dmabuf.fd}` : l.registration ? l.registration.kind : '', l.state !== 'ok' ? l.state.toUpperCase() : ''].filter(Boolean);
        item.description = `${l.segmentCount}/${l.capacity} segs · socket ${l.socketId}${badges.length ? ' · ' + badges.join(' · ') : ''}`;
        item.tooltip = new vscode.MarkdownString(
          [`**memseg list ${l.index}** at \`${l.baseVa}\` (${bytes(l.len)} reserved)`, l.warning ? `⚠ ${l.warning}` : '', l.backing ? `backing: ${l.backing.kind} ${l.backing.path} (pid ${l.backing.ownerPid})` : ''].filter(Boolean).join('\n\n'),
        );
        item.iconPath = new vscode.ThemeIcon(l.state === 'orphaned' ? 'warning' : l.external ? 'plug' : 'layers', l.state === 'orphaned' ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined);
        item.contextValue = 'memscope.list';
        return item;
      }
      case 'heap': {
        const h = n.heap;
        const used = h.totalSize ? (h.totalSize - h.freeSize) / h.totalSize : 0;
        const item = new vscode.TreeItem(h.name, h.elementsAvailable && elementCount(h) ? C.Collapsed : C.None);
        item.description = `${bytes(h.totalSize - h.freeSize)} / ${bytes(h.totalSize)} used (${(used * 100).toFixed(0)}%) · ${h.allocCount} allocs`;
        item.tooltip = h.reason ?? undefined;
        item.iconPath = new vscode.ThemeIcon('database');
        item.contextValue = 'memscope.heap';
        return item;
      }
      case 'leaf': {
        const item = new vscode.TreeItem(n.label, C.None);
        item.description = n.description;
        item.tooltip = n.tooltip;
        if (n.icon) item.iconPath = new vscode.ThemeIcon(n.icon);
        if (n.context) item.contextValue = n.context;
        if (n.address) item.command = { command: 'memscope.revealAddress', title: 'Reveal in Memory Map', arguments: [n.agent.prefix, n.address] };
        return item;
      }
    }
  }

  /** Labels of a target's nodes two levels down (groups, then lists, heaps, …), for tests. */
  labels(prefix: string): string[] {
    const target = this.getChildren().find((n) => n.kind === 'target' && n.agent.prefix === prefix);
    if (!target) return [];
    const out: string[] = [`${prefix} ${String(this.getTreeItem(target).description ?? '')}`];
    for (const g of this.getChildren(target)) {
      out.push(String(this.getTreeItem(g).label));
      for (const c of this.getChildren(g)) out.push(String(this.getTreeItem(c).label) + ' ' + String(this.getTreeItem(c).description ?? ''));
    }
    return out;
  }

  getChildren(n?: Node): Node[] {
    if (!n) return this.agents().map((agent) => ({ kind: 'target', agent }));
    const s = n.agent.snapshot;
    if (!s) return [];
    switch (n.kind) {
      case 'target':
        return n.agent.exited ? [] : (['lists', 'heaps', 'memzones', 'mempools', 'buffers'] as const).map((group) => ({ kind: 'group', agent: n.agent, group }));
      case 'group':
        return groupChildren(n.agent, s, n.group);
      case 'list': {
        const segs = n.list.segments.slice(0, SEGMENTS_SHOWN).map<Node>((g) => ({
          kind: 'leaf',
          agent: n.agent,
          label: `segment ${g.index}`,
          description: `${g.va} · ${bytes(g.len)} · iova ${g.iova}`,
          address: g.va,
          icon: 'symbol-field',
        }));
        if (n.list.segments.length > SEGMENTS_SHOWN) segs.push({ kind: 'leaf', agent: n.agent, label: `… ${n.list.segments.length - SEGMENTS_SHOWN} more segments`, description: 'open the memory map' });
        return segs;
      }
      case 'heap':
        return [...n.heap.elements]
          .filter((e) => e.state === 'busy')
          .sort((a, b) => b.len - a.len)
          .slice(0, ELEMENTS_SHOWN)
          .map<Node>((e) => ({ kind: 'leaf', agent: n.agent, label: bytes(e.len), description: `${e.addr}${e.owner ? ' · ' + e.owner : ''}`, address: e.addr, icon: 'symbol-value' }));
      default:
        return [];
    }
  }
}

export function registrations(s: Snapshot): MemsegList[] {
  return s.memsegLists.filter((l) => l.registration && l.registration.ownerAlive);
}

function groupChildren(agent: Agent, s: Snapshot, group: 'lists' | 'heaps' | 'memzones' | 'mempools' | 'buffers'): Node[] {
  switch (group) {
    case 'lists':
      return s.memsegLists.map((list) => ({ kind: 'list', agent, list }));
    case 'heaps':
      return s.heaps.map((heap) => ({ kind: 'heap', agent, heap }));
    case 'memzones':
      return s.memzones.map((z) => ({ kind: 'leaf', agent, label: z.name, description: `${z.addr} · ${bytes(z.len)} · socket ${z.socketId}`, address: z.addr, icon: 'symbol-namespace' }));
    case 'mempools':
      return s.mempools.map((p) => ({
        kind: 'leaf',
        agent,
        label: p.name,
        description: `${p.inUse ?? '?'} / ${p.size} in use · ${bytes(p.eltSize)} objects`,
        tooltip: p.reason,
        address: p.chunks[0]?.addr,
        icon: 'package',
      }));
    case 'buffers':
      return registrations(s).map((l) => ({
        kind: 'leaf',
        agent,
        label: `${bytes(l.len)} at ${l.baseVa}`,
        description: `list ${l.index} · ${l.registration!.kind} fd ${l.registration!.fd} · offset ${l.registration!.offset} · pid ${l.registration!.ownerPid}`,
        address: l.baseVa,
        context: 'memscope.buffer',
        icon: 'link',
      }));
  }
}

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('memscope.status', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'DPDK Memscope';
    this.item.command = 'memscope.openMap';
  }

  update(agents: Agent[]): void {
    const live = agents.filter((a) => a.snapshot && !a.exited);
    if (!agents.length) {
      this.item.hide();
      return;
    }
    if (!live.length) {
      this.item.text = '$(debug-disconnect) Memscope: target exited';
      this.item.tooltip = agents.map((a) => a.exited).join('\n');
    } else {
      this.item.text = live
        .map((a) => {
          const hs = a.snapshot!.heaps;
          const total = hs.reduce((x, h) => x + h.totalSize, 0);
          const used = hs.reduce((x, h) => x + h.totalSize - h.freeSize, 0);
          return `$(database) ${a.prefix} ${total ? Math.round((100 * used) / total) : 0}%`;
        })
        .join('  ');
      this.item.tooltip = 'DPDK Memscope: heap usage of attached targets (click to open the memory map)';
    }
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
