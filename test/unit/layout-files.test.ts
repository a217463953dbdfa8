// The per-release layout data files (native-agent/dpdk/releases): every file
// of the folder is listed, each has the shape Memscope reads, and each is
// consistent with itself (arrays end before the next field starts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { layouts, layoutFor, releaseFileProblem, supportedReleases, tableFor, encodeVersion } from '../../native-agent/dpdk/layout';
import { RELEASE_FILES } from '../../native-agent/dpdk/releases';

const dir = path.join(__dirname, '../../../native-agent/dpdk/releases');

test('every data file of the folder is listed in releases/index.ts, oldest first', () => {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
  assert.deepEqual(layouts.map((l) => l.release), files);
  for (const f of files) assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, `${f}.json`), 'utf8')), RELEASE_FILES[files.indexOf(f)]);
});

test('each file has the shape of the first, with non-negative integer offsets', () => {
  for (const l of layouts) assert.equal(releaseFileProblem(l, RELEASE_FILES[0]), null, l.release);
});

test('a broken file is named for what is wrong with it', () => {
  const ref = RELEASE_FILES[0] as Record<string, unknown>;
  const copy = () => JSON.parse(JSON.stringify(ref)) as Record<string, Record<string, unknown>>;
  const a = copy();
  delete a.heap!.first;
  assert.equal(releaseFileProblem(a, ref), 'heap.first is missing, not a number');
  const b = copy();
  b.elem!.size = -8;
  assert.equal(releaseFileProblem(b, ref), 'elem.size is -8, not a non-negative integer');
  const c = copy();
  (c.memConfig as Record<string, unknown>).extra = 1;
  assert.equal(releaseFileProblem(c, ref), 'memConfig.extra is not a field Memscope reads');
  const d = copy();
  (d.memConfig!.locks as Record<string, unknown>).mlock = 'x';
  assert.equal(releaseFileProblem(d, ref), 'memConfig.locks.mlock is x, not a non-negative integer');
  const e = copy();
  (e as Record<string, unknown>).release = '22.11.1';
  assert.equal(releaseFileProblem(e, ref), 'release "22.11.1" is not YY.MM');
});

test('each table is self-consistent: arrays end where the next field starts, names fit their structs', () => {
  for (const L of layouts) {
    const c = L.memConfig;
    const at = L.release;
    assert.ok(c.memzones + L.fbarray.size <= c.memsegs, at);
    assert.ok(c.memsegs + L.build.maxMemsegLists * L.memsegList.size <= c.tailqHead, at);
    assert.ok(c.tailqHead + L.build.maxTailq * L.tailqHead.size <= c.mallocHeaps, at);
    assert.ok(c.mallocHeaps + L.build.maxHeaps * L.heap.size <= c.nextSocketId, at);
    assert.ok(c.singleFileSegments + 4 <= c.size, at);
    for (const off of Object.values(c.locks)) assert.ok(off + 4 <= c.memzones && off !== c.memoryHotplugLock, at);
    assert.ok(L.memsegList.memsegArr + L.fbarray.size <= L.memsegList.size, at);
    assert.ok(L.heap.name + L.heap.nameLen <= L.heap.size, at);
    assert.ok(L.elem.size + 8 <= L.elem.headerLen && L.elem.headerCookie + 8 <= L.elem.headerLen, at);
    assert.ok(L.memzone.flags + 4 <= L.memzone.size && L.memhdr.len + 8 <= L.memhdr.size, at);
    assert.equal(new Set(Object.values(L.elem.states)).size, 3, at);
    for (const v of Object.values(L.elem.states)) assert.ok(v < 1 << L.elem.stateBits, at);
    assert.match(L.sonames.eal, /^librte_eal\.so\.\d+$/, at);
    assert.match(L.sonames.mempool, /^librte_mempool\.so\.\d+$/, at);
  }
});

test('tables are keyed by the version word\'s year and month; only supported ones are read', () => {
  assert.equal(tableFor(encodeVersion('24.11.8')!)?.release, '24.11');
  assert.equal(layoutFor(encodeVersion('25.11.4')!)?.release, '25.11');
  assert.equal(tableFor(encodeVersion('23.11.2')!)?.status, 'unverified');
  assert.equal(layoutFor(encodeVersion('23.11.2')!), null);
  assert.equal(tableFor(encodeVersion('24.07.0')!), null);
  assert.equal(supportedReleases(), '22.11, 24.11 and 25.11');
});
