/** Runs the real `memscope` CLI and agent server as child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import type { Snapshot } from '../../common/snapshot';
import { AGENT_NODE_FLAGS } from '../../common/node-flags';
import { hostPathFromRoot, inRoot, type ReleaseRoot } from './releases';

export const CLI = path.join(__dirname, '..', '..', 'native-agent', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const live = new Set<ChildProcess>();
function killLive(): void {
  for (const c of live) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killLive);
// a test that failed before its own cleanup leaves an agent whose pipes would
// keep this test file's process alive: end what is left when its tests are done
// (only under the test runner: the bench imports this module too)
if (process.env.NODE_TEST_CONTEXT) after(killLive);

export interface RunOptions {
  timeoutMs?: number;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * argv run to its end in its own process group, bounded: the group is
 * SIGKILLed and the promise rejected after timeoutMs (default 30 s).
 */
export function runArgv(argv: string[], opts: RunOptions = {}): Promise<CliResult> {
  const t0 = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30000;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      reject(new Error(`${argv.join(' ')} did not end within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** The memscope CLI with args (see runArgv). */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runArgv([process.execPath, CLI, ...args], opts);
}

/** A snapshot without what differs by route and moment (the time, the route, retries, which getter a secondary's EAL carries), for peek == secondary. */
export function routeFree(s: Snapshot): string {
  const { dmabufGetter: _, ...target } = s.target;
  return JSON.stringify({ ...s, takenAt: 0, access: 0, retries: 0, target });
}

export async function snapshotOf(prefix: string, extra: string[] = []): Promise<Snapshot> {
  const r = await runCli(['snapshot', '--file-prefix', prefix, '--json', ...extra]);
  if (r.code !== 0) throw new Error(`memscope snapshot exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Snapshot;
}

export interface AgentHandle {
  child: ChildProcess;
  rpc: MessageConnection;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * An agent started for `params.filePrefix` and attached, with the client's
 * policy on an address conflict (V8 was in the primary's ranges before the
 * agent's first line): a fresh agent, up to 4 times. Returns the attach result too.
 */
export async function attachedAgent<R = unknown>(params: { filePrefix: string } & Record<string, unknown>): Promise<{ agent: AgentHandle; result: R }> {
  for (let attempt = 1; ; attempt++) {
    const agent = startAgent(['--file-prefix', params.filePrefix]);
    try {
      const result = (await agent.rpc.sendRequest('memscope/attach', params)) as R;
      return { agent, result };
    } catch (e) {
      agent.kill();
      await agent.exited;
      if ((e as { data?: { code?: string } }).data?.code !== 'address-conflict' || attempt >= 4) throw e;
    }
  }
}

/** `memscope serve` with a JSON-RPC connection to it. */
export function startAgent(args: string[] = []): AgentHandle {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, CLI, 'serve', ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const reader = new StreamMessageReader(child.stdout!);
  // vscode-jsonrpc re-arms a 10 s "partial message" timer for as long as a
  // message is half read, even after the stream ended: an agent killed in the
  // middle of a big reply would keep this test process alive forever
  reader.partialMessageTimeout = 0;
  const rpc = createMessageConnection(reader, new StreamMessageWriter(child.stdin!));
  rpc.onError(() => undefined);
  rpc.listen();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      rpc.dispose();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    rpc,
    stderr: () => stderr,
    exited,
    kill(signal = 'SIGKILL') {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* gone */
      }
    },
  };
}

type OracleResult = {
  heaps: { id: number; size: number; allocCount: number; elements: { addr: string; state: string; len: number; pad: number }[] }[];
  stats: Record<string, { heap_totalsz_bytes: number; heap_freesz_bytes: number; alloc_count: number }>;
  mempools: { name: string; inUse: number; avail: number }[];
};

/**
 * Runs the oracle (a separate DPDK secondary using DPDK's own calls). Like
 * any secondary it fails now and then when V8 happened to put its heap in the
 * primary's address range ("Cannot reserve … --base-virtaddr"): a fresh
 * process draws new addresses, so that failure is retried.
 */
export async function oracle(prefix: string, root?: ReleaseRoot): Promise<OracleResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await oracleOnce(prefix, root);
    } catch (e) {
      if (attempt >= 5 || !/Cannot reserve|--base-virtaddr/.test((e as Error).message)) throw e;
    }
  }
}

async function oracleOnce(prefix: string, root?: ReleaseRoot): Promise<{
  heaps: { id: number; size: number; allocCount: number; elements: { addr: string; state: string; len: number; pad: number }[] }[];
  stats: Record<string, { heap_totalsz_bytes: number; heap_freesz_bytes: number; alloc_count: number }>;
  mempools: { name: string; inUse: number; avail: number }[];
}> {
  const script = path.join(__dirname, 'oracle.js');
  return new Promise((resolve, reject) => {
    // another release's target: its own DPDK, in its root, with that root's Node
    const [cmd, ...args] = root
      ? inRoot(root, ['/usr/bin/node', '--preserve-symlinks', '--preserve-symlinks-main', hostPathFromRoot(script), prefix, root.release])
      : [process.execPath, script, prefix];
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: root ? { ...process.env, TMPDIR: '/tmp' } : process.env });
    let out = '';
    let errText = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (errText += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`oracle exited ${code}: ${errText}`));
      else resolve(JSON.parse(out));
    });
  });
}

export interface OrphanMaker {
  /** The registered memory. */
  va: string;
  len: number;
  pid: number;
  /** SIGKILLs the maker (leaving its registration orphaned) and waits for it to end. */
  kill(): Promise<void>;
}

/**
 * Starts test/helpers/orphan-maker.js: a secondary that registers `len` bytes
 * of external memory in `prefix` and waits, so a test can SIGKILL it.
 */
export function startOrphanMaker(prefix: string, len: number, timeoutMs = 20_000): Promise<OrphanMaker> {
  const maker = spawn(process.execPath, [path.join(__dirname, 'orphan-maker.js'), prefix, String(len)], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(maker);
  const closed = new Promise<void>((r) => maker.once('close', () => r()));
  const kill = async () => {
    maker.kill('SIGKILL');
    await closed;
    live.delete(maker);
    // a killed maker cannot delete its own log
    rmSync(path.join(os.tmpdir(), `memscope-orphan-${maker.pid}.log`), { force: true });
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void kill();
      reject(new Error('orphan maker timed out'));
    }, timeoutMs);
    maker.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      const reg = JSON.parse(out) as { va: string; len: number };
      resolve({ ...reg, pid: maker.pid!, kill });
    });
    maker.on('close', (c) => {
      clearTimeout(timer);
      reject(new Error(`orphan maker exited ${c}`));
    });
  });
}
