/**
 * The extension host's share of a live delta, timed in this process with
 * the extension's own code (extension/src/map-message.ts and common/rpc.ts,
 * no `vscode` import): a 1M-element heap from which 100k elements changed,
 * came or went, diffed by the agent's code into the notification it sends
 * (packed column slices), then, as the extension host does with each one:
 * JSON.parse of the message (vscode-jsonrpc), the notification's check,
 * decoding and checking the slices, applying the delta to the live
 * snapshot, and building the Memory Map's message in the bytes VS Code's
 * webview.postMessage makes of it (typed arrays beside the JSON). The
 * median of 7, each on a fresh live snapshot.
 */
import { columnsFromElements } from '../../common/columns';
import { packColumns, packHeapDelta } from '../../common/columns-wire';
import { diffHeapColumnDelta, diffSnapshots } from '../../common/delta';
import { AgentNotifications, checkedNotification } from '../../common/rpc';
import type { Heap } from '../../common/snapshot';
import { applyColumnDelta, hydrate, liveDelta } from '../../extension/src/map-message';
import { churn, generateMapSnapshot } from '../fixtures/map-snapshot';
import { serialize } from './map-e2e';

export interface HostDeltaFigure {
  name: string;
  measured: string;
  target: string;
  pass: boolean;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

export function hostDeltaFigure(): HostDeltaFigure {
  const s = generateMapSnapshot({ seed: 11, elements: 1_000_000 });
  // 74k touched elements make ~100k changes (a split is a change and an addition)
  const { next } = churn(s, 12, 74_000);
  const view = (h: Heap) => columnsFromElements(h.id, h.elements);
  const delta = diffSnapshots(s, next, (a, b) => {
    const d = diffHeapColumnDelta(a, b, view);
    return d && packHeapDelta(d);
  });
  const hd = delta.heaps.changed[0]!;
  const elements = Buffer.byteLength(hd.removed, 'base64') / 8 + hd.added.n + hd.changed.n;
  const message = JSON.stringify({ jsonrpc: '2.0', method: AgentNotifications.delta.method, params: { seq: 1, takenAt: next.takenAt, delta } });
  const base = JSON.stringify({ snapshot: { ...s, heaps: s.heaps.map((h) => ({ ...h, elements: [] })) }, columns: s.heaps.map((h) => packColumns(view(h))) });
  const times: number[] = [];
  const parts = { parse: [] as number[], check: [] as number[], apply: [] as number[], post: [] as number[] };
  let bytes = 0;
  for (let i = 0; i < 8; i++) {
    const live = hydrate(JSON.parse(base));
    const t0 = performance.now();
    const params = (JSON.parse(message) as { params: unknown }).params;
    const t1 = performance.now();
    const n = checkedNotification(AgentNotifications.delta, params);
    const d = liveDelta(n.delta);
    const t2 = performance.now();
    applyColumnDelta(live, d);
    const t3 = performance.now();
    bytes = serialize({ type: 'delta', seq: n.seq, delta: d }).length;
    const t4 = performance.now();
    // the first round warms the code as the live subscription's first deltas do
    if (i === 0) continue;
    times.push(t4 - t0);
    parts.parse.push(t1 - t0);
    parts.check.push(t2 - t1);
    parts.apply.push(t3 - t2);
    parts.post.push(t4 - t3);
  }
  const med = median(times);
  const f = (a: number[]) => `${median(a).toFixed(1)}`;
  return {
    name: `Extension host per live delta of ${elements.toLocaleString('en-US')} changed, added or removed elements (1M-element heap): parse → check → decode → apply → the map's message (median of 7)`,
    measured: `${med.toFixed(1)} ms (parse ${f(parts.parse)}, check and decode ${f(parts.check)}, apply ${f(parts.apply)}, message ${f(parts.post)} ms; ${(message.length / 2 ** 20).toFixed(1)} MiB notification, ${(bytes / 2 ** 20).toFixed(1)} MiB to the page)`,
    target: '≤ 5 ms',
    pass: med <= 5,
  };
}

if (require.main === module) {
  const f = hostDeltaFigure();
  console.log(`${f.pass ? 'PASS' : 'FAIL'}  ${f.name}: ${f.measured} (target ${f.target})`);
  process.exit(f.pass ? 0 : 1);
}
