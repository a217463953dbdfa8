// Real DPDK primaries for tests: the project's demo primary (driven by line
// commands) and dpdk-testpmd, plus DPDK's own tools as oracles
// (dpdk-proc-info, rte_malloc_dump_heaps output).
//
// Every process started here runs in its own process group and is recorded
// in a registry; when the test process ends (normally, by an uncaught error or
// by SIGINT/SIGTERM/SIGHUP) the survivors are SIGKILLed and their hugepage
// files and runtime directories removed, so a failing test leaves nothing
// behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { inRoot, releaseRuntimeDirs, type ReleaseRoot } from './releases';
import { hexOrNil, parseProcInfo, type ProcInfoMemzone, type ProcInfoSegment } from '../../native-agent/proc-info';

export { parseProcInfo, type ProcInfoMemzone, type ProcInfoSegment };

// ---------- locating things ----------

function repoRoot(): string {
  // Compiled into out/test/helpers/ or elsewhere (a scratch outDir): walk up
  // from this file, then from the working directory.
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      if (existsSync(join(dir, 'demo-primary', 'demo_primary.c'))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error('Cannot find the Memscope repository (demo-primary/demo_primary.c) above ' + __dirname);
}

let builtBinary: string | undefined;

/** Path of the demo primary, built (if stale) once per process. */
export function demoPrimaryBinary(): string {
  if (process.env.MEMSCOPE_DEMO_PRIMARY) return process.env.MEMSCOPE_DEMO_PRIMARY;
  if (builtBinary) return builtBinary;
  const root = repoRoot();
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-primary.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`Building the demo primary failed: ${(r.stderr || r.stdout || '').trim()}`);
  }
  builtBinary = join(root, 'out', 'demo-primary', 'memscope-demo-primary');
  return builtBinary;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin')
    .split(':')
    .some((d) => d !== '' && existsSync(join(d, cmd)));
}

function freeHugepages(): number {
  try {
    const m = /^HugePages_Free:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Why real DPDK primaries cannot run on this host, or undefined when they
 * can. Tests pass it as `skip` so the reason is printed.
 */
export function whyNoDpdk(needs: { testpmd?: boolean; procInfo?: boolean; cc?: boolean; hugepages?: number } = {}): string | undefined {
  if (process.platform !== 'linux') return 'DPDK primaries need Linux.';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'DPDK primaries with hugepages need root here.';
  if (hugetlbfsMounts().length === 0) return 'No hugetlbfs is mounted (mount -t hugetlbfs nodev /dev/hugepages).';
  const want = needs.hugepages ?? 128;
  const free = freeHugepages();
  if (free < want) return `Only ${free} free hugepages, ${want} needed (echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages).`;
  if (needs.testpmd && !onPath('dpdk-testpmd')) return 'dpdk-testpmd is missing (apt-get install -y dpdk).';
  if (needs.procInfo && !onPath('dpdk-proc-info')) return 'dpdk-proc-info is missing (apt-get install -y dpdk).';
  if (needs.cc) {
    if (!onPath('cc')) return 'No C compiler to build the demo primary (apt-get install -y gcc).';
    if (spawnSync('pkg-config', ['--exists', 'libdpdk']).status !== 0) {
      return 'libdpdk-dev is missing (apt-get install -y libdpdk-dev).';
    }
  }
  return undefined;
}

// ---------- small utilities ----------

class LineRing {
  private readonly lines: string[] = [];
  private partial = '';
  constructor(private readonly max: number) {}
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) {
      this.lines.push(l);
      if (this.lines.length > this.max) this.lines.shift();
    }
    return parts;
  }
  text(): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].join('\n');
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** True when pid is gone or a zombie (its locks and mappings are released). */
function isDead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (osConstants.signals as Record<string, number>)[signal] ?? 0 : 0;
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

// ---------- cleanup of a prefix ----------

/** Mount points of every hugetlbfs, from /proc/mounts. */
export function hugetlbfsMounts(): string[] {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'hugetlbfs')
      .map((f) => f[1]!.replace(/\\040/g, ' '));
  } catch {
    return [];
  }
}

/** Runtime directories DPDK may use for prefix (root: /var/run/dpdk). */
export function runtimeDirs(prefix: string): string[] {
  const dirs = [join('/var/run/dpdk', prefix)];
  if (process.env.XDG_RUNTIME_DIR) dirs.push(join(process.env.XDG_RUNTIME_DIR, 'dpdk', prefix));
  // primaries started in another release's root keep theirs there
  dirs.push(...releaseRuntimeDirs(prefix));
  return dirs;
}

/** Hugepage files of prefix: `<prefix>map_*` (EAL) and `<prefix>ext_*` (demo extmem). */
export function hugepageFiles(prefix: string): string[] {
  const files: string[] = [];
  for (const mnt of hugetlbfsMounts()) {
    let names: string[];
    try {
      names = readdirSync(mnt);
    } catch {
      continue;
    }
    for (const n of names) {
      if (n.startsWith(prefix + 'map_') || n.startsWith(prefix + 'ext_')) files.push(join(mnt, n));
    }
  }
  return files;
}

function devKey(dev: number, ino: number): string {
  // st_dev as glibc encodes it; /proc/locks prints major:minor in hex.
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major.toString(16)}:${minor.toString(16)}:${ino}`;
}

/** Pids holding a lock (POSIX, flock or OFD) on any of files. */
function lockHolders(files: string[]): Set<number> {
  const keys = new Set<string>();
  for (const f of files) {
    try {
      const st = statSync(f);
      keys.add(devKey(st.dev, st.ino));
    } catch {
      /* gone already */
    }
  }
  const holders = new Set<number>();
  if (keys.size === 0) return holders;
  let locks = '';
  try {
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return holders;
  }
  for (const line of locks.split('\n')) {
    const m = /^\d+:\s+(?:->\s+)?\S+\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m) continue;
    const key = `${parseInt(m[2]!, 16).toString(16)}:${parseInt(m[3]!, 16).toString(16)}:${m[4]!}`;
    if (keys.has(key)) holders.add(Number(m[1]));
  }
  return holders;
}

export interface CleanupResult {
  /** False when a live process still holds the prefix's files: nothing was removed. */
  removed: boolean;
  /** Pids that still hold locks on the runtime dir or hugepage files. */
  holders: number[];
  files: string[];
}

/**
 * Removes the runtime directory and hugepage files of prefix, unless a live
 * process (other than `ignorePids`) still holds a lock on one of them: the
 * primary's write lock on `config`, or any process's flock on an fbarray or
 * hugepage file (secondaries hold those too).
 */
export function cleanupPrefix(prefix: string, opts: { ignorePids?: number[] } = {}): CleanupResult {
  if (!prefix || prefix.includes('/') || prefix === '.' || prefix === '..') {
    throw new Error(`Refusing to clean up prefix '${prefix}'.`);
  }
  const dirs = runtimeDirs(prefix).filter((d) => existsSync(d));
  const huge = hugepageFiles(prefix);
  const dirFiles = dirs.flatMap((d) => {
    try {
      return readdirSync(d).map((n) => join(d, n));
    } catch {
      return [];
    }
  });
  const ignore = new Set(opts.ignorePids ?? []);
  // An OFD lock shows pid -1: its holder is unknown, so count it as alive.
  const holders = [...lockHolders([...dirFiles, ...huge])].filter((p) => p === -1 || (!ignore.has(p) && !isDead(p)));
  if (holders.length > 0) return { removed: false, holders, files: [...dirs, ...huge] };
  for (const f of huge) {
    try {
      unlinkSync(f);
    } catch {
      /* raced with another cleanup */
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  return { removed: true, holders: [], files: [...dirs, ...huge] };
}

// ---------- registry ----------

interface Managed {
  readonly pid: number;
  readonly prefix: string;
  alive(): boolean;
  stop(): Promise<void>;
}

const registry = new Set<Managed>();
/** Prefixes whose cleanup was refused while something still held them. */
const pendingPrefixes = new Set<string>();
let hooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Synchronous last resort: SIGKILL every live group, wait, clean up. */
export function stopAllSync(): void {
  const victims = [...registry].filter((m) => m.alive());
  for (const m of victims) killGroup(m.pid, 'SIGKILL');
  const deadline = Date.now() + 3000;
  while (victims.some((m) => !isDead(m.pid)) && Date.now() < deadline) sleepSync(10);
  for (const m of registry) pendingPrefixes.add(m.prefix);
  registry.clear();
  for (const p of pendingPrefixes) {
    try {
      if (cleanupPrefix(p, { ignorePids: [process.pid] }).removed) pendingPrefixes.delete(p);
    } catch {
      /* best effort at exit */
    }
  }
}

const OWN_PREFIX = /^(ms-(?:test|tpmd)-(\d+)-\d+)/;

/**
 * Removes what earlier test processes left behind when they could not clean
 * up (SIGKILLed): runtime dirs and hugepage files of this harness's prefixes
 * (`ms-test-<pid>-<n>`, `ms-tpmd-<pid>-<n>`) whose test process is gone and
 * that no live process holds. Returns the prefixes removed.
 */
export function sweepStalePrefixes(): string[] {
  const found = new Map<string, number>();
  const scan = (dir: string, exact: boolean) => {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = OWN_PREFIX.exec(n);
      if (!m) continue;
      const rest = n.slice(m[1]!.length);
      if (exact ? rest === '' : rest.startsWith('map_') || rest.startsWith('ext_')) found.set(m[1]!, Number(m[2]!));
    }
  };
  for (const d of runtimeDirs('')) scan(d, true);
  for (const mnt of hugetlbfsMounts()) scan(mnt, false);
  const removed: string[] = [];
  for (const [prefix, owner] of found) {
    if (owner === process.pid || !isDead(owner)) continue;
    try {
      if (cleanupPrefix(prefix).removed) removed.push(prefix);
    } catch {
      /* leave it */
    }
  }
  return removed;
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  sweepStalePrefixes();
  process.on('exit', stopAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      stopAllSync();
      // The listener is gone now: re-raise for the default action.
      process.kill(process.pid, sig);
    });
  }
}

function register(m: Managed): void {
  installHooks();
  registry.add(m);
}

/** Stops everything this process started (each gets its clean stop first). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...registry].map((m) => m.stop()));
  for (const p of [...pendingPrefixes]) {
    if (cleanupPrefix(p).removed) pendingPrefixes.delete(p);
  }
}

let prefixCounter = 0;
function uniquePrefix(kind: string): string {
  return `ms-${kind}-${process.pid}-${++prefixCounter}`;
}

// ---------- a managed child process ----------

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

abstract class PrimaryProcess implements Managed {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  protected exitInfo: Exit | undefined;
  protected readonly stderrRing = new LineRing(200);
  protected readonly stdoutRing = new LineRing(200);
  /** Set to false to keep the runtime dir after exit (post-mortem tests). */
  autoCleanup = true;

  protected constructor(
    readonly prefix: string,
    protected readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error('spawn gave no pid');
    this.pid = child.pid;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => this.stderrRing.push(d));
    // A late EPIPE on stdin (the process died) is reported through exit.
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        registry.delete(this);
        if (this.autoCleanup) {
          try {
            if (!cleanupPrefix(this.prefix).removed) pendingPrefixes.add(this.prefix);
          } catch {
            pendingPrefixes.add(this.prefix);
          }
        }
        resolve(this.exitInfo);
      });
    });
    // A forgotten stop must not keep the test process alive; the exit hook
    // kills what is left.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) {
      (s as unknown as { unref?: () => void } | null)?.unref?.();
    }
    register(this);
  }

  alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Stderr (EAL logs), last 200 lines. */
  log(): string {
    return this.stderrRing.text();
  }

  /** Signal the process group (default SIGKILL). */
  kill(signal: NodeJS.Signals | number = 'SIGKILL'): void {
    if (this.alive()) killGroup(this.pid, signal);
  }

  /** Resolves with the exit status, or undefined after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<Exit | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  protected abstract askToQuit(): void;

  /** Asks politely, waits ≤5 s, then SIGKILLs the group; cleans up either way. */
  async stop(): Promise<void> {
    if (this.alive()) {
      this.askToQuit();
      if ((await this.waitExit(5000)) === undefined) {
        this.kill('SIGKILL');
        if ((await this.waitExit(5000)) === undefined) {
          throw new Error(`${this.prefix}: pid ${this.pid} survived SIGKILL for 5 s.`);
        }
      }
    }
  }

  protected describeExit(): string {
    const e = this.exitInfo;
    if (!e) return 'still running';
    return e.signal ? `killed by ${e.signal}` : `exited with status ${e.code}`;
  }
}

async function waitReady(
  p: PrimaryProcess,
  ready: Promise<void>,
  timeoutMs: number,
  what: string,
  detail: () => string | undefined = () => undefined,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    p.exited.then(() => 'exited' as const),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome === 'ready') return;
  if (outcome === 'timeout') {
    p.kill('SIGKILL');
    await p.waitExit(5000);
  }
  const why = outcome === 'timeout' ? `was not ready after ${timeoutMs} ms` : 'exited before it was ready';
  const said = detail();
  throw new Error(`${what} (prefix ${p.prefix}) ${why}${said ? ` (${said})` : ''}; log tail:\n${tail(p.log())}`);
}

// ---------- the demo primary ----------

export interface DemoPrimaryOptions {
  prefix?: string;
  memMb?: number;
  extraEal?: string[];
  timeoutMs?: number;
  /** Run the demo primary built in another release's root (scripts/build-primary.mjs --root; mountRoot first). */
  root?: ReleaseRoot;
}

interface PendingCommand {
  line: string;
  timeoutMs: number;
  /** Runs from the call of command(): it covers the wait in the queue too. */
  timer: ReturnType<typeof setTimeout>;
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

export class DemoPrimary extends PrimaryProcess {
  /** The ready line: pid, prefix, runtimeDir, dpdkVersion, lcore, tscHz. */
  ready: any;
  private readonly queue: PendingCommand[] = [];
  private inFlight: PendingCommand | undefined;
  /** Replies still owed to commands that timed out: dropped on arrival. */
  private staleReplies = 0;
  private onReady: ((v: any) => void) | undefined;
  private initError: string | undefined;

  private constructor(prefix: string, child: ChildProcess) {
    super(prefix, child);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      for (const line of this.stdoutRing.push(d)) this.onLine(line);
    });
    void this.exited.then(() =>
      this.failAll(new Error(`demo primary ${this.prefix} ${this.describeExit()}; log tail:\n${tail(this.log())}`)),
    );
  }

  static async start(opts: DemoPrimaryOptions = {}): Promise<DemoPrimary> {
    const prefix = opts.prefix ?? uniquePrefix('test');
    const args = [
      '-l', '0', '--no-pci', '--file-prefix', prefix, '-m', String(opts.memMb ?? 256),
      '--log-level=lib.eal:notice', ...(opts.extraEal ?? []),
    ];
    const [cmd, ...rest] = opts.root ? inRoot(opts.root, ['/opt/memscope/memscope-demo-primary', ...args]) : [demoPrimaryBinary(), ...args];
    const child = spawn(cmd!, rest, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const p = new DemoPrimary(prefix, child);
    const ready = new Promise<void>((resolve) => {
      p.onReady = (v) => {
        p.ready = v;
        resolve();
      };
    });
    await waitReady(p, ready, opts.timeoutMs ?? 30000, 'The demo primary', () => p.initError);
    return p;
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      this.stderrRing.push(`[stdout, not JSON] ${line}\n`);
      return;
    }
    if (this.onReady) {
      if (msg.ready) {
        const f = this.onReady;
        this.onReady = undefined;
        f(msg);
      } else {
        // An init failure is one {"ok":false} line; the exit follows.
        this.initError = String(msg.error ?? line);
      }
      return;
    }
    if (this.staleReplies > 0) {
      this.staleReplies--;
      this.pump();
      return;
    }
    const cmd = this.inFlight;
    if (!cmd) {
      this.stderrRing.push(`[unexpected reply] ${line}\n`);
      return;
    }
    clearTimeout(cmd.timer);
    this.inFlight = undefined;
    if (msg.ok === true) cmd.resolve(msg);
    else cmd.reject(new Error(`${cmd.line.split(' ')[0]}: ${msg.error ?? line}`));
    this.pump();
  }

  private failAll(err: Error): void {
    const all = [...(this.inFlight ? [this.inFlight] : []), ...this.queue.splice(0)];
    this.inFlight = undefined;
    for (const c of all) {
      clearTimeout(c.timer);
      c.reject(err);
    }
  }

  private timedOut(cmd: PendingCommand): void {
    if (this.inFlight === cmd) {
      // Its reply may still come: the primary answers in order, so drop the next one.
      this.inFlight = undefined;
      this.staleReplies++;
    } else {
      const i = this.queue.indexOf(cmd);
      if (i < 0) return;
      this.queue.splice(i, 1);
    }
    cmd.reject(new Error(`'${cmd.line}' got no reply from demo primary ${this.prefix} within ${cmd.timeoutMs} ms`));
  }

  private pump(): void {
    if (this.inFlight || this.staleReplies > 0 || this.queue.length === 0 || !this.alive()) return;
    const cmd = this.queue.shift()!;
    this.inFlight = cmd;
    this.child.stdin!.write(cmd.line + '\n');
  }

  /**
   * Sends one command (queued behind earlier ones); resolves with the parsed
   * reply, rejects with the primary's error sentence on ok:false, after
   * timeoutMs, or when the primary exits.
   */
  command(line: string, timeoutMs = 10000): Promise<any> {
    if (/[\r\n]/.test(line) || line.trim() === '') {
      return Promise.reject(new Error('A command is one non-empty line.'));
    }
    if (!this.alive()) {
      return Promise.reject(new Error(`demo primary ${this.prefix} ${this.describeExit()}`));
    }
    return new Promise((resolve, reject) => {
      const cmd: PendingCommand = {
        line,
        timeoutMs,
        timer: setTimeout(() => this.timedOut(cmd), timeoutMs),
        resolve,
        reject,
      };
      this.queue.push(cmd);
      this.pump();
    });
  }

  /** Ends stdin, as a controller that went away would: the primary exits cleanly. */
  closeInput(): void {
    this.child.stdin!.end();
  }

  protected askToQuit(): void {
    // `quit` then EOF: the primary frees what it holds and calls rte_eal_cleanup.
    this.child.stdin!.end('quit\n');
  }
}

// ---------- testpmd ----------

export interface TestpmdOptions {
  prefix?: string;
  memMb?: number;
  mbufs?: number;
  timeoutMs?: number;
  /** Forward packets on lcore 1 (burns a whole CPU); default: interactive, idle. */
  forwarding?: boolean;
  /** Another librte_eal (a folder put first on LD_LIBRARY_PATH) and EAL args for it (e.g. -d for Debian's PMDs). */
  ealLibDir?: string;
  extraEal?: string[];
  /** Run the testpmd of another release's root (chroot; mountRoot first). */
  root?: ReleaseRoot;
  /** With root: in a container of its own (unshare: mount and pid namespaces, the root's mounts made inside). */
  container?: boolean;
}

/**
 * dpdk-testpmd with a null vdev: interactive and idle by default (ready at
 * its "testpmd> " prompt), or forwarding on lcore 1. Its stdout is a pipe,
 * so it is run under `stdbuf -oL`: otherwise "Press enter to exit" (printed
 * once ports are up and forwarding started) sits in stdio's buffer until exit.
 */
export class Testpmd extends PrimaryProcess {
  private constructor(prefix: string, child: ChildProcess) {
    super(prefix, child);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.stdoutRing.push(d));
  }

  static async start(opts: TestpmdOptions = {}): Promise<Testpmd> {
    const prefix = opts.prefix ?? uniquePrefix('tpmd');
    const args = [
      'dpdk-testpmd', '-l', '0-1', '--no-pci', ...(opts.extraEal ?? []), '--vdev', 'net_null0', '--file-prefix', prefix,
      '-m', String(opts.memMb ?? 512), '--', `--total-num-mbufs=${opts.mbufs ?? 4096}`,
      ...(opts.forwarding ? ['--stats-period', '0'] : ['-i']),
    ];
    const env = opts.ealLibDir ? { ...process.env, LD_LIBRARY_PATH: [opts.ealLibDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : process.env;
    const argv = ['stdbuf', '-oL', ...args];
    const r = opts.root;
    const [cmd, ...rest] =
      r && opts.container
        ? ['unshare', '--mount', '--pid', '--fork', 'sh', '-c', `mount --make-rslave / && mount -t proc proc "$0/proc" && mount -t sysfs sys "$0/sys" && mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"`, r.dir, ...argv]
        : r
          ? inRoot(r, argv)
          : argv;
    const child = spawn(cmd!, rest, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const p = new Testpmd(prefix, child);
    const ready = new Promise<void>((resolve) => {
      const check = () => {
        if (/Press enter to exit|testpmd> /.test(p.output())) {
          child.stdout!.off('data', check);
          resolve();
        }
      };
      child.stdout!.on('data', check);
    });
    await waitReady(p, ready, opts.timeoutMs ?? 30000, 'dpdk-testpmd');
    return p;
  }

  /** Stdout (testpmd's own messages), last 200 lines. */
  output(): string {
    return this.stdoutRing.text();
  }

  protected askToQuit(): void {
    // Non-interactive testpmd exits on a line (or EOF) on stdin.
    this.child.stdin!.end('quit\n');
  }
}

// ---------- oracles ----------

export interface ProcInfo {
  code: number;
  segments: ProcInfoSegment[];
  memzones: ProcInfoMemzone[];
  raw: string;
}

/**
 * Runs `dpdk-proc-info --file-prefix P --no-pci -- -m` (a DPDK secondary) and
 * parses it. Only for targets without external memory: proc-info walks
 * external memseg lists it has not mapped and crashes (see dpdk-notes.md).
 */
export function procInfo(prefix: string, timeoutMs = 20000, root?: ReleaseRoot): Promise<ProcInfo> {
  return new Promise((resolve, reject) => {
    // another release's target is read by that release's own proc-info, in its root
    const [cmd, ...args] = (root ? (a: string[]) => inRoot(root, a) : (a: string[]) => a)(['dpdk-proc-info', '--file-prefix', prefix, '--no-pci', '--', '-m']);
    const child = spawn(cmd!, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`Cannot run dpdk-proc-info (${e.message}); install dpdk: apt-get install -y dpdk`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const raw = out + (err ? `\n${err}` : '');
      resolve({ code: code ?? 128 + signalNumber(signal), ...parseProcInfo(out), raw });
    });
  });
}

export type HeapElementState = 'FREE' | 'BUSY' | 'PAD';

export interface HeapDumpElement {
  /** Address of the element header (data starts one header, 128 bytes on x86-64, plus pad later). */
  addr: bigint;
  state: HeapElementState;
  len: number;
  pad: number;
  prev: bigint;
  next: bigint;
}

export interface HeapDump {
  /** Index in the heap array (not the socket id). */
  id: number;
  size: number;
  allocCount: number;
  elements: HeapDumpElement[];
}

/** Parses the output of rte_malloc_dump_heaps (format of DPDK 22.11 … 26.07). */
export function parseHeapDump(text: string): HeapDump[] {
  const heaps: HeapDump[] = [];
  let heap: HeapDump | undefined;
  let elem: HeapDumpElement | undefined;
  const need = (what: string, line: string): HeapDump => {
    if (!heap) throw new Error(`Heap dump: '${line}' (${what}) before any 'Heap id:' line.`);
    return heap;
  };
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^Heap id: ?(\d+)/.exec(line))) {
      heap = { id: Number(m[1]), size: 0, allocCount: 0, elements: [] };
      heaps.push(heap);
      elem = undefined;
    } else if ((m = /^Heap size: ?(0x[0-9a-f]+)/.exec(line))) {
      need('size', line).size = Number(BigInt(m[1]!));
    } else if ((m = /^Heap alloc count: ?(\d+)/.exec(line))) {
      need('alloc count', line).allocCount = Number(m[1]);
    } else if ((m = /^Malloc element at (0x[0-9a-f]+|\(nil\)) \((FREE|BUSY|PAD)\)/.exec(line))) {
      elem = { addr: hexOrNil(m[1]!), state: m[2]! as HeapElementState, len: 0, pad: 0, prev: 0n, next: 0n };
      need('element', line).elements.push(elem);
    } else if ((m = /^\s+len: (0x[0-9a-f]+) pad: (0x[0-9a-f]+)/.exec(line))) {
      if (!elem) throw new Error(`Heap dump: '${line}' outside an element.`);
      elem.len = Number(BigInt(m[1]!));
      elem.pad = Number(BigInt(m[2]!));
    } else if ((m = /^\s+prev: (0x[0-9a-f]+|\(nil\)) next: (0x[0-9a-f]+|\(nil\))/.exec(line))) {
      if (!elem) throw new Error(`Heap dump: '${line}' outside an element.`);
      elem.prev = hexOrNil(m[1]!);
      elem.next = hexOrNil(m[2]!);
    }
  }
  return heaps;
}
