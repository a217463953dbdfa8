// A DPDK 22.11 built with a constant Debian's build does not use
// (RTE_MAX_MEMSEG_LISTS 256: scripts/build-custom-eal.mjs builds its EAL from
// Debian's own source package), under Debian's dpdk-testpmd: it says "22.11"
// like Debian's, but its private layout is not the 22.11 table's. Memscope
// must refuse it for what it is (exit 19, the build named), by both routes,
// and leave nothing in its runtime dir.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runtimeFiles } from '../helpers/faults';
import { runCli } from '../helpers/cli';
import { stopAll, Testpmd, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

const BUILD = path.join(__dirname, '..', '..', '..', 'scripts', 'build-custom-eal.mjs');

function customEal(variant = 'lists-256'): { lib: string | null; why: string } {
  // npm test's setup built both (about 90 s from nothing); this answers at once then
  const r = spawnSync(process.execPath, [BUILD, variant], { encoding: 'utf8', timeout: 10 * 60_000 });
  return r.status === 0 ? { lib: r.stdout.trim(), why: '' } : { lib: null, why: `scripts/build-custom-eal.mjs failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}` };
}

const noDpdk = whyNoDpdk({ testpmd: true, hugepages: 200 });
const eal = noDpdk ? { lib: null, why: noDpdk } : customEal();
const skip = loudSkip(eal.lib ? undefined : eal.why, 'a DPDK 22.11 EAL built with RTE_MAX_MEMSEG_LISTS 256');
let tp: Testpmd;
let before_: string[] = [];

before(async () => {
  if (skip) return;
  tp = await Testpmd.start({ memMb: 256, ealLibDir: eal.lib!, extraEal: ['-d', '/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0'] });
  before_ = runtimeFiles(`/var/run/dpdk/${tp.prefix}`);
});
after(() => stopAll());

const SENTENCE = /runs a DPDK 22\.11\.\d+ built with constants Memscope does not know: its shared config is 42752 bytes, not the 25344 of the 22\.11 build Memscope reads \(RTE_MAX_MEMSEG_LISTS 256, where the 22\.11 table has 128\)/;

test('a 22.11 built with RTE_MAX_MEMSEG_LISTS 256 is listed and refused for its build, not read with the 22.11 table', { skip }, async () => {
  const l = await runCli(['list', '--json']);
  assert.equal(l.code, 0, l.stderr);
  const t = (JSON.parse(l.stdout) as { filePrefix: string; pid: number; dpdkVersion: string; attachable: boolean; reasonCode?: string; reason?: string; memsegLists: number }[]).find((x) => x.filePrefix === tp.prefix);
  assert.ok(t, 'the prefix is listed');
  assert.equal(t.pid, tp.pid);
  assert.match(t.dpdkVersion, /^22\.11\.\d+$/, 'it says 22.11 like Debian\u2019s build');
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'layout-unverified');
  assert.match(t.reason ?? '', SENTENCE);
  assert.equal(t.memsegLists, 0, 'nothing decoded with the wrong table');
});

for (const via of ['peek', 'secondary'] as const) {
  test(`--via ${via}: exit 19 with the build named, and nothing left in its runtime dir`, { skip }, async () => {
    const r = await runCli(['snapshot', '--file-prefix', tp.prefix, '--via', via, '--json']);
    assert.equal(r.code, 19, `exit ${r.code}: ${r.stderr}`);
    assert.equal(r.stdout, '', 'no picture');
    assert.match(r.stderr, SENTENCE);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one sentence');
    assert.deepEqual(runtimeFiles(`/var/run/dpdk/${tp.prefix}`), before_);
    assert.ok(tp.alive(), 'the primary runs on');
  });
}

// RTE_MALLOC_DEBUG: the config is the 22.11 table's size, but each heap
// element carries a cookie and a trailer; only its memory tells
const debugEal = noDpdk ? { lib: null, why: noDpdk } : customEal('malloc-debug');
const debugSkip = loudSkip(debugEal.lib ? undefined : debugEal.why, 'a DPDK 22.11 EAL built with RTE_MALLOC_DEBUG');
const DEBUG_SENTENCE = /^memscope: this DPDK 22\.11\.\d+ was built with RTE_MALLOC_DEBUG \(heap socket_0's elements carry its cookies and trailers\), which the 22\.11 table Memscope reads does not describe, so Memscope will not read it: build DPDK without malloc debug to inspect it\.$/;

test('a 22.11 built with RTE_MALLOC_DEBUG: both routes refuse it with exit 19 naming the build, the runtime dir untouched', { skip: debugSkip }, async () => {
  const md = await Testpmd.start({ memMb: 256, ealLibDir: debugEal.lib!, extraEal: ['-d', '/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0'] });
  try {
    const files = runtimeFiles(`/var/run/dpdk/${md.prefix}`);
    for (const via of ['peek', 'secondary', 'auto']) {
      const r = await runCli(['snapshot', '--file-prefix', md.prefix, '--via', via, '--json']);
      assert.equal(r.code, 19, `${via}: exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stdout, '', 'no picture');
      assert.match(r.stderr.trim(), DEBUG_SENTENCE, via);
      assert.deepEqual(runtimeFiles(`/var/run/dpdk/${md.prefix}`), files, via);
    }
    assert.ok(md.alive(), 'the primary runs on');
  } finally {
    await md.stop();
  }
});
