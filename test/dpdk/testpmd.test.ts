// dpdk-testpmd as a target, and dpdk-proc-info as the oracle read from it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hugepageFiles, procInfo, runtimeDirs, stopAll, Testpmd, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ testpmd: true, procInfo: true, hugepages: 256 }), 'DPDK');

after(() => stopAll());

test('testpmd starts, dpdk-proc-info reads it, stop cleans up', { skip, timeout: 120_000 }, async (t) => {
  const t0 = Date.now();
  const tp = await Testpmd.start({ memMb: 512, mbufs: 4096 });
  t.diagnostic(`testpmd ready in ${Date.now() - t0} ms`);
  const prefix = tp.prefix;
  try {
    assert.match(tp.output(), /testpmd> /);
    assert.match(tp.log(), /create a new mbuf pool <mb_pool_0>: n=4096/);
    assert.equal(existsSync(`/var/run/dpdk/${prefix}/config`), true);

    const t1 = Date.now();
    const info = await procInfo(prefix);
    t.diagnostic(`dpdk-proc-info: ${Date.now() - t1} ms`);
    assert.equal(info.code, 0, info.raw);
    assert.equal(info.segments.length, 256, '-m 512 is 256 pages of 2 MB');
    assert.equal(info.segments.reduce((s, x) => s + x.len, 0), 512 * 1024 * 1024);
    const keys = new Set(info.segments.map((s) => `${s.list}-${s.seg}`));
    assert.equal(keys.size, info.segments.length, 'each segment once');
    for (const s of info.segments) {
      assert.equal(s.hugepageSz, 2 * 1024 * 1024);
      assert.equal(s.va % BigInt(s.hugepageSz), 0n);
    }
    const pool = info.memzones.find((z) => z.name === 'MP_mb_pool_0');
    assert.ok(pool, `mbuf pool memzone in ${info.memzones.map((z) => z.name).join(', ')}`);
    assert.ok(info.memzones.some((z) => z.name === 'MP_mb_pool_0_0' && z.len > 4096 * 2048), 'the pool objects chunk');
    // Every memzone lies inside a mapped segment.
    for (const z of info.memzones) {
      assert.ok(
        info.segments.some((s) => z.va >= s.va && z.va < s.va + BigInt(s.len)),
        `memzone ${z.name} at 0x${z.va.toString(16)} is in no segment`,
      );
    }
  } finally {
    await tp.stop();
  }
  assert.equal(tp.alive(), false);
  for (const d of runtimeDirs(prefix)) assert.equal(existsSync(d), false, `${d} is left behind`);
  assert.deepEqual(hugepageFiles(prefix), [], 'testpmd leaves its hugepage files; the harness removes them');
});
