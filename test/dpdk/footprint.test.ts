// What Memscope changes in a quiet target: listing nothing, a snapshot
// (peek) nothing, a snapshot through a DPDK secondary no more than DPDK's own
// secondary attach does — checked byte for byte on the files a target shares
// (its `config` and `fbarray_*` files) and on its hugepage files' names,
// against a `dpdk-proc-info -m` run on the same primary.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli';
import { until, memscopeProcesses } from '../helpers/faults';
import { DemoPrimary, hugepageFiles, procInfo, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ cc: true, procInfo: true, hugepages: 100 }), 'DPDK');
after(() => stopAll());

type State = Map<string, Buffer>;

/** config and fbarray_* files, with their bytes. */
function shared(runtimeDir: string): State {
  const m: State = new Map();
  for (const n of fs.readdirSync(runtimeDir).sort()) {
    if (n === 'config' || n.startsWith('fbarray_')) m.set(n, fs.readFileSync(path.join(runtimeDir, n)));
  }
  return m;
}

/** What changed from a to b: files added or removed, and byte ranges (file:start-end) that differ. */
function changes(a: State, b: State): string[] {
  const out: string[] = [];
  for (const n of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(n);
    const y = b.get(n);
    if (!x) out.push(`+${n}`);
    else if (!y) out.push(`-${n}`);
    else if (!x.equals(y)) {
      for (let i = 0; i < Math.max(x.length, y.length); i++) {
        if (x[i] === y[i]) continue;
        let j = i;
        while (j < Math.max(x.length, y.length) && x[j] !== y[j]) j++;
        out.push(`${n}:${i}-${j}`);
        i = j;
      }
    }
  }
  return out;
}

const digest = (s: State) => createHash('sha256').update([...s].map(([n, b]) => n + createHash('sha256').update(b).digest('hex')).join()).digest('hex');

test('listing and a snapshot change nothing in a quiet target; a snapshot through a secondary changes no more than dpdk-proc-info -m does', { skip, timeout: 120_000 }, async (t) => {
  // two primaries set up alike: one for Memscope, one for proc-info (a first
  // secondary flips one-time state, so each is measured from a fresh start)
  const p = await DemoPrimary.start({ memMb: 64 });
  const q = await DemoPrimary.start({ memMb: 64 });
  try {
    for (const x of [p, q]) {
      await x.command('fill 200 256 quiet');
      await x.command('memzone_reserve quietzone 65536');
    }
    const rd = p.ready!.runtimeDir as string;
    const huge = hugepageFiles(p.prefix).sort();
    const s0 = shared(rd);

    const l = await runCli(['list', '--json']);
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(changes(s0, shared(rd)), [], '`memscope list` changed nothing');

    const peek = await runCli(['snapshot', '--file-prefix', p.prefix, '--json']);
    assert.equal(peek.code, 0, peek.stderr);
    assert.deepEqual(changes(s0, shared(rd)), [], '`memscope snapshot` (peek) changed nothing');

    const sec = await runCli(['snapshot', '--file-prefix', p.prefix, '--json', '--via', 'secondary']);
    assert.equal(sec.code, 0, sec.stderr);
    assert.ok(await until(() => memscopeProcesses(p.prefix).length === 0, 5000), 'the secondary helper ended');
    const s1 = shared(rd);
    const ours = changes(s0, s1);
    // a second one changes nothing more
    const again = await runCli(['snapshot', '--file-prefix', p.prefix, '--json', '--via', 'secondary']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(await until(() => memscopeProcesses(p.prefix).length === 0, 5000), 'the secondary helper ended');
    assert.deepEqual(changes(s1, shared(rd)), [], 'a second snapshot through a secondary changed nothing more');

    const q0 = shared(q.ready!.runtimeDir as string);
    const pi = await procInfo(q.prefix);
    assert.ok(pi.segments.length > 0, 'dpdk-proc-info ran');
    const theirs = changes(q0, shared(q.ready!.runtimeDir as string));
    t.diagnostic(`a snapshot through a secondary changed: ${ours.join(' ') || 'nothing'}; dpdk-proc-info -m changed: ${theirs.join(' ') || 'nothing'}`);
    // every byte range we changed, proc-info changes too (or we changed nothing)
    const covered = (c: string) => {
      const m = /^(.*):(\d+)-(\d+)$/.exec(c);
      if (!m) return theirs.includes(c);
      return theirs.some((d) => {
        const n = /^(.*):(\d+)-(\d+)$/.exec(d);
        return !!n && n[1] === m[1] && Number(n[2]) <= Number(m[2]) && Number(n[3]) >= Number(m[3]);
      });
    };
    assert.deepEqual(
      ours.filter((c) => !covered(c)),
      [],
      `a snapshot through a secondary changes nothing dpdk-proc-info -m does not (ours: ${ours.join(' ')}; proc-info: ${theirs.join(' ')})`,
    );
    assert.ok(!ours.some((c) => c.startsWith('+') || c.startsWith('-')), 'no shared file added or removed by our secondary');
    assert.deepEqual(hugepageFiles(p.prefix).sort(), huge, 'no hugepage file added or removed');
    t.diagnostic(`state digests of the Memscope target: before ${digest(s0).slice(0, 12)}, after ${digest(s1).slice(0, 12)}`);
  } finally {
    await q.stop();
    await p.stop();
  }
});
