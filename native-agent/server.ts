/**
 * `memscope serve`: the agent as a JSON-RPC server over stdio, one per
 * attached target (EAL attaches once per process). stdout carries only
 * JSON-RPC; EAL's log and ours go to stderr, which the extension shows in its
 * log channel.
 */
import { createConnection, ResponseError, StreamMessageWriter } from 'vscode-languageserver/node';
import { asMemscopeError, ErrorCode, exitCodes, MemscopeError } from '../common/errors';
import { diffSnapshots, isEmptyDelta } from '../common/delta';
import { type AttachResult, type DeltaNotification, type DmabufQueryResult, MEMSCOPE_RPC_ERROR, PROTOCOL_VERSION, ProtocolError, type SubscribeResult, type TestBufferInfo, type TimelineResult } from '../common/protocol';
import { AgentNotifications, type Request, Requests } from '../common/rpc';
import type { Snapshot } from '../common/snapshot';
import { LeakTracker, type Suspects } from '../common/leak-tracker';
import { nameElements, TraceWatcher } from './trace';

/** Samples kept for the timeline: an hour at the default 1 s interval. */
const DEFAULT_HISTORY = 3600;
import { findTarget, listTargets } from './discovery';
import { inRootCommand } from './secondary';

/** Whether the prefix's primary lives in a root where no secondary helper can be started (a container, no Node there, not root). */
function noHelperThere(prefix: string, runtimeDirs: string[]): boolean {
  try {
    const root = findTarget(prefix, { runtimeDirs }).root;
    if (root) inRootCommand(root, prefix);
    return false;
  } catch {
    return true; // or the attach itself says why
  }
}
import { type AgentColumnSnapshot, columnSnapshot, diffHeapColumns, diffHeapPacked, ownColumns } from './elements';
import { agentVersionWord } from './eal';
import { hardExit, mmapLargeAllocations } from './native/libc';
import { isAlive } from './procfs';
import { ealWedged, Session } from './session';
import { GatedMessageReader, type GateRules, type ParamsCheck } from './rpc-gate';
import { jsonEncoder, ReplyBuffer } from './wire';

/** Linux's PID_MAX_LIMIT: no pid is larger. */
const PID_MAX = 4_194_304;
const TRACE_VALUES = ['off', 'messages', 'compact', 'verbose'];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the gate lets through: Memscope's requests (their handlers check the
 * params' fields) and LSP's lifecycle, whose params vscode-languageserver
 * would use unchecked (a processId that is no pid ends the process 3 s later).
 */
function gateRules(): GateRules {
  let initialized = false;
  const initialize: ParamsCheck = (p) => {
    if (!isObj(p)) return 'initialize params must be an object';
    if (initialized) return 'initialize was sent already: send it once per agent';
    const pid = p.processId;
    if (pid !== null && (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid < 1 || pid > PID_MAX || !isAlive(pid))) {
      return 'processId must be null or the pid of the running client';
    }
    if (p.trace !== undefined && !TRACE_VALUES.includes(p.trace as string)) return 'trace must be off, messages, compact or verbose';
    if (!isObj(p.capabilities) || !Object.entries(p.capabilities).every(([k, c]) => k === 'experimental' || c === undefined || isObj(c))) return 'capabilities must be an object of objects';
    initialized = true;
    return null;
  };
  const none: ParamsCheck = (p) => (p === undefined || (isObj(p) && Object.keys(p).length === 0) ? null : 'shutdown params must be empty');
  return {
    requests: new Map<string, ParamsCheck | null>([...Object.values(Requests).map((r) => [r.method, null] as [string, null]), ['initialize', initialize], ['shutdown', none]]),
    notifications: new Map<string, ParamsCheck>([
      ['initialized', () => null],
      ['exit', () => null],
      ['$/cancelRequest', (p) => (isObj(p) && (typeof p.id === 'string' || Number.isSafeInteger(p.id)) ? null : 'params must be {"id": <a request id>}')],
      ['$/setTrace', (p) => (isObj(p) && TRACE_VALUES.includes(p.value as string) ? null : 'params must be {"value": "off" | "messages" | "verbose"}')],
    ]),
  };
}

function rpcError(e: unknown): ResponseError<unknown> {
  if (e instanceof ProtocolError) {
    const me = new MemscopeError(ErrorCode.BadArguments, `invalid request: ${e.message}.`);
    return new ResponseError(-32602, me.message, me.toJSON());
  }
  const me = asMemscopeError(e);
  // a field the shared input rules refused is invalid params too
  return new ResponseError(me.code === ErrorCode.BadArguments ? -32602 : MEMSCOPE_RPC_ERROR, me.message, me.toJSON());
}

export async function serve(clientPid: number | null = null): Promise<void> {
  // Nothing but JSON-RPC may reach stdout.
  console.log = console.error;
  console.info = console.error;
  // snapshots allocate and free MBs of buffers for as long as the agent runs
  if (!mmapLargeAllocations()) console.error('memscope agent: mallopt(M_MMAP_THRESHOLD) was refused; freed snapshot buffers may stay resident');
  // a column reply's buffer is reused once nothing waits in stdout
  const replies = new ReplyBuffer(() => process.stdout.writableLength === 0);
  const writer = new StreamMessageWriter(process.stdout, { contentTypeEncoder: jsonEncoder(replies) });
  const reader = new GatedMessageReader(process.stdin, {
    rules: gateRules(),
    reply: (m) => void writer.write(m).catch(() => undefined),
    fatal: (sentence) => {
      console.error(`memscope agent: ${sentence}`);
      end(exitCodes['protocol-violation']);
    },
    note: (line) => console.error(`memscope agent: ${line}`),
  });
  const connection = createConnection(reader, writer);
  let session: Session | null = null;
  let attaching = false;
  let sub: { timer: NodeJS.Timeout; last: Snapshot; seq: number } | null = null;
  let tracker: LeakTracker | null = null;
  let trace: TraceWatcher | null = null;
  /** Elements named by their rte_malloc type, when a trace is being followed. */
  const named = (snap: Snapshot): Snapshot => {
    const t = trace?.current();
    if (t) nameElements(snap, t);
    return snap;
  };
  let trackerSize = DEFAULT_HISTORY;
  /**
   * Snapshots nobody reads any more (a column reply that was written, the
   * subscription's one before last): their element buffers are the next
   * snapshots', whichever asks first. One pool for both, two deep (a
   * subscription's tick and a snapshot request in flight together): a
   * snapshot's buffers made anew leave the old ones as garbage outside V8's
   * heap, resident until a GC that tens of MB of it trigger (~2.5 MB a set
   * at 100k elements).
   */
  const spares: Snapshot[] = [];
  const takeSpare = (): Snapshot | undefined => spares.pop();
  const giveSpare = (s: Snapshot): void => {
    if (spares.length < 2) spares.push(s);
  };

  const end = (code: number) => {
    // give the writer a moment to flush the last message, then leave without
    // EAL cleanup (detaching is ending the process)
    setTimeout(() => hardExit(code), 50);
  };

  const guard =
    <P, R>(fn: (p: P) => R | Promise<R>) =>
    async (p: P) => {
      try {
        return await fn(p);
      } catch (e) {
        if (ealWedged) end(new MemscopeError(ErrorCode.AttachTimeout, '').exitCode);
        return rpcError(e);
      }
    };

  const need = (): Session => {
    if (!session) throw new MemscopeError(ErrorCode.NotAttached, 'the agent is not attached to a target: send memscope/attach first.');
    return session;
  };

  /** Serves a request of common/rpc.ts: its params checked by its own check before `fn` sees them. */
  const handle = <P, R>(spec: Request<P, R>, fn: (p: P) => R | AgentColumnSnapshot | Promise<R>) => connection.onRequest(spec.method, guard((p: unknown) => fn(spec.parseParams(p))));

  handle(
    Requests.listTargets,
    (params) => {
      return listTargets({ runtimeDirs: params.runtimeDirs ?? [], agentVersionWord: (so) => agentVersionWord(null, [so]) });
    },
  );

  handle(
    Requests.attach,
    async (params): Promise<AttachResult> => {
      if (session || attaching) throw new MemscopeError(ErrorCode.AlreadyAttached, 'this agent is already attached (EAL allows one attach per process): start another agent for another target.');
      attaching = true;
      try {
        session = await Session.attach({
          prefix: params.filePrefix,
          runtimeDirs: params.runtimeDirs ?? [],
          dpdkLib: params.dpdkLib ?? null,
          timeoutMs: params.timeoutMs ?? 15000,
          allowLockingReads: params.allowLockingReads ?? false,
          extraEalArgs: params.extraEalArgs ?? [],
          // where no helper can be started (a container, a root without
          // Node), the extension reads by peeking unless told otherwise
          via: params.via ?? (noHelperThere(params.filePrefix, params.runtimeDirs ?? []) ? 'peek' : 'secondary'),
        });
      } finally {
        attaching = false;
      }
      const s = session;
      s.onPrimaryExit((why) => {
        const error = new MemscopeError(ErrorCode.PrimaryDead, why);
        void connection.sendNotification(AgentNotifications.targetExited.method, { message: why, error: error.toJSON() });
        end(error.exitCode);
      });
      s.onPrimaryState((stopped, why) => void connection.sendNotification(AgentNotifications.targetState.method, { stopped, message: why }));
      return {
        target: s.targetInfo(),
        dpdkVersion: s.targetInfo().dpdkVersion,
        ealLibrary: s.eal?.path ?? s.helper?.ready.ealLibrary ?? null,
        lcore: s.lcore,
        access: s.access,
        attachMs: Math.round(s.attachMs),
        readMethod: s.lockFree ? 'lock-free' : 'locking',
        agentPid: process.pid,
      };
    },
  );

  handle(
    Requests.snapshot,
    ({ columns }) => {
      if (!columns) return named(need().snapshot());
      // the columns are coded straight into the reply's message; once that is
      // written, the next snapshot may reuse this one's buffers
      const snap = named(need().snapshot(takeSpare()));
      return columnSnapshot(snap, () => giveSpare(snap));
    },
  );

  handle(
    Requests.subscribe,
    ({ intervalMs, historySamples, traceDir, columns }): SubscribeResult | AgentColumnSnapshot => {
      const s = need();
      if (sub) clearInterval(sub.timer);
      trace = traceDir ? new TraceWatcher(traceDir, s.target.filePrefix, (m) => console.error(`memscope agent: trace: ${m}`)) : null;
      const first = named(s.snapshot());
      // the timeline and suspected leaks follow the subscription's samples
      if (!tracker || (historySamples !== undefined && historySamples !== trackerSize)) {
        trackerSize = historySamples ?? DEFAULT_HISTORY;
        tracker = new LeakTracker({ maxSamples: trackerSize, columns: ownColumns });
      }
      tracker.add(first);
      // the first snapshot's columns are coded straight into the reply as it
      // is written (no copy of them that is garbage after); its buffers are
      // recycled only once that happened
      const state = { last: first, firstSent: !columns, seq: 0, timer: undefined as unknown as NodeJS.Timeout };
      state.timer = setInterval(() => {
        try {
          // two snapshots alive at a time: the one diffed against, the new one
          const next = named(s.snapshot(takeSpare()));
          // the extension's form: column slices; objects for a subscriber without columns
          const delta = columns ? diffSnapshots(state.last, next, diffHeapPacked) : diffSnapshots(state.last, next, diffHeapColumns);
          if (state.last !== first || state.firstSent) giveSpare(state.last);
          state.last = next;
          tracker?.add(next);
          if (isEmptyDelta(delta)) return;
          const n: DeltaNotification = { seq: ++state.seq, takenAt: next.takenAt, delta };
          void connection.sendNotification(AgentNotifications.delta.method, n);
        } catch (e) {
          console.error(`memscope agent: snapshot failed: ${asMemscopeError(e).message}`);
        }
      }, intervalMs);
      sub = state;
      return columns ? columnSnapshot(first, () => (state.firstSent = true)) : { snapshot: first };
    },
  );

  handle(
    Requests.leaks,
    (params): Suspects => {
      need();
      if (!tracker) throw new MemscopeError(ErrorCode.NotAttached, 'no samples yet: suspected leaks come from a subscription (memscope/subscribe) that has run for a while.');
      return tracker.suspects(params);
    },
  );

  handle(
    Requests.timeline,
    (): TimelineResult => {
      need();
      return { points: tracker?.timeline() ?? [], maxSamples: trackerSize };
    },
  );

  handle(
    Requests.resetLeaks,
    () => {
      const s = need();
      tracker?.reset();
      // the current state is the new baseline
      tracker?.add(sub ? sub.last : s.snapshot());
      return null;
    },
  );

  handle(
    Requests.registerTestBuffer,
    async (params): Promise<TestBufferInfo> => {
      const s = need();
      const { holdSpecFrom, registerInBackground } = await import('./dmabuf/commands');
      const spec = holdSpecFrom({
        prefix: s.target.filePrefix,
        size: params.size,
        ...(params.pageSize ? { pageSize: params.pageSize } : {}),
        ...(params.backing ? { backing: params.backing } : {}),
        ...(params.dmabufOffset ? { dmabufOffset: params.dmabufOffset } : {}),
        ...(params.heap ? { heap: params.heap } : {}),
      });
      return registerInBackground(spec);
    },
  );

  handle(
    Requests.unregisterTestBuffer,
    async ({ va }) => {
      const s = need();
      const { unregister } = await import('./dmabuf/commands');
      return unregister(s.target.filePrefix, BigInt(va), [], 10_000, s);
    },
  );

  handle(
    Requests.dmabufQuery,
    async ({ mslIndex }): Promise<DmabufQueryResult> => {
      const s = need();
      const { Registry, readTable } = await import('./dmabuf/registry');
      if (s.access === 'secondary' && s.eal) {
        const r = new Registry(s);
        return { mslIndex, fd: r.getDmabufFd(mslIndex), offset: r.getDmabufOffset(mslIndex) };
      }
      if (!s.memConfig().lists.some((l) => l.index === mslIndex)) {
        const { DmabufError } = await import('./dmabuf/registry');
        throw new DmabufError('EINVAL', `memseg list ${mslIndex} is not one of the target's lists: pick an index from the snapshot.`);
      }
      const e = readTable(s).get(mslIndex);
      return { mslIndex, fd: e && e.ownerAlive ? e.fd : -1, offset: e && e.ownerAlive ? e.offset : 0 };
    },
  );

  handle(
    Requests.unsubscribe,
    () => {
      if (sub) clearInterval(sub.timer);
      sub = null;
      return null;
    },
  );

  handle(
    Requests.detach,
    () => {
      end(0);
      return null;
    },
  );

  // vscode-languageclient opens with LSP's initialize: Memscope serves no
  // language features, only its own methods
  connection.onInitialize(() => ({ capabilities: {}, serverInfo: { name: 'memscope-agent', version: PROTOCOL_VERSION.toString() } }));

  connection.onShutdown(() => {
    if (sub) clearInterval(sub.timer);
    sub = null;
  });
  // LSP's exit: vscode-languageserver would follow this handler with
  // process.exit(1) when no shutdown came first (1 is a crash's status here)
  // and run exit handlers with EAL attached; leave at once instead
  connection.onExit(() => hardExit(0));
  // the extension (our parent) went away: nothing to serve any more
  process.stdin.on('end', () => end(0));
  if (clientPid !== null) {
    setInterval(() => {
      if (!isAlive(clientPid)) end(0);
    }, 1000).unref();
  }
  connection.listen();
}
