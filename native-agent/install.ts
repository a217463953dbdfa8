/**
 * `memscope install [--prefix DIR]`: puts the one-file CLI on PATH. It copies
 * the running bundle (scripts/build-cli.mjs: out/cli/cli.js in a checkout,
 * out/agent/cli.js in the .vsix) and koffi, its only dependency (runtime JS
 * and the linux-x64 binary), into DIR/lib/memscope, and links
 * DIR/bin/memscope to DIR/lib/memscope/cli.js. DIR is /usr/local for root
 * and ~/.local for anyone else. The copy stands alone (the checkout or the
 * extension it came from may go); running install again replaces it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { absPath, shown, unseenProblem } from '../common/checks';
import { ErrorCode, MemscopeError } from '../common/errors';

export interface InstallResult {
  version: string;
  /** DIR/bin/memscope */
  link: string;
  /** DIR/lib/memscope/cli.js */
  script: string;
  /** The node that `env node` finds on this PATH, and its version. */
  node: string;
  nodeVersion: string;
  /** DIR/bin is on this process's PATH. */
  onPath: boolean;
}

/** The koffi files a running CLI needs: no C sources, docs, build tools or musl binary (the same filter as scripts/package.mjs). */
function koffiFile(src: string): boolean {
  return !/[/\\](doc|vendor|lib|cnoke\.cjs|CMakeLists\.txt|musl_x64)$/.test(src) && !/\.(cc|hh|inc|S|asm)$/.test(src);
}

export function defaultPrefix(): string {
  return process.geteuid?.() === 0 ? '/usr/local' : path.join(os.homedir(), '.local');
}

function checkPrefix(prefix: string): void {
  const problem = !absPath(prefix) ? 'is not an absolute directory without ".."' : unseenProblem(prefix);
  if (problem) throw new MemscopeError(ErrorCode.BadArguments, `--prefix "${shown(prefix)}" ${problem}: give an absolute directory such as /usr/local or ${path.join(os.homedir(), '.local')}.`);
}

/** The first executable `name` on PATH, or null. */
export function onPath(name: string, pathVar = process.env.PATH ?? ''): string | null {
  for (const dir of pathVar.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Turns a file system failure into one sentence (permission: how to get it). */
function fsFailure(e: unknown, what: string): MemscopeError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new MemscopeError(
      ErrorCode.Permission,
      `cannot ${what} as uid ${process.geteuid?.()} (${code}): run it as root (sudo), or install for yourself with --prefix ${path.join(os.homedir(), '.local')}.`,
    );
  }
  return new MemscopeError(ErrorCode.Internal, `cannot ${what} (${(e as Error).message}): fix that and run install again.`);
}

/** A directory this install may replace: absent, or an earlier memscope install. */
function isOurs(dir: string): boolean {
  try {
    return /^\/\/ memscope /m.test(fs.readFileSync(path.join(dir, 'cli.js'), 'latin1').slice(0, 400));
  } catch {
    return false;
  }
}

/**
 * Installs `bundle` (the running one-file CLI) with the koffi it loads, then
 * runs the installed link with --version as a user would.
 */
export function install(bundle: string, version: string, prefix: string = defaultPrefix()): InstallResult {
  checkPrefix(prefix);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new MemscopeError(ErrorCode.BadArguments, `this CLI carries koffi for linux-x64 only, not ${process.platform}-${process.arch}: build it on the machine that runs it (npm run install-cli).`);
  }
  // the installed file starts with `#!/usr/bin/env … node`: the first node on PATH runs it
  const node = onPath('node');
  if (!node) {
    throw new MemscopeError(ErrorCode.BadArguments, 'no `node` on PATH, and the installed memscope runs the first node on PATH: install Node.js 20 or later (or put its bin directory on PATH), then run install again.');
  }
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  const nodeVersion = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8', env, timeout: 30_000 }).stdout?.trim() ?? '';
  if (!/^\d+\./.test(nodeVersion) || Number(nodeVersion.split('.')[0]) < 20) {
    throw new MemscopeError(ErrorCode.BadArguments, `${node}, the first node on PATH, is ${nodeVersion ? `Node ${nodeVersion}` : 'not a working Node.js'}, and memscope needs Node 20 or later: put a newer node first on PATH, then run install again.`);
  }

  // koffi from where this bundle loads it (a checkout's node_modules or the .vsix's out/agent/node_modules)
  let koffiDir: string;
  try {
    koffiDir = path.dirname(require.resolve('koffi'));
  } catch {
    throw new MemscopeError(ErrorCode.Internal, `koffi is not beside ${bundle} (node_modules/koffi): rebuild the CLI (npm run install-cli in a checkout) or reinstall the extension.`);
  }
  const platformDir = path.join(koffiDir, '..', '@koromix', 'koffi-linux-x64');
  if (!fs.existsSync(path.join(platformDir, 'linux_x64', 'koffi.node'))) {
    throw new MemscopeError(ErrorCode.Internal, `koffi's linux-x64 binary is missing (${path.join(platformDir, 'linux_x64', 'koffi.node')}): rebuild the CLI (npm run install-cli in a checkout) or reinstall the extension.`);
  }

  const libDir = path.join(prefix, 'lib', 'memscope');
  const binDir = path.join(prefix, 'bin');
  const link = path.join(binDir, 'memscope');
  const target = path.join('..', 'lib', 'memscope', 'cli.js');
  if (fs.existsSync(libDir) && !isOurs(libDir)) {
    throw new MemscopeError(ErrorCode.BadArguments, `${libDir} exists and is not a memscope install: move it away, or pick another --prefix.`);
  }
  let old: fs.Stats | null = null;
  try {
    old = fs.lstatSync(link);
  } catch {
    /* nothing there */
  }
  if (old && !(old.isSymbolicLink() && path.basename(fs.readlinkSync(link)) === 'cli.js')) {
    throw new MemscopeError(ErrorCode.BadArguments, `${link} exists and is not a link to a memscope cli.js: remove it, or pick another --prefix.`);
  }

  // stage beside the final place, then swap: a failure leaves the old install whole
  const stage = path.join(prefix, 'lib', `.memscope-new-${process.pid}`);
  const retired = path.join(prefix, 'lib', `.memscope-old-${process.pid}`);
  try {
    fs.mkdirSync(path.join(stage, 'node_modules', '@koromix'), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw fsFailure(e, `create ${path.join(prefix, 'lib')}`);
  }
  try {
    fs.copyFileSync(bundle, path.join(stage, 'cli.js'));
    fs.chmodSync(path.join(stage, 'cli.js'), 0o755);
    fs.cpSync(koffiDir, path.join(stage, 'node_modules', 'koffi'), { recursive: true, dereference: true, filter: koffiFile });
    fs.cpSync(platformDir, path.join(stage, 'node_modules', '@koromix', 'koffi-linux-x64'), { recursive: true, dereference: true, filter: koffiFile });
    fs.chmodSync(stage, 0o755);
    const hadOld = fs.existsSync(libDir);
    if (hadOld) fs.renameSync(libDir, retired);
    fs.renameSync(stage, libDir);
    if (hadOld) fs.rmSync(retired, { recursive: true, force: true });
    fs.mkdirSync(binDir, { recursive: true, mode: 0o755 });
    const tmpLink = path.join(binDir, `.memscope-${process.pid}`);
    fs.rmSync(tmpLink, { force: true });
    fs.symlinkSync(target, tmpLink);
    fs.renameSync(tmpLink, link);
  } catch (e) {
    fs.rmSync(stage, { recursive: true, force: true });
    throw fsFailure(e, `install into ${prefix}`);
  }

  // the installed link, run as a user runs it
  const r = spawnSync(link, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0 || !r.stdout.startsWith('memscope ')) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop();
    throw new MemscopeError(ErrorCode.Internal, `the installed ${link} does not run (${why}): check that /usr/bin/env supports -S (coreutils 8.30 or later) and that ${node} runs, then run install again.`);
  }
  const onPathNow = (process.env.PATH ?? '').split(':').some((d) => d && path.resolve(d) === path.resolve(binDir));
  return { version, link, script: path.join(libDir, 'cli.js'), node, nodeVersion, onPath: onPathNow };
}
