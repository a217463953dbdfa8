// test/helpers/prereq.ts: a missing prerequisite skips outside CI and fails,
// named, in CI; host-kernel skips stay skips. Checked as logic (verdict) and
// end to end, in a child test run with and without CI set. And the rule that
// keeps it so: no test file skips any other way.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { isCi, verdict } from '../helpers/prereq';

const root = path.resolve(__dirname, '..', '..', '..');

test('isCi: CI set to anything but "", 0, false or no', () => {
  for (const v of ['true', 'TRUE', '1', 'yes', 'github']) assert.equal(isCi({ CI: v }), true, v);
  for (const v of [undefined, '', ' ', '0', 'false', 'False', 'no']) assert.equal(isCi({ CI: v }), false, String(v));
  assert.equal(isCi({}), false);
});

test('verdict: nothing missing is no skip and no failure, in CI or not', () => {
  for (const env of [{}, { CI: 'true' }]) {
    for (const reason of [undefined, null, false, ''] as const) assert.deepEqual(verdict(reason, 'DPDK', env), { skip: undefined });
  }
});

test('verdict outside CI: the reason is the skip, nothing fails', () => {
  const why = 'Only 12 free hugepages, 300 needed (echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages).';
  for (const env of [{}, { CI: 'false' }, { CI: '' }]) assert.deepEqual(verdict(why, 'DPDK', env), { skip: why });
});

test('verdict in CI: still a skip for the dependents, and a failure named for what is missing', () => {
  const why = 'dpdk-testpmd is missing (apt-get install -y dpdk).';
  const v = verdict(why, 'DPDK', { CI: 'true' });
  assert.equal(v.skip, why);
  assert.ok(v.failure);
  assert.equal(v.failure.name, `prerequisite missing in CI: DPDK: ${why}`);
  assert.match(v.failure.message, /^DPDK is missing: dpdk-testpmd is missing \(apt-get install -y dpdk\)\. In CI \(CI=true\) /);
  // a reason without a final period gets one
  assert.match(verdict('Chromium is not at /usr/bin/chromium', 'Chromium', { CI: '1' }).failure!.message, /^Chromium is missing: Chromium is not at \/usr\/bin\/chromium\. In CI \(CI=1\)/);
});

/** Runs a small test file using the compiled helper, with CI as given; returns its exit status and TAP. */
function childRun(ci: string | undefined): { status: number | null; tap: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-prereq-'));
  try {
    const file = path.join(dir, 'child.test.js');
    fs.writeFileSync(
      file,
      `const { test } = require('node:test');
const { hostSkip, loudSkip, loudSkipHere } = require(${JSON.stringify(path.join(root, 'out', 'test', 'helpers', 'prereq.js'))});
const skip = loudSkip('libfoo is missing (apt-get install libfoo).', 'libfoo');
loudSkip('libfoo is missing (apt-get install libfoo).', 'libfoo'); // a second call registers nothing more
const none = loudSkip(undefined, 'bar');
test('needs libfoo', { skip }, () => { throw new Error('ran although libfoo is missing'); });
test('needs nothing', { skip: none }, () => {});
test('needs user x', (t) => loudSkipHere(t, 'no user x.', 'user x'));
test('needs the kernel', (t) => hostSkip(t, 'no /dev/udmabuf'));
`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // else the child reports to this runner, not as TAP
    delete env.NODE_OPTIONS;
    delete env.CI;
    if (ci !== undefined) env.CI = ci;
    const r = spawnSync(process.execPath, ['--test-reporter=tap', file], { env, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, tap: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const line = (tap: string, name: string) => tap.split('\n').filter((l) => new RegExp(`^(?:not )?ok \\d+ - ${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?: #|$)`).test(l.trim()));

test('loudSkip outside CI: the dependents are skipped with the reason, nothing fails', () => {
  const { status, tap } = childRun(undefined);
  assert.equal(status, 0, tap);
  assert.deepEqual(line(tap, 'needs libfoo'), ['ok 1 - needs libfoo # SKIP libfoo is missing (apt-get install libfoo).'], tap);
  assert.deepEqual(line(tap, 'needs nothing'), ['ok 2 - needs nothing'], tap);
  assert.deepEqual(line(tap, 'needs user x'), ['ok 3 - needs user x # SKIP no user x.'], tap);
  assert.deepEqual(line(tap, 'needs the kernel'), ['ok 4 - needs the kernel # SKIP host kernel: no /dev/udmabuf'], tap);
  assert.doesNotMatch(tap, /prerequisite missing/);
  assert.match(tap, /^# fail 0$/m);
});

test('loudSkip in CI: one failing test names what is missing, the dependents still skip, a host-kernel skip stays a skip', () => {
  const { status, tap } = childRun('true');
  assert.equal(status, 1, tap);
  const failing = tap.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('not ok'));
  assert.deepEqual(failing, ['not ok 1 - prerequisite missing in CI: libfoo: libfoo is missing (apt-get install libfoo).', 'not ok 4 - needs user x'], tap);
  assert.match(tap, /libfoo is missing: libfoo is missing \(apt-get install libfoo\)\. In CI \(CI=true\)/);
  assert.match(tap, /user x is missing: no user x\. In CI/);
  assert.deepEqual(line(tap, 'needs libfoo'), ['ok 2 - needs libfoo # SKIP libfoo is missing (apt-get install libfoo).'], 'the dependent did not run');
  assert.deepEqual(line(tap, 'needs nothing'), ['ok 3 - needs nothing']);
  assert.deepEqual(line(tap, 'needs the kernel'), ['ok 5 - needs the kernel # SKIP host kernel: no /dev/udmabuf']);
  assert.match(tap, /^# fail 2$/m);
  assert.match(tap, /^# skipped 2$/m);
});

/** Every .ts file under dir. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('no test skips except through test/helpers/prereq.ts', () => {
  const bad: string[] = [];
  const files = [...sources(path.join(root, 'test')), ...sources(path.join(root, 'extension', 'test'))];
  assert.ok(files.length > 20, `found the test sources (${files.length})`);
  for (const f of files) {
    const rel = path.relative(root, f);
    if (rel === path.join('test', 'helpers', 'prereq.ts')) continue;
    const text = fs.readFileSync(f, 'utf8');
    text.split('\n').forEach((l, i) => {
      // t.skip / test.skip / it.skip / describe.skip and todo: a skip CI would not see
      if (/\b(?:t|test|it|describe|suite|context)\.(?:skip|todo)\s*\(/.test(l) || /[{,]\s*todo\s*[:,}]/.test(l)) bad.push(`${rel}:${i + 1}: ${l.trim()}`);
    });
    // a skip option must come from loudSkip
    if (/[{,]\s*skip\s*[:,}]/.test(text) && !/from '\.\.\/helpers\/prereq'/.test(text)) bad.push(`${rel}: has { skip } but does not use helpers/prereq (loudSkip)`);
  }
  assert.deepEqual(bad, [], 'skip through loudSkip / loudSkipHere, or hostSkip for what the host kernel lacks');
});
