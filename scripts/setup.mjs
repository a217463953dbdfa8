#!/usr/bin/env node
// Installs what Memscope's demo, tests and benchmarks need on a fresh Debian 12
// machine, and only what is missing: Debian's DPDK (runtime, tools, headers),
// reserved and mounted 2 MB hugepages, npm dependencies, the build.
// Every step is idempotent; each failure is one sentence and a distinct exit
// status (64 not root, 65 apt, 66 hugepages, 67 npm, 68 build).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const { cleanInstallEnv } = createRequire(import.meta.url)('./lib/child-env.cjs');

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (s) => quiet || console.error(`setup: ${s}`);

function die(code, sentence) {
  console.error(`setup: ${sentence}`);
  process.exit(code);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', timeout: 20 * 60_000, ...opts });
  return r.status === 0;
}

// Packages: the runtime and tools (dpdk-testpmd, dpdk-proc-info), headers for
// the demo primary, a C compiler, sudo (the extension's
// memscope.agent.launchPrefix is tested with a real `sudo -n`) and strace
// (the hostile-input tests prove no file is touched before a refusal).
const APT = ['dpdk', 'dpdk-dev', 'libdpdk-dev', 'pkg-config', 'gcc', 'libc6-dev', 'sudo', 'strace'];
const HUGEPAGES = Number(process.env.MEMSCOPE_HUGEPAGES ?? 1024); // 2 GiB of 2 MB pages

if (process.getuid && process.getuid() !== 0) {
  die(64, 'this needs root: it installs Debian\u2019s dpdk packages, reserves 2 MB hugepages, and DPDK primaries and their secondaries run as root; run it again as root (e.g. sudo -E npm test).');
}

function missingPackages() {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...APT], { encoding: 'utf8' });
  const installed = new Set(
    (r.stdout || '')
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return APT.filter((p) => !installed.has(p));
}

const missing = missingPackages();
if (missing.length) {
  say(`installing ${missing.join(' ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!run('apt-get', ['update', '-qq'], { env }) || !run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env })) {
    die(65, `apt-get could not install ${missing.join(' ')}: check that Debian's repositories are reachable (apt-get update), then run this again.`);
  }
}

// Hugepages: reserve enough 2 MB pages and mount hugetlbfs at /dev/hugepages.
const nrPath = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';
try {
  const nr = Number(fs.readFileSync(nrPath, 'utf8'));
  if (nr < HUGEPAGES) {
    fs.writeFileSync(nrPath, String(HUGEPAGES));
    const now = Number(fs.readFileSync(nrPath, 'utf8'));
    if (now < 256) die(66, `the kernel reserved only ${now} of ${HUGEPAGES} 2 MB hugepages (memory is fragmented or short): free memory, or reserve them at boot (hugepages=${HUGEPAGES}).`);
    say(`reserved ${now} 2 MB hugepages`);
  }
} catch (e) {
  if (e.code === 'ENOENT') die(66, 'this kernel has no 2 MB hugepages (/sys/kernel/mm/hugepages/hugepages-2048kB): DPDK primaries cannot run here.');
  throw e;
}
const mounts = fs.readFileSync('/proc/mounts', 'utf8');
if (!mounts.split('\n').some((l) => l.split(' ')[2] === 'hugetlbfs')) {
  fs.mkdirSync('/dev/hugepages', { recursive: true });
  if (!run('mount', ['-t', 'hugetlbfs', 'nodev', '/dev/hugepages'])) {
    die(66, 'could not mount hugetlbfs at /dev/hugepages: mount it by hand (mount -t hugetlbfs nodev /dev/hugepages).');
  }
  say('mounted hugetlbfs at /dev/hugepages');
}

// npm dependencies, when node_modules is missing or older than the lock file.
const lock = path.join(root, 'package-lock.json');
const stamp = path.join(root, 'node_modules', '.package-lock.json');
const mtime = (p) => {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};
if (mtime(stamp) < 0 || mtime(stamp) < mtime(lock)) {
  say('installing npm dependencies');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, env: cleanInstallEnv(process.env) })) {
    die(67, 'npm ci failed: check that the npm registry is reachable, then run this again.');
  }
}

// Build: TypeScript and the demo primary.
if (!run('npx', ['tsc', '-p', '.'], { cwd: root })) die(68, 'the TypeScript build failed (npx tsc -p .): fix the errors it printed.');
// each Node process alone, with only its own types (no DOM); scripts/build-webview.mjs checks the webview without Node's
for (const part of ['native-agent', 'extension']) {
  if (!run('npx', ['tsc', '-p', part], { cwd: root })) die(68, `the type check of ${part}/ alone failed (npx tsc -p ${part}): fix the errors it printed.`);
}
if (!run(process.execPath, [path.join(root, 'scripts', 'build-primary.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })) {
  die(68, 'the demo primary did not build (node scripts/build-primary.mjs): fix the errors it printed.');
}
fs.chmodSync(path.join(root, 'out', 'native-agent', 'cli.js'), 0o755);
// the webview and extension bundles, and the one-file CLI out/cli/cli.js (esbuild)
for (const script of ['build-webview.mjs', 'build-extension.mjs', 'build-cli.mjs']) {
  if (!run(process.execPath, [path.join(root, 'scripts', script)], { cwd: root })) die(68, `scripts/${script} failed: fix the errors it printed.`);
}
// a real VS Code for the e2e tests (code-server, Node 24, Chromium) in $MEMSCOPE_E2E_CACHE
{
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup-e2e.mjs'), ...(quiet ? ['--quiet'] : [])], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// other DPDK releases: Debian 13 (24.11) and sid (25.11) userlands under
// $MEMSCOPE_RELEASES_DIR with the demo primary built in each against that
// release's libdpdk-dev, and a 22.11 EAL built with other constants
// (RTE_MAX_MEMSEG_LISTS 256) under $MEMSCOPE_CUSTOM_EAL_DIR
{
  const step = (script, args = []) => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
    if (r.status !== 0) process.exit(r.status ?? 1);
  };
  step('setup-releases.mjs');
  const releases = process.env.MEMSCOPE_RELEASES_DIR || '/var/cache/memscope-releases';
  for (const name of ['trixie', 'sid']) step('build-primary.mjs', ['--root', path.join(releases, name)]);
  step('build-custom-eal.mjs');
}
