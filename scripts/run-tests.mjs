#!/usr/bin/env node
// Runs the compiled tests (out/test/**/*.test.js) with node's built-in runner,
// one file at a time: unit tests first, then the DPDK ones, then the rest.
//
//   node scripts/run-tests.mjs            every test file
//   node scripts/run-tests.mjs unit       only files whose path contains "unit"
//   node scripts/run-tests.mjs unit demo  files whose path contains either
//
// The runner's output passes straight through (its closing "# pass N" /
// "# fail N" summary included). An overall watchdog (MEMSCOPE_TEST_TIMEOUT_S,
// default 2400 s) ends the whole process group of a run that hangs. The exit
// status is the runner's.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = path.join(root, 'out', 'test');

function die(code, sentence) {
  console.error(`run-tests: ${sentence}`);
  process.exit(code);
}

function findTests(dir) {
  const out = [];
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

if (!fs.existsSync(testRoot)) die(2, `${path.relative(root, testRoot)} does not exist: build first with \`npx tsc -p .\`.`);

const filters = process.argv.slice(2);
const group = (rel) => (rel.startsWith(`unit${path.sep}`) ? 0 : rel.startsWith(`dpdk${path.sep}`) ? 1 : 2);
const files = findTests(testRoot)
  .map((p) => path.relative(testRoot, p))
  .filter((rel) => !filters.length || filters.some((f) => path.join('out', 'test', rel).includes(f)))
  .sort((a, b) => group(a) - group(b) || (a < b ? -1 : a > b ? 1 : 0))
  .map((rel) => path.join(testRoot, rel));

if (!files.length) {
  die(2, `no compiled test file${filters.length ? ` matches ${filters.map((f) => `"${f}"`).join(' or ')}` : ' was found'} under ${path.relative(root, testRoot)}: check the filter, or build with \`npx tsc -p .\`.`);
}

const envLimit = Number(process.env.MEMSCOPE_TEST_TIMEOUT_S);
const limitS = Number.isFinite(envLimit) && envLimit > 0 ? envLimit : 2400;

// detached: the runner leads its own process group, so the watchdog can end
// it together with every test process and whatever those started
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
});

const killGroup = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
};

let timedOut = false;
const watchdog = setTimeout(() => {
  timedOut = true;
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), 5000).unref();
}, limitS * 1000);

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killGroup(sig);
    setTimeout(() => killGroup('SIGKILL'), 5000).unref();
  });
}

child.on('error', (e) => {
  clearTimeout(watchdog);
  die(1, `could not start node's test runner (${e.message}): check that ${process.execPath} runs.`);
});

child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  // whatever the runner left behind in its group goes with it
  killGroup('SIGKILL');
  if (timedOut) die(124, `the tests did not finish within ${limitS} s and were stopped: find the hanging test above, or raise MEMSCOPE_TEST_TIMEOUT_S.`);
  if (signal) die(1, `node's test runner was ended by ${signal}.`);
  process.exit(code ?? 1);
});
