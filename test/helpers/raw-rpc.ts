/**
 * `memscope serve` spoken to byte by byte: for tests that send what no
 * JSON-RPC library would (broken framing, bodies that are not JSON, 10 MB
 * messages). Responses and notifications are read with their own framing
 * parser; every wait has a timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import { CLI } from './cli';

export interface RpcError {
  code: number;
  message: string;
  data?: { code?: unknown; message?: unknown; detail?: unknown };
}

export interface RpcMessage {
  jsonrpc?: string;
  id?: unknown;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: RpcError;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<RawAgent>();
const killLive = () => {
  for (const a of live) a.kill();
};
process.on('exit', killLive);
if (process.env.NODE_TEST_CONTEXT) after(killLive);

/** One LSP base-protocol frame: a Content-Length header, a blank line, the body. */
export function frame(body: string | Buffer, headers: string[] = []): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from([`Content-Length: ${b.length}`, ...headers, '', ''].join('\r\n'), 'latin1'), b]);
}

export class RawAgent {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  /** Notifications the agent sent (window/logMessage and the like). */
  readonly notifications: RpcMessage[] = [];
  /** Set when the agent's own stdout framing could not be parsed. */
  outputProblem: string | null = null;
  private err = '';
  private out: Buffer = Buffer.alloc(0);
  private readonly responses: RpcMessage[] = [];
  private wake: (() => void) | null = null;
  private seq = 0;

  constructor(args: string[] = []) {
    this.child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    if (this.child.pid === undefined) throw new Error('spawning memscope serve gave no pid');
    this.pid = this.child.pid;
    live.add(this);
    // EPIPE once the agent has ended: the exit says what happened
    this.child.stdin!.on('error', () => undefined);
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.err += d;
      if (this.err.length > 1 << 20) this.err = this.err.slice(-(1 << 19));
    });
    this.child.stdout!.on('data', (d: Buffer) => this.onOut(d));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        this.poke();
        resolve(this.exit);
      }),
    );
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private onOut(d: Buffer): void {
    this.out = this.out.length ? Buffer.concat([this.out, d]) : d;
    for (;;) {
      const end = this.out.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /^Content-Length: (\d+)$/im.exec(this.out.subarray(0, end).toString('latin1'));
      if (!m) {
        this.outputProblem = `unparsable header from the agent: ${this.out.subarray(0, end).toString('latin1')}`;
        this.out = Buffer.alloc(0);
        return;
      }
      const len = Number(m[1]);
      if (this.out.length < end + 4 + len) return;
      const body = this.out.subarray(end + 4, end + 4 + len).toString('utf8');
      this.out = this.out.subarray(end + 4 + len);
      let msg: RpcMessage;
      try {
        msg = JSON.parse(body) as RpcMessage;
      } catch {
        this.outputProblem = `a body from the agent that is not JSON: ${body.slice(0, 200)}`;
        continue;
      }
      if (typeof msg.method === 'string') this.notifications.push(msg);
      else this.responses.push(msg);
      this.poke();
    }
  }

  stderr(): string {
    return this.err;
  }

  /** Writes bytes as they are; resolves once they are handed to the pipe. */
  send(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.exit || this.child.stdin!.destroyed) return resolve();
      this.child.stdin!.write(bytes, () => resolve());
    });
  }

  /** The next response, or an error after timeoutMs or when the agent has ended. */
  async next(timeoutMs = 10_000, what = 'a response'): Promise<RpcMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.responses.shift();
      if (r) return r;
      if (this.exit) throw new Error(`the agent ended (${JSON.stringify(this.exit)}) while ${what} was awaited; stderr tail: ${this.err.slice(-1500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} from the agent within ${timeoutMs} ms; stderr tail: ${this.err.slice(-1500)}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Responses received and not yet taken. */
  pending(): number {
    return this.responses.length;
  }

  /** A well-formed request; resolves with its response (which must be the next one). */
  async request(method: string, params?: unknown, timeoutMs = 30_000): Promise<RpcMessage> {
    const id = `raw-${++this.seq}`;
    await this.send(frame(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })));
    const r = await this.next(timeoutMs, `the response to ${method}`);
    if (r.id !== id) throw new Error(`expected the response to ${id} (${method}), got ${JSON.stringify(r).slice(0, 300)}`);
    return r;
  }

  /** Resident memory in KiB (VmRSS), or null once the agent is gone. */
  rssKiB(): number | null {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  /** Resolves with the exit, or null after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)))]);
    clearTimeout(timer);
    return r;
  }

  /** SIGKILLs the agent's process group (it leads its own). */
  kill(): void {
    if (this.exit) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Kills the agent and waits (at most 5 s) for its exit. */
  async stop(): Promise<void> {
    this.kill();
    await this.waitExit(5000);
  }
}
