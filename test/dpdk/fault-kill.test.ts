// Fault campaign: SIGKILL the agent, attached as a DPDK secondary (the route
// that joins the target's multi-process group), at random moments while it
// snapshots in a loop. Lock-free reads mean a reader that dies can leave nothing held:
// after every kill the primary must still allocate, free and hot-plug a new
// hugepage within 1 s, its hot-plug lock must be free, and its heap must hold
// exactly what it held before (an attach leaves nothing behind).
// MEMSCOPE_FAULT_RUNS sets the number of kills (default 100).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { CLI } from '../helpers/cli';
import { DemoPrimary, stopAll, whyNoDpdk } from '../helpers/primaries';
import { prng } from '../helpers/prng';

const skip = whyNoDpdk({ cc: true, hugepages: 400 });
const RUNS = Number(process.env.MEMSCOPE_FAULT_RUNS ?? 100);
after(() => stopAll());


function hotplugLock(prefix: string): number {
  const fd = fs.openSync(`/var/run/dpdk/${prefix}/config`, 'r');
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 32); // rte_mem_config.memory_hotplug_lock (22.11)
    return b.readInt32LE(0);
  } finally {
    fs.closeSync(fd);
  }
}

test(`SIGKILL of the agent at ${RUNS} random moments while it snapshots: the primary stays healthy`, { skip, timeout: 30 * 60_000 }, async (t) => {
  const seed = Number(process.env.MEMSCOPE_FAULT_SEED ?? Date.now() % 1_000_000);
  const rand = prng(seed);
  const p = await DemoPrimary.start({ memMb: 256 });
  await p.command('fill 20000 64 fault');
  await p.command('mempool_create fpool 4095 256 32');
  await p.command('mempool_get fpool 500');
  await p.command('extmem fext 4194304 memfd');
  await p.command('malloc onext 1000 0 heap:fext');
  const before = (await p.command('stats')).heaps;
  let kills = 0;
  let failures = 0;
  const worst = { healthMs: 0 };
  for (let i = 0; i < RUNS; i++) {
    const ealLog = `/tmp/memscope-fault-eal-${process.pid}.log`;
    const agent = spawn(process.execPath, [CLI, 'watch', '--file-prefix', p.prefix, '--via', 'secondary', '--interval', '10', '--json', '--eal-log', ealLog], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    agent.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let how = '';
    const exited = new Promise<void>((r) =>
      agent.on('close', (code, signal) => {
        how = `exit ${code} ${signal ?? ''}`;
        r();
      }),
    );
    const attached = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 15000);
      agent.stdout.once('data', () => {
        clearTimeout(timer);
        resolve(true);
      });
      agent.once('close', () => setImmediate(() => resolve(false)));
    });
    if (!attached) {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
      // what was it doing? (threads' wait channels, EAL's log)
      let threads = '';
      try {
        for (const tid of fs.readdirSync(`/proc/${agent.pid}/task`)) {
          const comm = fs.readFileSync(`/proc/${agent.pid}/task/${tid}/comm`, 'utf8').trim();
          const wchan = fs.readFileSync(`/proc/${agent.pid}/task/${tid}/wchan`, 'utf8').trim();
          threads += ` ${comm}:${wchan}`;
        }
      } catch {
        /* gone */
      }
      stderr += ` threads:${threads} eal log: ${fs.existsSync(ealLog) ? fs.readFileSync(ealLog, 'utf8').slice(-3000) : '(none)'} hotplug lock: ${hotplugLock(p.prefix)}`;
      process.kill(-agent.pid!, 'SIGKILL');
    }
    assert.ok(attached, `run ${i}: the agent attached (${how}; stderr: ${stderr})`);
    await new Promise((r) => setTimeout(r, rand() * 150));
    process.kill(-agent.pid!, 'SIGKILL');
    kills++;
    await exited;
    const t0 = Date.now();
    try {
      const m = await p.command('malloc fault-check 4096', 1000);
      await p.command(`free ${m.ptr}`, 1000);
      const g = await p.command('grow', 1000);
      assert.ok(g.after > g.before, 'grew by a hugepage');
      const ms = Date.now() - t0;
      worst.healthMs = Math.max(worst.healthMs, ms);
      assert.ok(ms < 1000, `healthy within 1 s, took ${ms} ms`);
      assert.equal(hotplugLock(p.prefix), 0, 'the hot-plug lock is free');
    } catch (e) {
      failures++;
      throw new Error(`run ${i} (seed ${seed}): ${(e as Error).message}`);
    }
  }
  const afterStats = (await p.command('stats')).heaps;
  assert.deepEqual(
    afterStats.map((h: { allocCount: number; totalSize: number }) => [h.allocCount, h.totalSize]),
    before.map((h: { allocCount: number; totalSize: number }) => [h.allocCount, h.totalSize]),
    'the heaps hold what they held before the campaign',
  );
  const line = `fault campaign (seed ${seed}): runs ${RUNS}, agent SIGKILLs ${kills}, failures ${failures}, slowest health check ${worst.healthMs} ms`;
  t.diagnostic(line);
  console.log(line);
  await p.stop();
});
