// The fault campaigns' bookkeeping: a failed check is counted with its
// description and the campaign goes on; a thrown step is counted too; the
// summary says how many and shows the first ones. And the stage files that
// tell the campaign where a killed process was.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { inStageDuring, readStage, stageDurations, stageHistory, stageRecords, Tally } from '../helpers/campaign';

test('a campaign with injected failures counts each one, goes on, and reports them', async () => {
  const t = new Tally();
  let ran = 0;
  for (let i = 0; i < 30; i++) {
    ran++;
    t.check(i % 7 !== 3, `run ${i}: injected check`);
    const r = await t.step(`run ${i} step`, async () => {
      if (i === 5) throw new Error('injected throw\nsecond line');
      return i;
    });
    if (i === 5) assert.equal(r.ok, false);
    else assert.deepEqual(r, { ok: true, value: i });
  }
  assert.equal(ran, 30, 'every run ran');
  // i = 3, 10, 17, 24 fail the check; run 5 throws
  assert.equal(t.failures.length, 5);
  assert.deepEqual(t.failures.slice(0, 2), ['run 3: injected check', 'run 5 step: injected throw | second line']);
  const s = t.failureSummary(3);
  assert.match(s, /^failures 5 \(the first 3\):/);
  assert.match(s, /1\. run 3: injected check/);
  assert.match(s, /3\. run 10: injected check/);
  assert.doesNotMatch(s, /run 17/);
  assert.equal(new Tally().failureSummary(), 'failures 0');
  t.count('kill:holder eal-init');
  t.count('kill:holder eal-init');
  t.count('kill:guardian extmem-attach');
  t.count('other');
  assert.equal(t.counted('kill:'), 'holder eal-init 2, guardian extmem-attach 1');
  t.hazard('run 9: wedged');
  assert.equal(t.hazards.length, 1);
  assert.equal(t.failures.length, 5, 'a hazard is not a failure');
});

test('stage files: the current step, the history, durations and overlaps', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-stage-'));
  try {
    process.env.MEMSCOPE_STAGE_DIR = dir;
    const { stage } = await import('../../native-agent/stage');
    const t0 = process.hrtime.bigint();
    stage('eal-init');
    await new Promise((r) => setTimeout(r, 20));
    stage('eal-init-done');
    const t1 = process.hrtime.bigint();
    stage('a-very-long-stage-name-that-is-longer-than-the-record-holds-for-sure');
    const now = readStage(dir, process.pid);
    assert.ok(now, 'the current record parses');
    assert.equal(now.stage, 'a-very-long-stage-name-that-is-l', 'a long name is cut to 32 characters');
    assert.equal(now.pid, process.pid);
    assert.equal(stageRecords(dir).length, 1);
    const h = stageHistory(dir, process.pid);
    assert.deepEqual(
      h.map((e) => e.stage),
      ['eal-init', 'eal-init-done', 'a-very-long-stage-name-that-is-l'],
    );
    const d = stageDurations(dir, 'eal-init');
    assert.equal(d.length, 1);
    assert.ok(d[0]! >= 15e6 && d[0]! < 5e9, `eal-init lasted ${d[0]} ns`);
    assert.equal(inStageDuring(dir, 'eal-init', t0, t1).length, 1);
    assert.equal(inStageDuring(dir, 'eal-init', t1 + 1n, t1 + 2n).length, 0, 'over before that window');
    assert.equal(inStageDuring(dir, 'extmem-register', t0, t1).length, 0);
  } finally {
    delete process.env.MEMSCOPE_STAGE_DIR;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
