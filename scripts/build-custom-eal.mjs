#!/usr/bin/env node
// Builds DPDK 22.11 EALs with options Debian's build does not use, from
// Debian 12's own source package, for the tests that Memscope refuses such
// builds for what they are (test/dpdk/custom-build.test.ts): RTE_MAX_MEMSEG_LISTS
// 256 instead of 128 (lists-256), and RTE_MALLOC_DEBUG (malloc-debug: heap
// elements with cookies and a trailer). Debian's dpdk-testpmd runs on either
// with LD_LIBRARY_PATH=<dir> and -d for Debian's PMDs (ABI-compatible).
//
//   node scripts/build-custom-eal.mjs [lists-256|malloc-debug]   prints that build's library folder
//
// MEMSCOPE_CUSTOM_EAL_DIR sets the cache (default /var/cache/memscope-custom-eal).
// Idempotent: a build of the same recipe is kept. Needs meson, ninja-build,
// python3-pyelftools, libnuma-dev, dpkg-dev (installed when missing) and
// bookworm's source index (a deb-src line with Debian's keyring is added for
// the download and removed after). Each failure is one sentence and a
// distinct exit status (64 not root, 74 apt, 75 source download, 76 build).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const RECIPE = 'memscope-custom-eal 2: Debian 22.11 EAL, lists-256 (RTE_MAX_MEMSEG_LISTS 256) and malloc-debug (-DRTE_MALLOC_DEBUG)';
const VARIANTS = ['lists-256', 'malloc-debug'];
const cache = process.env.MEMSCOPE_CUSTOM_EAL_DIR || '/var/cache/memscope-custom-eal';
const variant = process.argv[2] ?? 'lists-256';
if (!VARIANTS.includes(variant)) {
  console.error(`build-custom-eal: "${variant}" is not a build this script makes (${VARIANTS.join(', ')}).`);
  process.exit(2);
}
const lib = path.join(cache, variant);
const say = (s) => console.error(`build-custom-eal: ${s}`);

function die(code, sentence) {
  console.error(`build-custom-eal: ${sentence}`);
  process.exit(code);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 10 * 60_000, ...opts });
  return r.status === 0;
}

if (process.getuid && process.getuid() !== 0) die(64, 'this needs root: it installs build tools with apt-get; run it again as root.');

let ready = false;
try {
  ready = fs.readFileSync(path.join(cache, '.memscope-ready'), 'utf8').trim() === RECIPE && VARIANTS.every((v) => fs.existsSync(path.join(cache, v, 'librte_eal.so.23')));
} catch {
  /* not built */
}
if (!ready) {
  const t0 = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const tools = ['meson', 'ninja-build', 'python3-pyelftools', 'libnuma-dev', 'dpkg-dev'];
  const have = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...tools], { encoding: 'utf8' }).stdout ?? '';
  const missing = tools.filter((t) => !have.split('\n').includes(`${t} installed`));
  if (missing.length && !run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env })) {
    die(74, `apt-get could not install ${missing.join(' ')}: check that Debian's repositories are reachable, then run this again.`);
  }
  fs.rmSync(cache, { recursive: true, force: true });
  const src = path.join(cache, 'src');
  fs.mkdirSync(src, { recursive: true });
  // bookworm's sources, through Debian's keyring, only for this download
  const list = '/etc/apt/sources.list.d/memscope-custom-eal-src.list';
  const srcDir = path.join(cache, 'apt-lists');
  fs.mkdirSync(srcDir, { recursive: true });
  fs.writeFileSync(list, 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n');
  try {
    if (!run('apt-get', ['update', '-qq'], { env }) || !run('apt-get', ['source', '-qq', 'dpdk/bookworm'], { env, cwd: src })) {
      die(75, "apt-get source dpdk (bookworm's 22.11) failed: check that deb.debian.org serves bookworm's sources, then run this again.");
    }
  } finally {
    fs.rmSync(list, { force: true });
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
  }
  const tree = fs.readdirSync(src).map((n) => path.join(src, n)).find((p) => fs.statSync(p).isDirectory() && /dpdk-22\.11/.test(p));
  if (!tree) die(75, `the dpdk source package unpacked no dpdk-22.11 folder in ${src}: run this again.`);
  const cfg = path.join(tree, 'config', 'rte_config.h');
  const text = fs.readFileSync(cfg, 'utf8');
  if (!text.includes('#define RTE_MAX_MEMSEG_LISTS 128')) die(76, `${cfg} does not define RTE_MAX_MEMSEG_LISTS 128 as 22.11 does: this is not the source this script knows.`);
  const builds = {
    'lists-256': { config: text.replace('#define RTE_MAX_MEMSEG_LISTS 128', '#define RTE_MAX_MEMSEG_LISTS 256'), meson: [] },
    'malloc-debug': { config: text, meson: ['-Dc_args=-DRTE_MALLOC_DEBUG'] },
  };
  for (const v of VARIANTS) {
    fs.writeFileSync(cfg, builds[v].config);
    const build = path.join(tree, `build-${v}`);
    if (
      !run('meson', ['setup', build, '-Ddisable_drivers=*', '-Ddisable_apps=*', '-Dtests=false', '-Denable_docs=false', '-Dexamples=', ...builds[v].meson], { cwd: tree }) ||
      !run('ninja', ['-C', build, 'lib/librte_eal.so.23.0'], { cwd: tree })
    ) {
      die(76, `the ${v} EAL did not build in ${tree} (meson, ninja): read the errors above.`);
    }
    const out = path.join(cache, v);
    fs.mkdirSync(out, { recursive: true });
    fs.copyFileSync(path.join(build, 'lib', 'librte_eal.so.23.0'), path.join(out, 'librte_eal.so.23.0'));
    fs.symlinkSync('librte_eal.so.23.0', path.join(out, 'librte_eal.so.23'));
  }
  fs.rmSync(src, { recursive: true, force: true });
  fs.rmSync(srcDir, { recursive: true, force: true });
  fs.writeFileSync(path.join(cache, '.memscope-ready'), RECIPE + '\n');
  say(`built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
console.log(lib);
