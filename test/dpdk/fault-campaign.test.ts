// Fault campaigns. Every failed check is counted with what failed and the
// campaign goes on (a wedged primary is replaced: stopped, cleaned, started
// again); the test fails at the end when any was counted, and prints the
// first ones. MEMSCOPE_FAULT_INJECT=N adds a failing check at run N of each
// campaign (a self-test: the summary must then say so).
//
// 1. The agent. SIGKILL of `memscope serve` (the extension's agent) and of
//    `memscope watch --via secondary` (the CLI), their whole process group, at
//    random moments while they attach, snapshot, stream deltas and register a
//    test buffer. The secondaries they started (helper, holder, guardian) live
//    in their own sessions and must finish cleanly: a wedge here is a failure.
//
// 2. The processes that hold DPDK's locks. SIGKILL of the secondary helper
//    (`__secondary`, started by an agent), a holder (`__hold`) and a guardian
//    (`__guard`) themselves, aimed by the stage each records
//    (MEMSCOPE_STAGE_DIR, native-agent/stage.ts) inside rte_eal_init, inside
//    rte_extmem_register / rte_malloc_heap_create+memory_add, inside the
//    guardian's rte_extmem_attach / heap attach, inside the release's
//    rte_extmem_unregister / heap remove, and the steps around them; the stage
//    the kill found the process in is recorded for every kill. A kill inside
//    one of DPDK's lock-taking calls can leave a lock held that nobody can
//    release (DPDK's locks are plain counters): such a wedge is DPDK's hazard,
//    counted and reported, not a failure. Anything else is.
//
// The judge after every kill uses nothing of Memscope's readers: within 1 s
// the primary allocates, frees and hot-plugs a hugepage; once Memscope's
// processes for the run are gone, every shared lock word in the config file
// is free (memzone, tailq, mempool, timer, hot-plug, every fbarray's, every
// malloc heap's), /proc/locks shows locks on the prefix's files held by the
// primary only, no external memseg list or heap is left beyond the target's
// own, HugePages_Free is back, the runtime dir holds what it held, the
// primary allocates and frees on every heap (its external one included), and
// (campaign 2, whose target has no external memory: hazard 5) `dpdk-proc-info
// -m` exits 0 within 10 s. Freed pages whose files DPDK leaves (a secondary
// mid-init during the hot-plug, see unmappedPageFiles) are accepted only when
// a process of the run was, by its recorded stage, inside rte_eal_init during
// that hot-plug.
//
// MEMSCOPE_FAULT_RUNS sets campaign 1's runs (default 120) and campaign 2's
// kills (5/6 of it, at least 100; MEMSCOPE_FAULT_LOCK_KILLS sets them
// apart); MEMSCOPE_FAULT_SEED replays one;
// MEMSCOPE_FAULT_PHASES narrows either to some phases or kinds;
// MEMSCOPE_FAULT_KEEP=1 keeps the stage records (their folder is printed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Session } from '../../native-agent/session';
import { readTable } from '../../native-agent/dmabuf/registry';
import { isAlive, readCmdline } from '../../native-agent/procfs';
import { defaultEalLog } from '../../native-agent/secondary';
import { inStageDuring, median, readStage, stageDurations, stageHistory, stageRecords, stageTimeline, Tally, type StageRecord } from '../helpers/campaign';
import { attachedAgent, CLI, runCli, startAgent, type AgentHandle } from '../helpers/cli';
import { hugepageMappers, hugePagesFree, memscopeProcesses, runtimeFiles, unmappedPageFiles, until } from '../helpers/faults';
import { mallocEveryHeap, procInfoProblem, readConfigView, strayLocks, type Heap } from '../helpers/judge';
import { cleanupPrefix, DemoPrimary, hugepageFiles, hugetlbfsMounts, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';
import { prng } from '../helpers/prng';

const skip = loudSkip(whyNoDpdk({ cc: true, procInfo: true, hugepages: 400 }), 'DPDK');
const RUNS = Number(process.env.MEMSCOPE_FAULT_RUNS ?? 120);
const LOCK_KILLS = Number(process.env.MEMSCOPE_FAULT_LOCK_KILLS ?? Math.max(100, Math.ceil((RUNS * 5) / 6)));
const INJECT = process.env.MEMSCOPE_FAULT_INJECT === undefined ? -1 : Number(process.env.MEMSCOPE_FAULT_INJECT);
const SEED = Number(process.env.MEMSCOPE_FAULT_SEED ?? Date.now() % 1_000_000);
const PHASE_FILTER = process.env.MEMSCOPE_FAULT_PHASES?.split(',');
const STAGES = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-stages-'));
after(async () => {
  await stopAll();
  if (process.env.MEMSCOPE_FAULT_KEEP) console.log(`stage records kept in ${STAGES}`);
  else fs.rmSync(STAGES, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => process.hrtime.bigint();

/** A primary under test with what it held after its setup. */
interface Target {
  p: DemoPrimary;
  prefix: string;
  runtimeDir: string;
  files: string[];
  heaps: Heap[];
  external: number;
  stats: [number, number][];
  /** HugePages_Free before it started: what must come back once it is gone. */
  freeBeforeStart: number;
}

async function startTarget(setup: (p: DemoPrimary) => Promise<void>): Promise<Target> {
  const freeBeforeStart = hugePagesFree();
  const p = await DemoPrimary.start({ memMb: 256 });
  await setup(p);
  const runtimeDir = p.ready!.runtimeDir as string;
  const cfg = readConfigView(runtimeDir);
  return {
    p,
    prefix: p.prefix,
    runtimeDir,
    files: runtimeFiles(runtimeDir),
    heaps: cfg.heaps,
    external: cfg.external.length,
    stats: heapStats(await p.command('stats')),
    freeBeforeStart,
  };
}

function heapStats(s: { heaps: { allocCount: number; totalSize: number }[] }): [number, number][] {
  return s.heaps.map((h) => [h.allocCount, h.totalSize]);
}

function killPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/**
 * Replaces a primary that a kill left wedged (or that stopped answering):
 * what of ours is still running for it is SIGKILLed (stuck on the lock), the
 * primary too (its rte_eal_cleanup would spin on it), its runtime dir and
 * hugepage files must go and its hugepages come back; a fresh one is set up.
 */
async function replaceTarget(t: Target, tally: Tally, at: string, setup: (p: DemoPrimary) => Promise<void>): Promise<Target> {
  for (const pid of memscopeProcesses(t.prefix)) killPid(pid);
  await until(() => memscopeProcesses(t.prefix).length === 0, 5000);
  t.p.kill('SIGKILL');
  await t.p.waitExit(10_000);
  if (!(await until(() => !fs.existsSync(t.runtimeDir) && hugepageFiles(t.prefix).length === 0, 5000))) {
    const c = cleanupPrefix(t.prefix);
    tally.check(c.removed, `${at}: the wedged primary's runtime dir and hugepage files are removable (held by ${c.holders.join(' ')})`);
  }
  tally.check(await until(() => hugePagesFree() >= t.freeBeforeStart, 5000), () => `${at}: the wedged primary's hugepages came back (free ${hugePagesFree()}, ${t.freeBeforeStart} before it started)`);
  return startTarget(setup);
}

/** The primary allocates, frees and hot-plugs a hugepage; the hot-plug's window (monotonic ns) for the page-file rule. */
async function health(p: DemoPrimary, boundMs: number): Promise<{ ok: boolean; ms: number; why: string; grow: [bigint, bigint] }> {
  const t0 = Date.now();
  let grow: [bigint, bigint] = [now(), now()];
  try {
    const m = await p.command('malloc fault-check 4096', boundMs);
    await p.command(`free ${m.ptr}`, boundMs);
    const g0 = now();
    const g = await p.command('grow', boundMs);
    grow = [g0, now()];
    if (!(g.after > g.before)) return { ok: false, ms: Date.now() - t0, why: `grow did not add a segment (${g.before} -> ${g.after})`, grow };
  } catch (e) {
    grow = [grow[0], now()];
    return { ok: false, ms: Date.now() - t0, why: (e as Error).message.split('\n')[0]!, grow };
  }
  return { ok: true, ms: Date.now() - t0, why: '', grow };
}

interface RunContext {
  at: string;
  t: Target;
  dir: string;
  freeBefore: number;
  grow: [bigint, bigint];
  /** Death times of killed processes (their last stage lasted until then). */
  deaths: Map<number, bigint>;
}

/**
 * The judge, once Memscope's processes for the run are gone: lock words,
 * /proc/locks, external memory, hugepages (with the one allowed case), the
 * runtime dir, a malloc on every heap and, where the target allows it,
 * dpdk-proc-info. Returns the lock words still held (a wedge when any).
 */
async function judge(tally: Tally, c: RunContext, opts: { procInfo: boolean; pagesLeft: (n: number, runs: string) => void }): Promise<string[]> {
  const { at, t } = c;
  // a process is gone when every thread of it is: a thread-group leader
  // shows as a zombie (and its argv as empty) while its other threads still
  // exit and hold its files, flocks and hugepage mappings
  const exiting = () => stageRecords(c.dir).filter((r) => r.pid !== process.pid && threadsLeft(r.pid) > 0);
  if (!(await until(() => exiting().length === 0, 5000))) {
    tally.fail(`${at}: processes of the run not gone 5 s after their work ended: ${exiting().map((r) => `${r.pid} ${r.role} (${r.stage}, ${threadsLeft(r.pid)} threads left)`).join(', ')}`);
  }
  const cfg = readConfigView(t.runtimeDir);
  if (cfg.held.length) return cfg.held;
  const stray = strayLocks(t.runtimeDir, t.prefix, t.p.pid, (pid) => {
    const r = readStage(c.dir, pid);
    return r ? ` (${r.role}, last stage ${r.stage})` : '';
  });
  tally.check(stray.length === 0, `${at}: /proc/locks shows locks on the prefix's files not held by the primary: ${stray.join('; ')}`);
  const extra = cfg.external.length - t.external;
  tally.check(extra === 0, `${at}: external memseg lists beyond the target's own ${t.external}: ${cfg.external.map((l) => `${l.index}@0x${l.baseVa.toString(16)} (${l.fbarray})`).join(', ')}`);
  const known = new Set(t.heaps.map((h) => h.name));
  const newHeaps = cfg.heaps.filter((h) => !known.has(h.name));
  tally.check(newHeaps.length === 0, `${at}: malloc heaps left beyond the target's own: ${newHeaps.map((h) => h.name).join(', ')}`);
  // pages of a process that just ended are freed as its mm goes: a moment
  await until(() => hugePagesFree() === c.freeBefore, 3000);
  const missing = c.freeBefore - hugePagesFree();
  if (missing > 0) {
    // DPDK's own race: a secondary still inside rte_eal_init when the primary
    // hot-plugged and freed pages (the health check's grow) maps them but has
    // no mp handler yet to hear the free, so nobody unlinks those page files.
    // Only when a process of this run was, by its own record, inside
    // rte_eal_init during that grow, and only files of the prefix that no
    // process maps, exactly as many as are missing.
    const midInit = inStageDuring(c.dir, 'eal-init', c.grow[0], c.grow[1], (pid) => c.deaths.get(pid) ?? null);
    const orphans = unmappedPageFiles(t.prefix, hugetlbfsMounts());
    if (midInit.length > 0 && orphans.length === missing) opts.pagesLeft(missing, midInit.map((x) => `${x.role}:${x.pid}`).join('+'));
    else tally.fail(`${at}: HugePages_Free is short by ${missing} (unmapped page files of the prefix ${orphans.length}: ${orphans.map((f) => path.basename(f).slice(t.prefix.length)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).join(' ').slice(0, 300)}; processes of the run inside rte_eal_init during the hot-plug: ${midInit.length}; the hot-plug at ${c.grow[0]}-${c.grow[1]} ns; hugetlb now mapped by: ${hugepageMappers()}; steps of the run's processes, ms from the hot-plug's start: ${stageTimeline(c.dir, c.grow[0])})`);
  } else tally.check(missing === 0, `${at}: HugePages_Free went up by ${-missing} during the run`);
  const logs = stageRecords(c.dir).filter((r) => fs.existsSync(defaultEalLog(r.pid)));
  tally.check(logs.length === 0, () => `${at}: EAL logs of the run's processes left in ${os.tmpdir()}: ${logs.map((r) => `${r.role} ${r.pid}`).join(', ')}; steps of the run's processes, ms from the hot-plug's start: ${stageTimeline(c.dir, c.grow[0])}`);
  const files = runtimeFiles(t.runtimeDir);
  tally.check(JSON.stringify(files) === JSON.stringify(t.files), () => `${at}: the runtime dir holds what it held (extra: ${files.filter((f) => !t.files.includes(f)).join(' ') || 'none'}; missing: ${t.files.filter((f) => !files.includes(f)).join(' ') || 'none'}; steps of the run's processes, ms from the hot-plug's start: ${stageTimeline(c.dir, c.grow[0])})`);
  for (const bad of await mallocEveryHeap(t.p, cfg.heaps.filter((h) => known.has(h.name)))) tally.fail(`${at}: ${bad}`);
  // after the file checks: proc-info's own rte_eal_init deletes files of dead processes
  if (opts.procInfo && cfg.external.length === 0) {
    const problem = await procInfoProblem(t.prefix, 10_000);
    tally.check(problem === null, `${at}: ${problem}`);
  }
  return [];
}

/** Threads of `pid` that are neither zombies nor dead (0 once it has ended, reaped or not). */
function threadsLeft(pid: number): number {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  return tids.filter((tid) => {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const state = st.charAt(st.lastIndexOf(')') + 2);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }).length;
}

/** Every process of ours for the prefix, described (pid, role, stage). */
function describeOurs(prefix: string, dir: string): string {
  return memscopeProcesses(prefix)
    .map((pid) => `${pid} ${(readCmdline(pid) ?? [])[2] ?? '?'} ${readStage(dir, pid)?.stage ?? '-'}`)
    .join(', ');
}

// ---------------------------------------------------------------------------
// 1. the agent

type Phase = 'attach' | 'snapshot' | 'stream' | 'register' | 'cli-watch';
const ALL_PHASES: Phase[] = ['attach', 'snapshot', 'stream', 'register', 'cli-watch'];
const PHASES = PHASE_FILTER ? ALL_PHASES.filter((ph) => PHASE_FILTER.includes(ph)) : ALL_PHASES;

async function agentSetup(p: DemoPrimary): Promise<void> {
  await p.command('fill 20000 64 fault');
  await p.command('mempool_create fpool 4095 256 32');
  await p.command('mempool_get fpool 500');
  await p.command('extmem fext 4194304 memfd');
  await p.command('malloc onext 1000 0 heap:fext');
}

test(`SIGKILL of the agent at ${RUNS} random moments (attach, snapshot, streaming, registration): the primary stays healthy and nothing is left behind`, { skip: skip ?? (PHASES.length ? undefined : 'no agent phase selected'), timeout: 60 * 60_000 }, async (t) => {
  const rand = prng(SEED);
  const tally = new Tally();
  let target = await startTarget(agentSetup);
  // the test's own view (peek: no EAL in this process) only finds registrations to undo; the judge reads nothing through it
  let view = await Session.attach({ prefix: target.prefix, via: 'peek' });

  // calibration: how long an attach and a registration take here; after
  // it, the first registration reserved Memscope's table memzone
  const calibrate = async () => {
    const attachMs: number[] = [];
    const registerMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const { agent } = await attachedAgent({ filePrefix: target.prefix });
      attachMs.push(Date.now() - t0);
      const t1 = Date.now();
      const info = (await agent.rpc.sendRequest('memscope/registerTestBuffer', { size: '4M', pageSize: '2M', backing: 'memfd', confirm: true })) as { va: string };
      registerMs.push(Date.now() - t1);
      await agent.rpc.sendRequest('memscope/unregisterTestBuffer', { va: info.va });
      agent.kill();
      await agent.exited;
    }
    assert.ok(await until(() => memscopeProcesses(target.prefix).length === 0, 10_000), 'calibration left no process behind');
    target = { ...target, files: runtimeFiles(target.runtimeDir), stats: heapStats(await target.p.command('stats')), heaps: readConfigView(target.runtimeDir).heaps };
    return { attach: median(attachMs) * 1.3, register: median(registerMs) * 1.3 };
  };
  let windows = await calibrate();
  const { attach: attachWindow, register: registerWindow } = windows;

  const counts: Record<Phase, number> = { attach: 0, snapshot: 0, stream: 0, register: 0, 'cli-watch': 0 };
  let kills = 0;
  let lateRegistrations = 0;
  let slowestHealthMs = 0;
  let slowestSettleMs = 0;
  let keptByDpdkRace = 0;
  let replaced = 0;
  const keptRuns: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const phase = PHASES[i % PHASES.length]!;
    counts[phase]++;
    const at = `agent run ${i} (${phase}, seed ${SEED})`;
    const dir = path.join(STAGES, `agent-${i}`);
    fs.mkdirSync(dir);
    const c: RunContext = { at, t: target, dir, freeBefore: hugePagesFree(), grow: [0n, 0n], deaths: new Map() };
    let agent: AgentHandle | null = null;
    let cliPid: number | null = null;
    let cliExited: Promise<void> | null = null;
    let wedged: string | null = null;
    if (i === INJECT) tally.check(false, `${at}: injected failure (MEMSCOPE_FAULT_INJECT=${INJECT})`);
    process.env.MEMSCOPE_STAGE_DIR = dir;
    const ran = await tally.step(`${at}: the run`, async () => {
      if (phase === 'attach') {
        // from the agent's first instruction to the end of its attach
        agent = startAgent(['--file-prefix', target.prefix]);
        agent.rpc.sendRequest('memscope/attach', { filePrefix: target.prefix }).catch(() => undefined);
        await sleep(rand() * attachWindow);
      } else if (phase === 'cli-watch') {
        const ch = spawn(process.execPath, [CLI, 'watch', '--file-prefix', target.prefix, '--via', 'secondary', '--interval', '10', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        cliPid = ch.pid!;
        cliExited = new Promise((r) => ch.on('close', () => r()));
        ch.stdout.resume();
        ch.stderr.resume();
        await sleep(rand() * (attachWindow + 300));
      } else {
        agent = (await attachedAgent({ filePrefix: target.prefix })).agent;
        if (phase === 'snapshot') {
          // requests back to back; none is started once the kill is decided
          // (a write into the dead agent's pipe would be an EPIPE nobody awaits)
          let go = true;
          const loop = (async () => {
            while (go) await agent!.rpc.sendRequest('memscope/snapshot', {});
          })();
          loop.catch(() => undefined);
          await sleep(rand() * 200);
          go = false;
        } else if (phase === 'stream') {
          await agent.rpc.sendRequest('memscope/subscribe', { intervalMs: 100 });
          target.p
            .command('malloc churn 4096')
            .then((m) => target.p.command(`free ${m.ptr}`))
            .catch(() => undefined);
          await sleep(rand() * 200);
        } else {
          const size = rand() < 0.5 ? { size: '4M', pageSize: '2M' } : { size: '256K', pageSize: '4K' };
          agent.rpc.sendRequest('memscope/registerTestBuffer', { ...size, backing: 'memfd', confirm: true }).catch(() => undefined);
          await sleep(rand() * registerWindow);
        }
      }
    });
    delete process.env.MEMSCOPE_STAGE_DIR;
    const a = agent as AgentHandle | null;
    if (a) {
      a.kill('SIGKILL');
      await a.exited;
    } else if (cliPid !== null) {
      try {
        process.kill(-cliPid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await cliExited;
    }
    if (ran.ok) kills++;

    // the target, at once
    const h = await health(target.p, 1000);
    c.grow = h.grow;
    slowestHealthMs = Math.max(slowestHealthMs, h.ms);
    if (!tally.check(h.ok && h.ms < 1000, `${at}: the primary allocates, frees and hot-plugs within 1 s: ${h.ok ? `took ${h.ms} ms` : h.why}`)) {
      await until(() => memscopeProcesses(target.prefix).length === 0, 5000);
      const again = await health(target.p, 2000);
      const held = readConfigView(target.runtimeDir).held;
      if (!again.ok || held.length) wedged = `${held.join(', ') || `unresponsive (${again.why})`}`;
    }

    // then what is left once Memscope's processes for this run are gone (a
    // registration the holder finished after the agent died is unregistered)
    const t1 = Date.now();
    for (let round = 0; !wedged; round++) {
      for (const e of readTable(view).values()) {
        if (!e.ownerAlive) continue;
        lateRegistrations++;
        const r = await runCli(['unregister', '--file-prefix', target.prefix, '--va', `0x${e.baseVa.toString(16)}`, '--yes'], { timeoutMs: 20_000 });
        // a holder still at work may undo its own registration meanwhile (exit 33: nothing there any more)
        const undone = r.code === 33 && ![...readTable(view).values()].some((x) => x.baseVa === e.baseVa && x.ownerAlive);
        tally.check(r.code === 0 || undone, `${at}: unregistering what the holder finished after the agent died: exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
      }
      if (await until(() => memscopeProcesses(target.prefix).length === 0, 2000)) break;
      if (round >= 5) {
        tally.fail(`${at}: Memscope processes still running 10 s after the kill: ${describeOurs(target.prefix, dir)}`);
        for (const pid of memscopeProcesses(target.prefix)) killPid(pid);
        break;
      }
    }
    slowestSettleMs = Math.max(slowestSettleMs, Date.now() - t1);
    if (!wedged) {
      const held = await judge(tally, c, {
        procInfo: false, // the target holds external memory: proc-info would crash in it (dpdk-notes.md hazard 5)
        pagesLeft: (n) => {
          keptByDpdkRace += n;
          keptRuns.push(`${i}:${phase}`);
        },
      });
      if (held.length) wedged = held.join(', ');
    }
    if (wedged) {
      // an agent's kill must never wedge the target: a failure, and a new target to go on
      tally.fail(`${at}: the target is wedged: ${wedged}; processes of ours: ${describeOurs(target.prefix, dir) || 'none'}${a ? `; agent stderr: ${a.stderr().slice(-500)}` : ''}`);
      view.dispose();
      replaced++;
      const r = await tally.step(`${at}: replacing the wedged primary`, async () => {
        target = await replaceTarget(target, tally, at, agentSetup);
        view = await Session.attach({ prefix: target.prefix, via: 'peek' });
        windows = await calibrate();
      });
      if (!r.ok) break; // no target to go on with: counted, and the campaign stops here
    }
  }
  tally.check(JSON.stringify(heapStats(await target.p.command('stats'))) === JSON.stringify(target.stats), 'the heaps hold what they held before the campaign');
  view.dispose();
  const line =
    `agent fault campaign (seed ${SEED}): runs ${RUNS}, agent SIGKILLs ${kills} ` +
    `(${PHASES.map((ph) => `${ph} ${counts[ph]}`).join(', ')}), registrations finished after the kill ${lateRegistrations}, ` +
    `primaries replaced (wedged) ${replaced}; freed pages whose files DPDK left (a secondary mid-init during the hot-plug) ${keptByDpdkRace}${keptRuns.length ? ` in runs ${keptRuns.join(' ')}` : ''}; slowest health check ${slowestHealthMs} ms, slowest settle ${slowestSettleMs} ms ` +
    `(kill windows: attach ${Math.round(attachWindow)} ms, register ${Math.round(registerWindow)} ms); ${tally.failureSummary()}`;
  t.diagnostic(line);
  console.log(line);
  await target.p.stop();
  for (const [k, f] of tally.failures.entries()) console.log(`failure ${k + 1}: ${f}`);
  assert.equal(tally.failures.length, 0, tally.failureSummary());
});

// ---------------------------------------------------------------------------
// 2. the processes that hold DPDK's locks

/** Stages in which a process is inside one of DPDK's calls that take shared locks. */
const HAZARD_STAGES = new Set([
  'eal-init', 'service-finalize', 'memzone-reserve', 'heap-create', 'heap-add', 'heap-remove', 'heap-destroy',
  'extmem-register', 'native-register', 'extmem-unregister', 'extmem-attach', 'extmem-detach', 'heap-attach', 'heap-detach',
  'leave-locked',
]);

type Kind = 'helper-init' | 'holder-init' | 'guardian-init' | 'holder-register' | 'guardian-attach' | 'holder-release';
/** Out of 6 kills: how many of each kind (the default 100 kills: 17 helper-init, 17 holder-init, 17 guardian-init, 17 holder-register, 16 guardian-attach, 16 holder-release). */
const ALL_KINDS: Kind[] = ['helper-init', 'holder-init', 'guardian-init', 'holder-register', 'guardian-attach', 'holder-release'];
const KINDS = PHASE_FILTER ? ALL_KINDS.filter((k) => PHASE_FILTER.includes(k)) : ALL_KINDS;

interface Proc {
  pid: number;
  exited: Promise<void>;
  done: () => boolean;
  out: () => string;
  err: () => string;
}

/** `memscope register` (a background holder and its guardian, as a user or the agent starts them); the Proc is the CLI's. */
function spawnRegister(prefix: string, dir: string, heap: string | null, huge: boolean): Proc {
  const args = ['register', '--file-prefix', prefix, '--size', huge ? '4M' : '256K', '--page-size', huge ? '2M' : '4K', '--backing', 'memfd', '--yes', '--json', ...(heap ? ['--heap', heap] : [])];
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, MEMSCOPE_STAGE_DIR: dir } });
  let out = '';
  let err = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (err.length < 8000 ? (err += d) : undefined));
  let done = false;
  const exited = new Promise<void>((r) =>
    c.on('exit', () => {
      done = true;
      r();
    }),
  );
  return { pid: c.pid!, exited, done: () => done, out: () => out, err: () => err };
}

/** Polls (every ms) until a process of `role` in `dir` is in one of `stages`; null if not within timeoutMs. */
async function waitStage(dir: string, role: string, stages: string[], timeoutMs: number, pid?: number, passed = false): Promise<StageRecord | null> {
  const end = Date.now() + timeoutMs;
  // passed: a stage that lasts microseconds (a holder's or guardian's
  // `intent`) is found in the history once the process has gone past it
  const reached = (x: StageRecord) => stages.includes(x.stage) || (passed && stageHistory(dir, x.pid).some((e) => stages.includes(e.stage)));
  for (;;) {
    const r = (pid !== undefined ? [readStage(dir, pid)] : stageRecords(dir)).find((x) => x && x.role === role && reached(x) && isAlive(x.pid));
    if (r) return r;
    if (Date.now() > end) return null;
    await sleep(1);
  }
}

/** Blocks (spins on the stage file) until `pid` is in one of `stages` or past them; at most maxMs. */
function spinStage(dir: string, pid: number, stages: string[], maxMs: number): StageRecord | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, String(pid)), 'r');
  } catch {
    return null;
  }
  try {
    const end = Date.now() + maxMs;
    for (;;) {
      const r = readStage(dir, pid, fd);
      if (r && stages.includes(r.stage)) return r;
      if (Date.now() > end) return r;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function spinNs(ns: number): void {
  const end = now() + BigInt(Math.round(ns));
  while (now() < end) {
    /* aiming */
  }
}

test(`SIGKILL of the secondary helper, holders and guardians inside rte_eal_init and rte_extmem_register (${LOCK_KILLS} kills): every wedge is DPDK's, measured; nothing else is left behind`, { skip: skip ?? (KINDS.length ? undefined : 'no kill kind selected'), timeout: 60 * 60_000 }, async (t) => {
  const rand = prng(SEED ^ 0x5eed);
  const tally = new Tally();
  const setup = async () => undefined;
  let target = await startTarget(setup);

  // calibration in this run: how long each step lasts here (from the stages)
  const calDir = path.join(STAGES, 'lock-calibration');
  fs.mkdirSync(calDir);
  const calibrate = async () => {
    for (let i = 0; i < 2; i++) {
      process.env.MEMSCOPE_STAGE_DIR = calDir;
      const { agent } = await attachedAgent({ filePrefix: target.prefix, via: 'secondary' });
      delete process.env.MEMSCOPE_STAGE_DIR;
      agent.kill();
      await agent.exited;
      for (const heap of [null, `fcal${i}`]) {
        const r = spawnRegister(target.prefix, calDir, heap, i === 0);
        await r.exited;
        const info = JSON.parse(r.out()) as { holderPid: number };
        assert.ok(await waitStage(calDir, '__hold', ['holding'], 10_000, info.holderPid), `calibration holder registered: ${r.err()}`);
        killPid(info.holderPid, 'SIGTERM');
        assert.ok(await until(() => !isAlive(info.holderPid), 10_000), 'the calibration holder let go');
      }
    }
    assert.ok(await until(() => memscopeProcesses(target.prefix).length === 0, 10_000), 'calibration left no process behind');
    target = { ...target, files: runtimeFiles(target.runtimeDir), stats: heapStats(await target.p.command('stats')), heaps: readConfigView(target.runtimeDir).heaps };
  };
  await calibrate();
  // a new primary's baseline: what it holds once a registration came and
  // went (the first one reserves Memscope's table memzone, which stays)
  const baseline = async () => {
    const r = spawnRegister(target.prefix, calDir, null, false);
    await r.exited;
    const info = JSON.parse(r.out()) as { holderPid: number };
    assert.ok(await waitStage(calDir, '__hold', ['holding'], 10_000, info.holderPid), `the new primary's first holder registered: ${r.err()}`);
    killPid(info.holderPid, 'SIGTERM');
    assert.ok(await until(() => memscopeProcesses(target.prefix).length === 0, 10_000), `the new primary's first holder let go and left nothing running`);
    target = { ...target, files: runtimeFiles(target.runtimeDir), stats: heapStats(await target.p.command('stats')), heaps: readConfigView(target.runtimeDir).heaps };
  };
  const ms = (stage: string, role?: string) => median(stageDurations(calDir, stage, role)) / 1e6;
  const W = {
    helperInit: ms('eal-init', '__secondary'),
    holderInit: ms('eal-init', '__hold'),
    guardianInit: ms('eal-init', '__guard'),
    extmemRegister: ms('extmem-register', '__hold'),
    heapRegister: ms('heap-create', '__hold') + ms('heap-add', '__hold'),
    extmemAttach: ms('extmem-attach', '__guard'),
    heapAttach: ms('heap-attach', '__guard'),
    extmemUnregister: ms('extmem-unregister', '__hold'),
    heapUnregister: ms('heap-remove', '__hold') + ms('heap-destroy', '__hold'),
  };
  const windows = Object.entries(W)
    .map(([k, v]) => `${k} ${v < 1 ? v.toFixed(3) : v.toFixed(0)} ms`)
    .join(', ');
  t.diagnostic(`calibrated windows: ${windows}`);
  console.log(`lock-holder campaign: calibrated windows: ${windows}`);

  let replaced = 0;
  let procInfoRuns = 0;
  let wedges = 0;
  let keptByDpdkRace = 0;
  let kills = 0;
  let missed = 0;
  // a holder asked to unregister may finish before the aimed moment: such a run is not a kill, and another one is run
  for (let i = 0; kills < LOCK_KILLS && i < LOCK_KILLS * 1.3; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const heap = (kind === 'holder-register' || kind === 'guardian-attach' || kind === 'holder-release') && Math.floor(i / KINDS.length) % 2 === 1 ? `fh${i}` : null;
    const at = `lock run ${i} (${kind}${heap ? ' heap' : ''}, seed ${SEED})`;
    const dir = path.join(STAGES, `lock-${i}`);
    fs.mkdirSync(dir);
    const c: RunContext = { at, t: target, dir, freeBefore: hugePagesFree(), grow: [0n, 0n], deaths: new Map() };
    if (i === INJECT) tally.check(false, `${at}: injected failure (MEMSCOPE_FAULT_INJECT=${INJECT})`);
    let agent: AgentHandle | null = null;
    let attachAnswer: Promise<string> | null = null;
    let holder: Proc | null = null;
    let victim: { pid: number; role: string } | null = null;

    const aimed = await tally.step(`${at}: aiming`, async () => {
      const huge = rand() < 0.5;
      if (kind === 'helper-init') {
        process.env.MEMSCOPE_STAGE_DIR = dir;
        agent = startAgent(['--file-prefix', target.prefix]);
        delete process.env.MEMSCOPE_STAGE_DIR;
        attachAnswer = agent.rpc.sendRequest('memscope/attach', { filePrefix: target.prefix, via: 'secondary' }).then(
          () => 'attached',
          (e: { data?: { code?: string } }) => `error ${e?.data?.code ?? '?'}`,
        );
        const r = await waitStage(dir, '__secondary', ['eal-init'], 30_000);
        if (!r) throw new Error(`the helper never reached rte_eal_init: ${describeOurs(target.prefix, dir)}; agent stderr: ${agent.stderr().slice(-300)}`);
        await sleep(rand() * W.helperInit);
        return (victim = { pid: r.pid, role: r.role });
      }
      holder = spawnRegister(target.prefix, dir, heap, huge);
      const h = holder;
      if (kind === 'holder-init') {
        const r = await waitStage(dir, '__hold', ['eal-init'], 30_000);
        if (!r) throw new Error(`the holder never reached rte_eal_init: ${h.err().slice(-300)}`);
        await sleep(rand() * W.holderInit);
        return (victim = { pid: r.pid, role: '__hold' });
      }
      if (kind === 'guardian-init') {
        const r = await waitStage(dir, '__guard', ['eal-init'], 30_000);
        if (!r) throw new Error(`no guardian reached rte_eal_init: ${h.err().slice(-300)}`);
        await sleep(rand() * W.guardianInit);
        return (victim = { pid: r.pid, role: r.role });
      }
      if (kind === 'holder-register') {
        const hr = await waitStage(dir, '__hold', ['intent'], 30_000, undefined, true);
        if (!hr) throw new Error(`the holder never got to its registration: ${h.err().slice(-300)}`);
        spinStage(dir, hr.pid, heap ? ['heap-create', 'heap-add'] : ['extmem-register'], 2000);
        spinNs(rand() * 1.5 * (heap ? W.heapRegister : W.extmemRegister) * 1e6);
        return (victim = { pid: hr.pid, role: '__hold' });
      }
      if (kind === 'guardian-attach') {
        const g = await waitStage(dir, '__guard', ['intent'], 30_000, undefined, true);
        if (!g) throw new Error(`no guardian got the holder's intent: ${h.err().slice(-300)}`);
        spinStage(dir, g.pid, ['extmem-attach', 'heap-attach'], 2000);
        spinNs(rand() * 1.5 * (heap ? W.heapAttach : W.extmemAttach) * 1e6);
        return (victim = { pid: g.pid, role: g.role });
      }
      // holder-release: holding, then asked to unregister (SIGTERM, as `memscope unregister` does)
      const hr = await waitStage(dir, '__hold', ['holding'], 30_000);
      if (!hr) throw new Error(`the holder never held its registration: ${h.err().slice(-300)}`);
      killPid(hr.pid, 'SIGTERM');
      spinStage(dir, hr.pid, heap ? ['heap-remove', 'heap-destroy'] : ['extmem-unregister'], 5000);
      spinNs(rand() * (heap ? W.heapUnregister : W.extmemUnregister) * 1e6);
      return (victim = { pid: hr.pid, role: '__hold' });
    });
    let killedIn = '-';
    const v = victim as { pid: number; role: string } | null;
    // the victim is ours (a child of ours or of a holder/agent we started): make sure the pid still is
    if (aimed.ok && v && (readCmdline(v.pid) ?? []).includes(v.role)) {
      killPid(v.pid);
      c.deaths.set(v.pid, now());
      await until(() => !isAlive(v.pid), 5000);
      killedIn = readStage(dir, v.pid)?.stage ?? 'before its first stage';
      kills++;
      tally.count(`kill:${v.role.replace(/^__/, '')} ${kind}`);
      tally.count(`stage:${v.role.replace(/^__/, '')} ${killedIn}`);
    } else if (aimed.ok && v && ['released', 'left', 'exit'].includes(readStage(dir, v.pid)?.stage ?? '')) {
      // it finished its work and ended before the aimed moment: not a kill, and another run is run
      missed++;
    } else if (aimed.ok && v) {
      tally.fail(`${at}: the ${v.role} (pid ${v.pid}) had ended by itself before the kill, in ${readStage(dir, v.pid)?.stage ?? '?'}${holder ? `; holder stderr: ${(holder as Proc).err().slice(-300)}` : ''}`);
    }

    // the target, at once
    const hnow = await health(target.p, 1000);
    c.grow = hnow.grow;
    let wedged: string | null = null;
    if (!hnow.ok || hnow.ms >= 1000) {
      // DPDK's locks are spun on: give live processes a moment, then look
      await until(() => readConfigView(target.runtimeDir).held.length === 0, 3000);
      const held = readConfigView(target.runtimeDir).held;
      const again = held.length ? hnow : await health(target.p, 2000);
      if (held.length || !again.ok) wedged = held.join(', ') || `the primary did not answer (${again.why})`;
      else tally.fail(`${at}: the primary allocated, freed and hot-plugged, but not within 1 s (${hnow.ok ? `${hnow.ms} ms` : hnow.why}); no lock is held; steps of the run's processes, ms from the hot-plug's start: ${stageTimeline(dir, c.grow[0])}`);
    }

    // the rest of the run: the agent answers and ends; a holder still
    // running is asked to unregister; then nothing of ours may be left
    const ag = agent as AgentHandle | null;
    if (ag) {
      if (!wedged) {
        const answer = await Promise.race([attachAnswer!, sleep(20_000).then(() => 'no answer')]);
        tally.check(answer !== 'no answer', `${at}: the agent answered its attach within 20 s of its helper's death`);
      }
      ag.kill('SIGKILL');
      await ag.exited;
    }
    if (!wedged) {
      const end = Date.now() + 20_000;
      const asked = new Set<number>();
      for (;;) {
        const ours = memscopeProcesses(target.prefix);
        if (!ours.length) break;
        for (const pid of ours) {
          if (!asked.has(pid) && (readCmdline(pid) ?? []).includes('__hold')) {
            asked.add(pid);
            killPid(pid, 'SIGTERM');
          }
        }
        if (Date.now() > end) {
          const held = readConfigView(target.runtimeDir).held;
          if (held.length) wedged = `${held.join(', ')} (processes of ours stuck: ${describeOurs(target.prefix, dir)})`;
          else tally.fail(`${at}: processes of ours still running 20 s after the kill: ${describeOurs(target.prefix, dir)}`);
          for (const pid of memscopeProcesses(target.prefix)) killPid(pid);
          await until(() => memscopeProcesses(target.prefix).length === 0, 5000);
          break;
        }
        await sleep(20);
      }
    }
    if (holder) {
      const hp = holder as Proc;
      // `memscope register` deletes what a holder killed before it reported
      // left, once it sees the holder's pipes close: let it end by itself
      await Promise.race([hp.exited, sleep(5000)]);
      if (!hp.done()) killPid(hp.pid); // gone by now unless the run failed
      await hp.exited;
    }
    if (!wedged) {
      const r = await tally.step(`${at}: judging`, () =>
        judge(tally, c, {
          procInfo: true,
          pagesLeft: (n) => {
            keptByDpdkRace += n;
          },
        }),
      );
      if (r.ok && r.value.length) wedged = r.value.join(', ');
      if (r.ok) procInfoRuns++;
    }
    if (wedged) {
      wedges++;
      const role = v ? v.role.replace(/^__/, '') : '?';
      tally.count(`wedge:${role} ${killedIn}`);
      const what = `${at}: ${role} killed in ${killedIn}: ${wedged}`;
      if (v && HAZARD_STAGES.has(killedIn)) tally.hazard(what);
      else tally.fail(`the target was wedged by a kill outside DPDK's lock-taking calls: ${what}`);
      replaced++;
      const r = await tally.step(`${at}: replacing the wedged primary`, async () => {
        target = await replaceTarget(target, tally, at, setup);
        await baseline();
      });
      if (!r.ok) break;
    }
  }
  tally.check(kills >= LOCK_KILLS, `${kills} kills of the ${LOCK_KILLS} aimed at`);
  const endStats = heapStats(await target.p.command('stats'));
  tally.check(JSON.stringify(endStats) === JSON.stringify(target.stats), `the last primary\u2019s heaps hold what they held after its setup ([allocations, bytes] per heap: ${JSON.stringify(target.stats)} then, ${JSON.stringify(endStats)} now)`);
  const line =
    `lock-holder fault campaign (seed ${SEED}): SIGKILLs ${kills} (${tally.counted('kill:')}; ${missed} more released before the aimed moment); ` +
    `stage at the kill: ${tally.counted('stage:')}; ` +
    `wedged (DPDK's hazard: a lock left held or the primary stuck) ${wedges} of ${kills}${wedges ? ` (${tally.counted('wedge:')})` : ''}, primaries replaced ${replaced}; ` +
    `dpdk-proc-info -m after ${procInfoRuns} kills; freed pages whose files DPDK left ${keptByDpdkRace}; ${tally.failureSummary()}`;
  t.diagnostic(line);
  console.log(line);
  for (const hz of tally.hazards.slice(0, 20)) console.log(`  wedge: ${hz}`);
  await target.p.stop();
  for (const [k, f] of tally.failures.entries()) console.log(`failure ${k + 1}: ${f}`);
  assert.equal(tally.failures.length, 0, tally.failureSummary());
});
