#!/usr/bin/env node
// Builds the userlands of the other DPDK releases Memscope is tested against,
// each a Debian root in a folder under a cache outside the repository:
//
//   trixie  Debian 13, DPDK 24.11 (librte_*.so.25)
//   sid     Debian unstable, DPDK 25.11 (librte_*.so.26)
//
// with debootstrap, then in each: dpdk-dev (testpmd and proc-info live there
// from 24.11 on), every PMD (librte-meta-all), libdpdk-dev, a C compiler and
// pkg-config (the demo primary is built against each release), and nodejs (a
// secondary of a release needs its glibc: the helper runs in its userland).
// Newer librte_eal needs GLIBC_2.38; Debian 12 has 2.36.
//
//   node scripts/setup-releases.mjs [trixie|sid ...]   (default: both)
//
// MEMSCOPE_RELEASES_DIR sets the cache (default /var/cache/memscope-releases).
// Idempotent: a root whose recipe is unchanged is kept (its `.memscope-ready`
// names the recipe); one half made is removed and made again. Mounts this
// script makes (proc, sys, dev for apt's scripts) are undone, also on failure.
// Each failure is one sentence and a distinct exit status (64 not root, 69
// debootstrap missing and not installable, 70 debootstrap failed, 71 apt in a
// root failed, 72 a mount, 73 an unknown release name).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const RELEASES = {
  trixie: { dpdk: '24.11', soname: 25, apt: [] },
  // sid's Release file on Debian's mirror is often expired
  sid: { dpdk: '25.11', soname: 26, apt: ['-o', 'Acquire::Check-Valid-Until=false'] },
};
const PACKAGES = ['dpdk-dev', 'librte-meta-all', 'libdpdk-dev', 'gcc', 'libc6-dev', 'pkg-config', 'nodejs'];
/** Changes when what a root holds changes: an older root is made again. */
const RECIPE = `memscope-releases 1: minbase + ${PACKAGES.join(' ')}`;

const cache = process.env.MEMSCOPE_RELEASES_DIR || '/var/cache/memscope-releases';
const say = (s) => console.error(`setup-releases: ${s}`);

function die(code, sentence) {
  console.error(`setup-releases: ${sentence}`);
  process.exit(code);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 15 * 60_000, ...opts });
  return r.status === 0;
}

/** The Debian mirror apt already uses (a deb822 source or a one-line one), else Debian's own. */
export function debianMirror(sources) {
  for (const text of sources) {
    const uris = /^URIs:\s*(\S+)/m.exec(text);
    if (uris && /\/debian\/?$/.test(uris[1])) return uris[1];
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text);
    if (line) return line[1];
  }
  return 'http://deb.debian.org/debian';
}

function readSources() {
  const out = [];
  for (const f of ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').filter((n) => /\.(list|sources)$/.test(n)).map((n) => `/etc/apt/sources.list.d/${n}`)]) {
    try {
      out.push(fs.readFileSync(f, 'utf8'));
    } catch {
      /* absent */
    }
  }
  return out;
}

function listDir(d) {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
}

/** Mounts proc, sys and dev into `root` for the duration of `fn`; unmounts what it mounted, also on failure. */
function withMounts(root, fn) {
  const made = [];
  try {
    for (const [type, src, dst, opts] of [
      ['proc', 'proc', 'proc', []],
      ['sysfs', 'sys', 'sys', []],
      [null, '/dev', 'dev', ['--bind']],
    ]) {
      const at = path.join(root, dst);
      fs.mkdirSync(at, { recursive: true });
      const args = type ? ['-t', type, src, at] : [...opts, src, at];
      if (!run('mount', args)) die(72, `could not mount ${dst} into ${root}: is this a container without CAP_SYS_ADMIN? Run it where mount works.`);
      made.unshift(at);
    }
    return fn();
  } finally {
    for (const at of made) spawnSync('umount', ['-l', at], { stdio: 'ignore' });
  }
}

function ready(root) {
  try {
    return fs.readFileSync(path.join(root, '.memscope-ready'), 'utf8').trim() === RECIPE;
  } catch {
    return false;
  }
}

function setup(name) {
  const rel = RELEASES[name];
  const root = path.join(cache, name);
  if (ready(root)) {
    say(`${name} (DPDK ${rel.dpdk}): ${root} is ready`);
    return;
  }
  const t0 = Date.now();
  fs.mkdirSync(cache, { recursive: true });
  const tmp = `${root}.partial`;
  // a half-made root, or one of an older recipe, is made again from nothing
  for (const old of [tmp, root]) if (fs.existsSync(old)) fs.rmSync(old, { recursive: true, force: true });
  const mirror = debianMirror(readSources());
  say(`${name} (DPDK ${rel.dpdk}): debootstrap from ${mirror} into ${tmp}`);
  if (!run('debootstrap', ['--variant=minbase', name, tmp, mirror], { stdio: ['ignore', 'ignore', 'inherit'] })) {
    die(70, `debootstrap of ${name} from ${mirror} failed: check that the mirror serves ${name} (apt-get update on the host works), then run this again.`);
  }
  const t1 = Date.now();
  withMounts(tmp, () => {
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8', HOME: '/root' };
    const apt = ['apt-get', ...rel.apt];
    if (!run('chroot', [tmp, ...apt, 'update', '-qq'], { env }) || !run('chroot', [tmp, ...apt, 'install', '-y', '-qq', '--no-install-recommends', ...PACKAGES], { env, stdio: ['ignore', 'ignore', 'inherit'] })) {
      die(71, `apt-get in the ${name} root could not install ${PACKAGES.join(' ')}: check that the mirror serves ${name}'s dpdk packages, then run this again.`);
    }
  });
  fs.writeFileSync(path.join(tmp, '.memscope-ready'), RECIPE + '\n');
  fs.renameSync(tmp, root);
  say(`${name} (DPDK ${rel.dpdk}): ready in ${((Date.now() - t0) / 1000).toFixed(0)} s (debootstrap ${((t1 - t0) / 1000).toFixed(0)} s)`);
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  if (process.getuid && process.getuid() !== 0) die(64, 'this needs root: debootstrap, chroot and mount do; run it again as root.');
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(RELEASES);
  for (const n of names) if (!(n in RELEASES)) die(73, `"${n}" is not a release this script knows: use ${Object.keys(RELEASES).join(' or ')}.`);
  if (spawnSync('debootstrap', ['--version'], { stdio: 'ignore' }).error) {
    say('installing debootstrap from Debian');
    if (!run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'debootstrap'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })) {
      die(69, 'debootstrap is missing and apt-get could not install it: install it (apt-get install debootstrap), then run this again.');
    }
  }
  for (const n of names) setup(n);
}
