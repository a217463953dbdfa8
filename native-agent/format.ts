/** Human-readable tables for the CLI. */
import type { SnapshotDelta } from '../common/delta';
import type { Snapshot } from '../common/snapshot';
import type { TargetSummary } from './discovery';
import type { Suspects } from '../common/leak-tracker';

import { formatBytes as bytes } from '../common/units';

export { bytes };

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatTargets(ts: TargetSummary[]): string {
  if (!ts.length) return 'No DPDK runtime dirs found (looked in /var/run/dpdk and $XDG_RUNTIME_DIR/dpdk).';
  // a ROOT column only when some target lives in another root (a chroot, a container)
  const roots = ts.some((t) => t.root);
  return table(
    ['PREFIX', 'PID', 'STATE', 'DPDK', 'LAYOUT', ...(roots ? ['ROOT'] : []), 'MODE', 'HUGEPAGES', 'ATTACH'],
    ts.map((t) => [
      t.filePrefix,
      t.pid ?? '-',
      t.alive ? 'alive' : 'dead',
      t.dpdkVersion ?? '?',
      t.layout ? `${t.layout} table` : '-',
      ...(roots ? [t.root ? `${t.root.label}: ${t.runtimeDirInRoot}` : '-'] : []),
      t.mode,
      bytes(t.hugepageBytes),
      t.attachable ? 'yes' : `no: ${t.reason ?? ''}`,
    ]),
  );
}

export function formatSnapshot(s: Snapshot): string {
  const out: string[] = [];
  const t = s.target;
  out.push(
    `DPDK ${t.dpdkVersion}${t.layout ? ` (${t.layout})` : ''}  prefix ${t.filePrefix}  pid ${t.pid ?? '?'} (${t.alive ? 'alive' : 'dead'})${t.root ? `  in ${t.root}` : ''}  ${s.takenAt}  read ${s.readMethod}${s.retries ? `, ${s.retries} retries` : ''}`,
  );
  for (const w of s.warnings) out.push(`warning: ${w}`);
  out.push('', 'MEMSEG LISTS');
  out.push(
    table(
      ['#', 'BASE VA', 'PAGE', 'SOCKET', 'SEGMENTS', 'SIZE', 'KIND', 'STATE'],
      s.memsegLists.map((l) => [
        l.index,
        l.baseVa,
        bytes(l.pageSize),
        l.socketId,
        `${l.segmentCount}/${l.capacity}`,
        bytes(l.segments.reduce((a, x) => a + x.len, 0)),
        l.external ? (l.dmabuf ? 'external dma-buf' : 'external') : 'internal',
        l.state,
      ]),
    ),
  );
  out.push('', 'HEAPS');
  out.push(
    table(
      ['ID', 'NAME', 'SOCKET', 'TOTAL', 'FREE', 'ALLOCS', 'ELEMENTS (busy/free/pad)'],
      s.heaps.map((h) => {
        const c = { busy: 0, free: 0, pad: 0 };
        for (const e of h.elements) c[e.state]++;
        return [
          h.id,
          h.name,
          h.socketId,
          bytes(h.totalSize),
          bytes(h.freeSize),
          h.allocCount,
          h.elementsAvailable ? `${h.elements.length} (${c.busy}/${c.free}/${c.pad})` : `unavailable: ${h.reason ?? ''}`,
        ];
      }),
    ),
  );
  out.push('', 'MEMZONES');
  out.push(table(['NAME', 'ADDR', 'LEN', 'SOCKET', 'PAGE'], s.memzones.map((z) => [z.name, z.addr, bytes(z.len), z.socketId, bytes(z.hugepageSize)])));
  out.push('', 'MEMPOOLS');
  out.push(
    table(
      ['NAME', 'SIZE', 'ELT', 'CACHE', 'POPULATED', 'IN USE', 'AVAIL', 'CHUNKS'],
      s.mempools.map((p) => [p.name, p.size, p.eltSize, p.cacheSize, p.populated, p.inUse ?? '?', p.avail ?? '?', p.chunks.length]),
    ),
  );
  return out.join('\n') + '\n';
}

/** One line per delta, for `memscope watch`. */
export function summarizeDelta(d: SnapshotDelta): string {
  const parts: string[] = [];
  for (const h of d.heaps.changed) {
    const added = h.added.filter((e) => e.state === 'busy');
    const gone = h.removed.length;
    const name = h.header?.name ?? `heap ${h.id}`;
    const delta = added.reduce((a, e) => a + e.len, 0);
    parts.push(`${name}: +${added.length} busy (${bytes(delta)}), -${gone} gone, ${h.changed.length} changed${h.header ? `, ${h.header.allocCount} allocs` : ''}`);
  }
  if (d.memsegLists.upserted.length) parts.push(`memseg lists changed: ${d.memsegLists.upserted.map((l) => `${l.index} (${l.segmentCount} segs, ${l.state})`).join(', ')}`);
  if (d.memsegLists.removed.length) parts.push(`memseg lists removed: ${d.memsegLists.removed.join(', ')}`);
  if (d.memzones.added.length) parts.push(`memzones +${d.memzones.added.map((z) => z.name).join(', +')}`);
  if (d.memzones.removed.length) parts.push(`memzones -${d.memzones.removed.map((k) => k.slice(0, k.lastIndexOf('@'))).join(', -')}`);
  for (const p of d.mempools.upserted) parts.push(`mempool ${p.name}: ${p.inUse ?? '?'} in use of ${p.populated}`);
  if (d.mempools.removed.length) parts.push(`mempools removed: ${d.mempools.removed.join(', ')}`);
  return `${d.takenAt} ${parts.join('; ') || 'no change'}`;
}

/** `memscope leaks`: suspected leaks, largest first. */
export function formatSuspects(s: Suspects, minAgeMs: number): string {
  const out: string[] = [`${s.samples} samples from ${s.baseline ?? '?'} to ${s.at ?? '?'}; elements older than ${minAgeMs / 1000} s in growing size classes`];
  if (!s.elements.length && !s.pools.length) {
    out.push('no suspected leaks');
    return out.join('\n');
  }
  if (s.elements.length) {
    out.push('', `SUSPECTED ELEMENTS: ${s.elements.length}, ${bytes(s.bytes)}`, 'ADDR                LEN        HEAP        AGE      FIRST SEEN                TYPE');
    for (const e of s.elements.slice(0, 200)) {
      out.push(`${e.addr.padEnd(18)}  ${bytes(e.len).padEnd(9)}  ${e.heap.padEnd(10)}  ${`${(e.ageMs / 1000).toFixed(1)} s`.padEnd(7)}  ${e.firstSeen.padEnd(24)}  ${e.owner?.replace(/^rte_malloc:/, '') ?? ''}`);
    }
    if (s.elements.length > 200) out.push(`… ${s.elements.length - 200} more (--json lists all)`);
  }
  if (s.pools.length) {
    out.push('', 'SUSPECTED MEMPOOLS (in use only grew)', 'NAME                      FROM     TO       GROWTH   OVER');
    for (const p of s.pools) out.push(`${p.name.padEnd(24)}  ${String(p.from).padEnd(7)}  ${String(p.to).padEnd(7)}  ${`+${p.growth}`.padEnd(7)}  ${(p.windowMs / 1000).toFixed(1)} s`);
  }
  return out.join('\n');
}
