#!/usr/bin/env node
// Builds the demo DPDK primary (demo-primary/demo_primary.c) into
// out/demo-primary/memscope-demo-primary, only when the binary is missing or
// older than its source. Needs a C compiler and libdpdk-dev (pkg-config).
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'demo-primary', 'demo_primary.c');
const binary = join(root, 'out', 'demo-primary', 'memscope-demo-primary');
const force = process.argv.includes('--force');

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
  const r = spawnSync('pkg-config', [flag, 'libdpdk'], { encoding: 'utf8' });
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
const cc = process.env.CC || 'cc';
const args = ['-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-pthread', ...cflags, '-o', binary, source, ...libs];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error) die(`cannot run ${cc} (${r.error.message}); install a C compiler: apt-get install -y gcc`);
if (r.status !== 0) die(`${cc} failed with status ${r.status} compiling ${source}.`);
console.log(`built demo primary: ${binary}`);
