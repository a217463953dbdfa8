#!/usr/bin/env node
// Builds the demo DPDK primary (demo-primary/demo_primary.c) into
// out/demo-primary/memscope-demo-primary, only when the binary is missing or
// older than its source. Needs a C compiler and libdpdk-dev (pkg-config).
//
//   node scripts/build-primary.mjs [--force] [--root DIR]
//
// --root builds it inside another release's userland (a chroot made by
// scripts/setup-releases.mjs) against that release's libdpdk-dev, into
// DIR/opt/memscope/memscope-demo-primary, where it runs (chroot DIR ...).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'demo-primary', 'demo_primary.c');
const force = process.argv.includes('--force');
const rootAt = process.argv.indexOf('--root');
const inRoot = rootAt >= 0 ? process.argv[rootAt + 1] : null;
if (rootAt >= 0 && !inRoot) {
  console.error('build-primary: --root takes the folder of a release root.');
  process.exit(2);
}
const binary = inRoot ? join(inRoot, 'opt', 'memscope', 'memscope-demo-primary') : join(root, 'out', 'demo-primary', 'memscope-demo-primary');
/** argv run inside the root, if any: its compiler, its pkg-config, its libdpdk-dev. */
const here = (argv) => (inRoot ? ['chroot', inRoot, ...argv] : argv);
/** A path inside the root as its processes see it. */
const inside = (p) => (inRoot ? p.slice(inRoot.replace(/\/$/, '').length) : p);

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function die(sentence) {
  console.error(`build-primary: ${sentence}`);
  process.exit(1);
}

function pkgConfig(flag) {
  const [cmd, ...args] = here(['pkg-config', flag, 'libdpdk']);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error && r.error.code === 'ENOENT') {
    die('pkg-config is missing; install libdpdk-dev: apt-get install -y libdpdk-dev');
  }
  if (r.status !== 0) {
    die('pkg-config does not know libdpdk; install libdpdk-dev: apt-get install -y libdpdk-dev');
  }
  return r.stdout.trim().split(/\s+/).filter(Boolean);
}

const built = mtime(binary);
const src = mtime(source);
if (src === undefined) die(`${source} is missing.`);
if (!force && built !== undefined && built >= src) {
  console.log(`demo primary is up to date: ${binary}`);
  process.exit(0);
}

const cflags = pkgConfig('--cflags');
const libs = pkgConfig('--libs');
mkdirSync(dirname(binary), { recursive: true });
const cc = inRoot ? 'cc' : process.env.CC || 'cc';
// in a root the source goes in on stdin (the root has no way to this checkout)
const [cmd, ...args] = here([cc, '-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-pthread', ...cflags, '-o', inside(binary), ...(inRoot ? ['-x', 'c', '-'] : [source]), ...libs]);
const r = spawnSync(cmd, args, { stdio: [inRoot ? 'pipe' : 'inherit', 'inherit', 'inherit'], ...(inRoot ? { input: readFileSync(source) } : {}) });
if (r.error) die(`cannot run ${cc} (${r.error.message}); install a C compiler: apt-get install -y gcc`);
if (r.status !== 0) die(`${cc} failed with status ${r.status} compiling ${source}.`);
console.log(`built demo primary: ${binary}`);
