// The CLI's human-readable output (native-agent/format.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSnapshots, type SnapshotDelta } from '../../common/delta';
import { SNAPSHOT_SCHEMA, type Snapshot } from '../../common/snapshot';
import { bytes, formatSnapshot, formatTargets, summarizeDelta, table } from '../../native-agent/format';
import type { TargetSummary } from '../../native-agent/discovery';

test('bytes picks binary units', () => {
  assert.equal(bytes(0), '0 B');
  assert.equal(bytes(1023), '1023 B');
  assert.equal(bytes(1024), '1.0 KiB');
  assert.equal(bytes(1536), '1.5 KiB');
  assert.equal(bytes(100 * 1024), '100 KiB');
  assert.equal(bytes(2 * 1024 * 1024), '2.0 MiB');
  assert.equal(bytes(64 * 1024 ** 3), '64.0 GiB');
  assert.equal(bytes(3 * 1024 ** 4), '3.0 TiB');
  assert.equal(bytes(2048 * 1024 ** 4), '2048 TiB', 'TiB is the largest unit');
});

test('table pads every column but the last to its widest cell, two spaces apart', () => {
  const t = table(['A', 'LONG HEADER', 'Z'], [
    ['xxxxx', 1, 'last'],
    ['y', 12345678901234, ''],
  ]);
  const lines = t.split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[0], 'A      LONG HEADER     Z');
  assert.equal(lines[1], 'xxxxx  1               last');
  assert.equal(lines[2], 'y      12345678901234', 'no trailing spaces');
  // every column starts at the same offset on each line
  const col2 = lines[0]!.indexOf('LONG');
  assert.equal(lines[1]!.indexOf('1'), col2);
  assert.equal(lines[2]!.indexOf('1'), col2);
  assert.equal(table(['ONLY'], []), 'ONLY');
});

function snapshot(): Snapshot {
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt: '2024-05-01T12:00:00.000Z',
    target: { filePrefix: 'demo', pid: 4242, dpdkVersion: '22.11.11', runtimeDir: '/var/run/dpdk/demo', alive: true },
    readMethod: 'lock-free',
    retries: 2,
    warnings: ['memseg list 3 is orphaned: its owner 77 is gone'],
    memsegLists: [
      {
        index: 0,
        baseVa: '0x100200000',
        pageSize: 2 * 1024 * 1024,
        socketId: 0,
        len: 0x400000000,
        external: false,
        heap: true,
        capacity: 8192,
        segmentCount: 2,
        state: 'ok',
        segments: [0, 1].map((i) => ({ index: i, va: `0x${(0x100200000 + i * 0x200000).toString(16)}`, iova: '0x0', len: 0x200000, hugepageSize: 0x200000, socketId: 0, flags: 0 })),
      },
      { index: 3, baseVa: '0x7f23e6000000', pageSize: 4096, socketId: 256, len: 0x10000, external: true, heap: true, capacity: 16, segmentCount: 0, state: 'orphaned', segments: [] },
    ],
    heaps: [
      {
        id: 0,
        name: 'socket_0',
        socketId: 0,
        totalSize: 4 * 1024 * 1024,
        freeSize: 3 * 1024 * 1024,
        allocCount: 2,
        external: false,
        elementsAvailable: true,
        elements: [
          { addr: '0x100200000', len: 0x300000, pad: 0, state: 'free', owner: null },
          { addr: '0x100500000', len: 0x80000, pad: 0, state: 'busy', owner: 'mbuf_pool' },
          { addr: '0x100580000', len: 0x80000, pad: 0x40, state: 'busy', owner: null },
        ],
      },
      { id: 1, name: 'extheap', socketId: 256, totalSize: 65536, freeSize: 0, allocCount: 0, external: true, elementsAvailable: false, reason: 'its memory is not mapped here', elements: [] },
    ],
    memzones: [{ name: 'rte_eth_dev_data', addr: '0x17fe00000', iova: '0x17fe00000', len: 0x30000, hugepageSize: 0x200000, socketId: 0, flags: 0 }],
    mempools: [{ name: 'mbuf_pool', size: 8191, eltSize: 2176, cacheSize: 250, populated: 8191, inUse: 300, avail: 7891, chunks: [{ addr: '0x17f000000', len: 0x1000000 }] }],
  };
}

test('formatSnapshot names the target, warnings, heaps with element counts, memzones and mempools', () => {
  const text = formatSnapshot(snapshot());
  const lines = text.split('\n');
  assert.match(lines[0]!, /^DPDK 22\.11\.11 {2}prefix demo {2}pid 4242 \(alive\)/);
  assert.match(lines[0]!, /read lock-free, 2 retries$/);
  assert.ok(lines.includes('warning: memseg list 3 is orphaned: its owner 77 is gone'));
  for (const h of ['MEMSEG LISTS', 'HEAPS', 'MEMZONES', 'MEMPOOLS']) assert.ok(lines.includes(h), h);
  const heapLine = lines.find((l) => l.startsWith('0 ') && l.includes('socket_0'));
  assert.ok(heapLine, 'the heap row');
  assert.match(heapLine, /4\.0 MiB\s+3\.0 MiB\s+2\s+3 \(2\/1\/0\)$/);
  assert.match(text, /extheap .*unavailable: its memory is not mapped here/);
  assert.match(text, /\n0\s+0x100200000\s+2\.0 MiB\s+0\s+2\/8192\s+4\.0 MiB\s+internal\s+ok\n/);
  assert.match(text, /\n3\s+0x7f23e6000000\s+4\.0 KiB\s+256\s+0\/16\s+0 B\s+external\s+orphaned\n/);
  assert.match(text, /rte_eth_dev_data\s+0x17fe00000\s+192 KiB/);
  assert.match(text, /mbuf_pool\s+8191\s+2176\s+250\s+8191\s+300\s+7891\s+1/);
  assert.ok(text.endsWith('\n'));
});

test('formatSnapshot of a dead target without retries or warnings', () => {
  const s = snapshot();
  s.target.alive = false;
  s.target.pid = null;
  s.retries = 0;
  s.warnings = [];
  s.mempools[0]!.inUse = null;
  const text = formatSnapshot(s);
  assert.match(text.split('\n')[0]!, /pid \? \(dead\)/);
  assert.doesNotMatch(text, /retries|warning:/);
  assert.match(text, /mbuf_pool\s+8191\s+2176\s+250\s+8191\s+\?/);
});

test('summarizeDelta names the heap and counts what changed', () => {
  const a = snapshot();
  const b = structuredClone(a);
  const h = b.heaps[0]!;
  h.allocCount = 3;
  h.elements.push({ addr: '0x100600000', len: 2048, pad: 0, state: 'busy', owner: null });
  h.elements.splice(2, 1);
  h.elements[1]!.state = 'free';
  b.memzones.push({ name: 'MP_pool@2', addr: '0x180000000', iova: '0x0', len: 4096, hugepageSize: 0x200000, socketId: 0, flags: 0 });
  b.mempools[0]!.inUse = 301;
  b.memsegLists.pop();
  const line = summarizeDelta(diffSnapshots(a, b));
  assert.ok(line.startsWith('2024-05-01T12:00:00.000Z '));
  assert.match(line, /socket_0: \+1 busy \(2\.0 KiB\), -1 gone, 1 changed, 3 allocs/);
  assert.match(line, /memseg lists removed: 3/);
  assert.match(line, /memzones \+MP_pool@2/);
  assert.match(line, /mempool mbuf_pool: 301 in use of 8191/);
  // and back: the memzone goes, named in full
  const back = summarizeDelta(diffSnapshots(b, a));
  assert.match(back, /memzones -MP_pool@2(;|$)/);
  assert.match(back, /memseg lists changed: 3 \(0 segs, orphaned\)/);
});

test('summarizeDelta of an unchanged heap header names the heap by id; no change says so', () => {
  const d: SnapshotDelta = {
    takenAt: 't',
    target: snapshot().target,
    retries: 0,
    memsegLists: { upserted: [], removed: [] },
    heaps: { changed: [{ id: 4, added: [], removed: ['0x1', '0x2'], changed: [] }], removed: [] },
    memzones: { added: [], removed: [] },
    mempools: { upserted: [], removed: ['old'] },
  };
  assert.equal(summarizeDelta(d), 't heap 4: +0 busy (0 B), -2 gone, 0 changed; mempools removed: old');
  d.heaps.changed = [];
  d.mempools.removed = [];
  assert.equal(summarizeDelta(d), 't no change');
});

test('formatTargets shows why a target cannot be attached', () => {
  const t: TargetSummary = {
    filePrefix: 'rte',
    runtimeDir: '/var/run/dpdk/rte',
    pid: null,
    alive: false,
    dpdkVersion: '22.11.11',
    versionWord: 0x160b0b63,
    mode: 'hugepages',
    hugepageBytes: 1024 ** 3,
    memsegLists: 4,
    root: null,
    runtimeDirInRoot: '/var/run/dpdk/rte',
    layout: '22.11',
    ealLibrary: null,
    attachable: false,
    reason: 'the primary is not running.',
    reasonCode: 'primary-dead',
  };
  const text = formatTargets([t, { ...t, filePrefix: 'live', pid: 77, alive: true, attachable: true, reason: undefined }]);
  const [head, dead, live] = text.split('\n');
  assert.match(head!, /^PREFIX\s+PID\s+STATE\s+DPDK\s+LAYOUT\s+MODE\s+HUGEPAGES\s+ATTACH$/);
  assert.match(dead!, /^rte\s+-\s+dead\s+22\.11\.11\s+22\.11 table\s+hugepages\s+1\.0 GiB\s+no: the primary is not running\.$/);
  assert.match(live!, /^live\s+77\s+alive\s+.*\byes$/);
  // a target in another root gets a ROOT column: where it lives and its runtime dir there
  const root = { path: '/proc/91/root', pid: 91, otherMountNs: true, label: 'container pid 91' };
  const [head2, , inRoot] = formatTargets([t, { ...t, filePrefix: 'ct', root, runtimeDir: '/proc/91/root/run/dpdk/ct', runtimeDirInRoot: '/run/dpdk/ct', layout: null }]).split('\n');
  assert.match(head2!, /^PREFIX\s+PID\s+STATE\s+DPDK\s+LAYOUT\s+ROOT\s+MODE/);
  assert.match(inRoot!, /^ct\s+-\s+dead\s+22\.11\.11\s+-\s+container pid 91: \/run\/dpdk\/ct\s+hugepages/);
  assert.match(formatTargets([]), /^No DPDK runtime dirs found/);
});
