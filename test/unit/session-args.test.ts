// The pure helpers of native-agent/session.ts: which lcores the primary's
// command line claims, the agent's pick, the EAL options a user may add, and
// the fixed ranges a secondary must map. Importing session.ts loads koffi but
// calls nothing in DPDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemscopeError } from '../../common/errors';
import { layoutFor, MEMCONFIG_MAGIC } from '../../native-agent/dpdk/layout';
import { decodeMemConfig } from '../../native-agent/dpdk/memconfig';
import { fixedRanges } from '../../native-agent/early-reserve';
import { checkExtraArgs, pickLcore, primaryLcores } from '../../native-agent/session';

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

test('primaryLcores reads -l in both spellings', () => {
  assert.deepEqual(sorted(primaryLcores(['dpdk-testpmd', '-l', '0-3', '--', '-i'])), [0, 1, 2, 3]);
  assert.deepEqual(sorted(primaryLcores(['app', '-l0,2'])), [0, 2]);
  assert.deepEqual(sorted(primaryLcores(['app', '-l', '1,4-5,9'])), [1, 4, 5, 9]);
});

test('primaryLcores keeps the lcore ids of --lcores, not the cpus they run on', () => {
  assert.deepEqual(sorted(primaryLcores(['app', '--lcores=1@(0-1),2'])), [1, 2]);
  assert.deepEqual(sorted(primaryLcores(['app', '--lcores', '4@5'])), [4]);
  assert.deepEqual(sorted(primaryLcores(['app', '--lcores=(0-2)@8,7@(3,4)'])), [0, 1, 2, 7]);
  assert.deepEqual(sorted(primaryLcores(['app', '--lcores=(10,12)@1'])), [10, 12]);
});

test('primaryLcores reads a -c hex mask', () => {
  assert.deepEqual(sorted(primaryLcores(['app', '-c', '0x5'])), [0, 2]);
  assert.deepEqual(sorted(primaryLcores(['app', '-c', 'f0'])), [4, 5, 6, 7]);
  assert.deepEqual(sorted(primaryLcores(['app', '-c', '0x' + (1n << 123n).toString(16)])), [123]);
});

test('primaryLcores without lcore options claims nothing', () => {
  assert.equal(primaryLcores(null).size, 0);
  assert.equal(primaryLcores([]).size, 0);
  assert.equal(primaryLcores(['app', '--file-prefix=rte', '--log-level=lib.eal:debug', '-n', '4']).size, 0);
  assert.equal(primaryLcores(['app', '-l']).size, 0, 'a trailing -l with no value');
});

test('pickLcore takes 127 unless used, then the next lower free one', () => {
  assert.equal(pickLcore(new Set()), 127);
  assert.equal(pickLcore(new Set([0, 1, 2, 3])), 127);
  assert.equal(pickLcore(new Set([127])), 126);
  assert.equal(pickLcore(new Set([127, 126, 124])), 125);
  assert.equal(pickLcore(primaryLcores(['app', '--lcores=127@0,126@1'])), 125);
});

test('checkExtraArgs accepts the options that cannot turn the agent into something else', () => {
  assert.doesNotThrow(() => checkExtraArgs([]));
  assert.doesNotThrow(() => checkExtraArgs(['--log-level=lib.eal:debug', '--huge-dir=/mnt/h', '--no-telemetry']));
  assert.doesNotThrow(() => checkExtraArgs(['--iova-mode=va', '--vfio-intr=msix', '--vfio-vf-token=14d63f20-8445-11ea-8900-1f9ce7d5650d']));
});

test('checkExtraArgs rejects everything else with bad-arguments', () => {
  const bad: unknown[] = [
    '--proc-type=primary',
    '--file-prefix=x',
    '--in-memory',
    '-m',
    '--log-level=x\nboom',
    '--log-level=a\0b',
    '--log-level=',
    '--no-telemetry=1',
    ' --no-telemetry',
    '--huge-dir',
    '--lcores=1',
    42,
    null,
    undefined,
    { toString: () => '--no-telemetry' },
  ];
  for (const a of bad) {
    assert.throws(
      () => checkExtraArgs(['--no-telemetry', a as string]),
      (e: unknown) => e instanceof MemscopeError && e.code === 'bad-arguments' && !e.message.includes('\n'),
      `should reject ${JSON.stringify(String(a))}`,
    );
  }
});

test('fixedRanges covers the config and each internal list and its fbarray, not external lists', () => {
  const L = layoutFor(0x160b0b63)!;
  const c = L.memConfig;
  const M = L.memsegList;
  const F = L.fbarray;
  const b = Buffer.alloc(c.size);
  b.writeUInt32LE(MEMCONFIG_MAGIC, c.magic);
  b.writeUInt32LE(0x160b0b63, c.version);
  b.writeBigUInt64LE(0x100000000n, c.memCfgAddr);
  const putList = (i: number, base: bigint, len: bigint, external: boolean, data: bigint, arrLen: number) => {
    const o = c.memsegs + i * M.size;
    b.writeBigUInt64LE(base, o + M.baseVa);
    b.writeBigUInt64LE(0x200000n, o + M.pageSz);
    b.writeBigUInt64LE(len, o + M.len);
    b.writeUInt32LE(external ? 1 : 0, o + M.external);
    b.writeUInt32LE(arrLen, o + M.memsegArr + F.len);
    b.writeUInt32LE(L.memseg.size, o + M.memsegArr + F.eltSz);
    b.writeBigUInt64LE(data, o + M.memsegArr + F.data);
  };
  putList(0, 0x100200000n, 0x400000000n, false, 0x7f0000000000n, 8192);
  putList(1, 0x7f23e6000000n, 0x10000n, true, 0x7f23e7000000n, 16);
  putList(2, 0x500200000n, 0x200000n, false, 0x7f0000100000n, 1);
  const cfg = decodeMemConfig(L, b);
  const r = fixedRanges(cfg, L);
  assert.deepEqual(
    r.map((x) => x.what),
    ['the shared config', 'memseg list 0', "memseg list 0's fbarray", 'memseg list 2', "memseg list 2's fbarray"],
  );
  assert.deepEqual([r[0]!.start, r[0]!.end], [0x100000000n, 0x100000000n + 25344n]);
  assert.deepEqual([r[1]!.start, r[1]!.end], [0x100200000n, 0x500200000n]);
  // 8192 * 48 bytes of memsegs + 8 + 128 * 8 bytes of mask, up to a page
  assert.equal(r[2]!.start, 0x7f0000000000n);
  assert.equal(r[2]!.end - r[2]!.start, BigInt(Math.ceil((8192 * 48 + 8 + 1024) / 4096) * 4096));
  assert.equal(r[4]!.end - r[4]!.start, 4096n, 'one memseg and a one-word mask fit a page');
  for (const x of r) assert.ok(x.start < x.end);
  assert.ok(!r.some((x) => x.start === 0x7f23e6000000n || x.start === 0x7f23e7000000n), 'external memory is not the secondary’s to map');
});
