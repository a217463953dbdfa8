// Each way attaching can go wrong gives its own exit status and one sentence
// naming the cause and the way out; none hangs, none crashes the agent, and
// the target keeps running (it still allocates, frees and hot-plugs a page).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { exitCodes } from '../../common/errors';
import { CLI, runCli, startAgent, startOrphanMaker } from '../helpers/cli';
import { cleanupPrefix, DemoPrimary, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip, loudSkipHere } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ cc: true, testpmd: true, hugepages: 300 }), 'DPDK');
after(() => stopAll());

/** One sentence: a cause, a way out after a colon or semicolon, one final period. */
function oneSentence(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  const line = lines[0]!;
  assert.match(line, /^memscope: .+[:;] .+\.$/);
  assert.doesNotMatch(line, /\n|at .+\.js:\d+|Error:/);
  return line;
}

async function stillHealthy(p: DemoPrimary): Promise<void> {
  const t0 = Date.now();
  const m = await p.command('malloc health 1000', 1000);
  await p.command(`free ${m.ptr}`, 1000);
  const g = await p.command('grow', 1000);
  assert.ok(g.after > g.before, 'a new hugepage was mapped');
  assert.ok(Date.now() - t0 < 1000, `healthy within 1 s (took ${Date.now() - t0} ms)`);
}

test('bad arguments: exit 2 with usage', async () => {
  const r = await runCli(['snapshot']);
  assert.equal(r.code, exitCodes['bad-arguments']);
  assert.match(r.stderr, /needs --file-prefix/);
  const r2 = await runCli(['snapshot', '--file-prefix', '../../etc']);
  assert.equal(r2.code, exitCodes['bad-arguments']);
  assert.match(oneSentence(r2.stderr), /--file-prefix "\.\.\/\.\.\/etc" contains '\/': use the plain name/);
  const r3 = await runCli(['frobnicate']);
  assert.equal(r3.code, 2);
});

test('nonexistent prefix: exit 10', async () => {
  const r = await runCli(['snapshot', '--file-prefix', 'no-such-prefix-4711']);
  assert.equal(r.code, exitCodes['no-target'], r.stderr);
  assert.match(oneSentence(r.stderr), /no DPDK process uses file prefix "no-such-prefix-4711".*memscope list/);
});

test('dead primary with its runtime dir left behind: exit 11', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  p.autoCleanup = false;
  p.kill('SIGKILL');
  await p.waitExit(5000);
  try {
    assert.ok(fs.existsSync(`/var/run/dpdk/${p.prefix}/config`), 'runtime dir left behind');
    const r = await runCli(['snapshot', '--file-prefix', p.prefix]);
    assert.equal(r.code, exitCodes['primary-dead'], r.stderr);
    assert.match(oneSentence(r.stderr), new RegExp(`primary of "${p.prefix}" is not running.*remove /var/run/dpdk/${p.prefix}`));
    const l = await runCli(['list', '--json']);
    const t = JSON.parse(l.stdout).find((x: { filePrefix: string }) => x.filePrefix === p.prefix);
    assert.equal(t.alive, false);
    assert.equal(t.attachable, false);
  } finally {
    cleanupPrefix(p.prefix);
  }
});

test('a config of a DPDK release Memscope has no layout for: exit 12 naming it and the releases it reads', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-ver-'));
  try {
    const dir = path.join(root, 'oldver');
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(`/var/run/dpdk/${p.prefix}`)) {
      const src = path.join(`/var/run/dpdk/${p.prefix}`, f);
      if (fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(dir, f));
    }
    const cfg = path.join(dir, 'config');
    const b = fs.readFileSync(cfg);
    b.writeUInt32LE(((21 << 24) | (11 << 16) | (3 << 8) | 99) >>> 0, 4);
    fs.writeFileSync(cfg, b);
    const r = await runCli(['snapshot', '--file-prefix', 'oldver', '--runtime-dir', root]);
    assert.equal(r.code, exitCodes['version-mismatch'], r.stderr);
    const line = oneSentence(r.stderr);
    // the missing layout is the cause (a matching librte_eal would not help), said before the library
    assert.match(line, /runs DPDK 21\.11\.3, whose private memory layout Memscope does not know \(it reads DPDK 22\.11, 24\.11 and 25\.11\)/);
    await stillHealthy(p);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('--no-huge and --in-memory primaries: exit 13', { skip, timeout: 60_000 }, async () => {
  for (const flag of ['--no-huge', '--in-memory']) {
    const p = await DemoPrimary.start({ memMb: 64, extraEal: [flag] });
    try {
      const r = await runCli(['snapshot', '--file-prefix', p.prefix]);
      assert.equal(r.code, exitCodes['not-attachable'], `${flag}: ${r.stderr}`);
      assert.match(oneSentence(r.stderr), new RegExp(`${flag}.*restart it`));
      await p.command('ping');
    } finally {
      await p.stop();
    }
  }
});

test('no permission (run as nobody): exit 14', { skip, timeout: 60_000 }, async (t) => {
  const p = await DemoPrimary.start({ memMb: 64 });
  try {
    const probe = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(CLI)})`], { uid: 65534, gid: 65534, stdio: 'ignore' });
      c.on('close', resolve);
    });
    if (probe !== 0) {
      // not a missing install, but CI's checkout must let these run: loud there
      return loudSkipHere(t, `this checkout (${path.dirname(CLI)}) is not readable by user nobody, so the CLI cannot run as nobody here (chmod o+rx the folders above it, or check out elsewhere)`, 'a checkout user nobody can read');
    }
    const r = await runCli(['snapshot', '--file-prefix', p.prefix], { uid: 65534, gid: 65534, cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    assert.equal(r.code, exitCodes.permission, r.stderr);
    assert.match(oneSentence(r.stderr), /root|another user|user/);
    await stillHealthy(p);
  } finally {
    await p.stop();
  }
});

test('an orphaned external list: exit 15, and the warning says what it means', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  const maker = await startOrphanMaker(p.prefix, 2 * 1024 * 1024);
  try {
    const reg = maker;
    await maker.kill();
    const r = await runCli(['snapshot', '--file-prefix', p.prefix, '--json']);
    assert.equal(r.code, exitCodes['orphaned-list'], r.stderr);
    assert.match(oneSentence(r.stderr), /orphaned|gone without unregistering/);
    const snap = JSON.parse(r.stdout);
    const list = snap.memsegLists.find((l: { baseVa: string }) => l.baseVa === reg.va);
    assert.ok(list, 'the orphaned list is in the snapshot');
    assert.equal(list.state, 'orphaned');
    assert.match(list.warning, /crash/);
    await p.command('ping');
  } finally {
    await maker.kill();
    await p.stop();
  }
});

test('a hung attach (primary stopped) is timed out: exit 16, and the primary recovers', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  try {
    p.kill('SIGSTOP');
    const r = await runCli(['snapshot', '--file-prefix', p.prefix, '--via', 'secondary', '--timeout', '1500'], { timeoutMs: 10000 });
    p.kill('SIGCONT');
    assert.equal(r.code, exitCodes['attach-timeout'], r.stderr);
    assert.match(oneSentence(r.stderr), /did not finish within 1500 ms/);
    assert.ok(r.ms < 5000, `gave up after ${r.ms} ms`);
    await stillHealthy(p);
  } finally {
    p.kill('SIGCONT');
    await p.stop();
  }
});

test('an agent started for a prefix holds the primary\u2019s ranges from its start, and attach takes them over', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  const { Methods } = await import('../../common/protocol');
  const { findTarget, readConfig } = await import('../../native-agent/discovery');
  const agent = startAgent(['--file-prefix', p.prefix]);
  try {
    await agent.rpc.sendRequest(Methods.listTargets, {}); // the server is up, so the reservation was made
    const { cfg } = readConfig(findTarget(p.prefix).runtimeDir + '/config');
    // adjacent placeholders merge into one mapping: look for one that covers
    // each list; a list that V8 had already touched before the agent's first
    // line ran cannot be held (and is reported as a conflict at attach)
    const maps = fs
      .readFileSync(`/proc/${agent.child.pid}/maps`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((m) => {
        const [a, b] = m.split(' ')[0]!.split('-').map((x) => BigInt(`0x${x}`)) as [bigint, bigint];
        return { a, b, placeholder: / ---p /.test(m) };
      });
    let held = 0;
    let taken = 0;
    for (const l of cfg!.lists.filter((x) => !x.external)) {
      const end = l.baseVa + BigInt(l.len);
      if (maps.some((m) => !m.placeholder && m.a < end && l.baseVa < m.b)) {
        taken++;
        continue;
      }
      assert.ok(maps.some((m) => m.placeholder && m.a <= l.baseVa && end <= m.b), `list ${l.index} (0x${l.baseVa.toString(16)}-0x${end.toString(16)}) held PROT_NONE before attach`);
      held++;
    }
    assert.ok(held > 0, 'some list was held');
    const r = await agent.rpc.sendRequest(Methods.attach, { filePrefix: p.prefix, via: 'secondary' }).then(
      (x) => x as { access: string },
      (e: { data?: { code?: string } }) => {
        if (taken && e.data?.code === 'address-conflict') return null; // V8 was there first: the client starts a fresh agent
        throw e;
      },
    );
    if (r) {
      assert.equal(r.access, 'secondary');
      const snap = (await agent.rpc.sendRequest(Methods.snapshot, {})) as { memsegLists: unknown[] };
      assert.ok(snap.memsegLists.length > 0);
    }
  } finally {
    agent.kill();
    await agent.exited;
  }
  await stillHealthy(p);
  await p.stop();
});

test('a conflict on the first try: the CLI (snapshot, repair) starts over as a fresh image and succeeds', { skip, timeout: 90_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-conflict-'));
  try {
    // a preload that takes the primary's first memseg range in the first image only
    const preload = path.join(dir, 'take-range.js');
    fs.writeFileSync(
      preload,
      `if (!process.env.MEMSCOPE_ATTACH_ATTEMPT) {
        const { findTarget, readConfig } = require(${JSON.stringify(path.join(path.dirname(CLI), 'discovery.js'))});
        const { reserveRange } = require(${JSON.stringify(path.join(path.dirname(CLI), 'native', 'libc.js'))});
        const { cfg } = readConfig(findTarget(${JSON.stringify(p.prefix)}).runtimeDir + '/config');
        if (!reserveRange(cfg.lists[0].baseVa, cfg.lists[0].baseVa + 0x200000n)) process.exit(3);
        require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'took'))}, String(process.pid));
      }`,
    );
    const env = { ...process.env, NODE_OPTIONS: `--require ${preload}` };
    const runs: [string, string[]][] = [
      ['snapshot', ['snapshot', '--json', '--via', 'secondary', '--file-prefix', p.prefix]],
      ['repair', ['repair', '--yes', '--file-prefix', p.prefix]],
    ];
    for (const [what, args] of runs) {
      fs.rmSync(path.join(dir, 'took'), { force: true });
      const r = await runCli(args, { env, timeoutMs: 60_000 });
      assert.ok(fs.existsSync(path.join(dir, 'took')), `${what}: the first image held the range`);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      if (what === 'snapshot') {
        const snap = JSON.parse(r.stdout) as { access: string; memsegLists: unknown[] };
        assert.equal(snap.access, 'secondary');
        assert.ok(snap.memsegLists.length > 0);
      }
    }
    await stillHealthy(p);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await p.stop();
  }
});

test('the primary\u2019s memory range already used by a process attaching in-process (helper, holder): exit 18 before rte_eal_init', { skip, timeout: 60_000 }, async () => {
  const p = await DemoPrimary.start({ memMb: 64 });
  try {
    const script = `
      const { findTarget, readConfig } = require(${JSON.stringify(path.join(path.dirname(CLI), 'discovery.js'))});
      const { reserveRange } = require(${JSON.stringify(path.join(path.dirname(CLI), 'native', 'libc.js'))});
      const { Session } = require(${JSON.stringify(path.join(path.dirname(CLI), 'session.js'))});
      const t = findTarget(${JSON.stringify(p.prefix)});
      const { cfg } = readConfig(t.runtimeDir + '/config');
      const l = cfg.lists[0];
      if (!reserveRange(l.baseVa, l.baseVa + 0x200000n)) { console.log('reserve failed'); process.exit(3); }
      Session.attach({ prefix: ${JSON.stringify(p.prefix)}, inProcess: true }).then(() => { console.log('attached'); process.exit(4); }, (e) => { console.log(e.code); console.log(e.message); process.exit(0); });`;
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
      c.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`exit ${code}: ${s}`))));
    });
    const [code, message] = out.trim().split('\n');
    assert.equal(code, 'address-conflict');
    assert.match(message!, /memseg list 0 of the primary sits at .* which this agent already uses/);
    assert.equal(exitCodes['address-conflict'], 18);
    await stillHealthy(p);
  } finally {
    await p.stop();
  }
});
