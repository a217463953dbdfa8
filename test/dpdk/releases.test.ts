// The demo primary built against each other release's libdpdk-dev (Debian
// 13's 24.11, sid's 25.11), run in its own root: what a user does with
// Memscope there, end to end through the CLI, checked against that
// release's own tools. (agent-testpmd.test.ts reads each release's testpmd.)
//
//   watch: a line per change, as the primary allocates
//   register / unregister: a memfd buffer and one with its own malloc heap,
//     holder and guardian started in the target's root; both routes see it
//   SIGKILL of the holder: its guardian undoes the registration
//   repair: an orphan left by a secondary of that release, removed
//   diff: exactly the elements allocated and freed between two snapshots
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Snapshot } from '../../common/snapshot';
import type { SnapshotDiff } from '../../common/leaks';
import { runCli, snapshotOf } from '../helpers/cli';
import { DemoPrimary, parseProcInfo, procInfo, runtimeDirs, stopAll, Testpmd, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';
import { hostPathFromRoot, inRoot, mountRoot, releaseRoot, whyNoRoot } from '../helpers/releases';
import { isAlive, listPids, readCmdline } from '../../native-agent/procfs';
import { spawn, spawnSync } from 'node:child_process';

const noDpdk = whyNoDpdk({ hugepages: 300 });
after(() => stopAll());

interface Info {
  va: string;
  len: number;
  mslIndex: number;
  holderPid: number;
  guardianPid: number;
  heap: string | null;
}

const until = async (what: string, ms: number, ok: () => Promise<boolean> | boolean) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

for (const name of ['trixie', 'sid']) {
  const root = releaseRoot(name);
  const skip = noDpdk ? loudSkip(noDpdk, 'DPDK') : loudSkip(whyNoRoot(root) ?? (existsSync(path.join(root.dir, 'opt/memscope/memscope-demo-primary')) ? undefined : `the demo primary is not built in ${root.dir} (node scripts/build-primary.mjs --root ${root.dir}).`), `the DPDK ${root.release} root`);

  describe(`DPDK ${root.release}: the demo primary built against ${name}'s libdpdk-dev, in its root`, { skip }, () => {
    let p: DemoPrimary;
    let unmount: () => void = () => undefined;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'memscope-rel-'));
    const external = (s: Snapshot) => s.memsegLists.filter((l) => l.external);
    const register = async (args: string[]): Promise<Info> => {
      const r = await runCli(['register', '--file-prefix', p.prefix, '--yes', '--json', '--backing', 'memfd', ...args], { timeoutMs: 90_000 });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Info;
    };
    const noExternal = () => until('no external memory left', 5000, async () => external(await snapshotOf(p.prefix)).length === 0);
    const procInfoOk = async () => {
      const r = await procInfo(p.prefix, 20000, root);
      assert.equal(r.code, 0, r.raw.slice(-400));
      return r;
    };

    before(async () => {
      if (skip) return;
      unmount = mountRoot(root);
      p = await DemoPrimary.start({ root, memMb: 256 });
      await p.command('fill 2000 64 rel');
    });
    after(async () => {
      if (skip) return;
      const dirs = runtimeDirs(p.prefix);
      await p.stop();
      unmount();
      rmSync(dir, { recursive: true, force: true });
      for (const d of dirs) assert.equal(existsSync(d), false, `${d} is left behind`);
    });

    test('snapshot by both routes shows this release, its table, and what its own proc-info shows', async () => {
      const info = await procInfoOk();
      for (const via of ['peek', 'secondary']) {
        const s = await snapshotOf(p.prefix, ['--via', via]);
        assert.match(s.target.dpdkVersion, new RegExp(`^${root.release.replace('.', '\\.')}\\.`));
        assert.equal(s.target.layout, `${root.release} table, verified at attach`);
        assert.equal(s.target.root, `chroot ${root.dir}`);
        const segs = s.memsegLists.flatMap((l) => l.segments.map((x) => `${l.index}-${x.index} ${BigInt(x.va)} ${x.len}`)).sort();
        assert.deepEqual(segs, info.segments.map((x) => `${x.list}-${x.seg} ${x.va} ${x.len}`).sort(), via);
        assert.deepEqual(s.memzones.map((z) => `${z.name} ${BigInt(z.addr)} ${z.len}`).sort(), info.memzones.map((z) => `${z.name} ${z.va} ${z.len}`).sort(), via);
        assert.ok(s.heaps[0]!.elementsAvailable && s.heaps[0]!.elements.filter((e) => e.state === 'busy').length >= 2000, via);
      }
    });

    test('watch prints a line per change as the primary allocates', async () => {
      const w = spawn(process.execPath, [path.join(__dirname, '../../cli/cli.js'), 'watch', '--file-prefix', p.prefix, '--interval', '200', '--count', '4', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      w.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const done = new Promise<number>((r) => w.on('close', (c) => r(c ?? -1)));
      await new Promise((r) => setTimeout(r, 500));
      await p.command('malloc rel_watch 70000');
      const code = await done;
      assert.equal(code, 0, out);
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { heaps?: { changed?: { added?: { len: number }[] }[] } });
      assert.equal(lines.length, 4);
      assert.ok(out.includes('"added"'), `a delta with the new element: ${out.slice(0, 400)}`);
    });

    test('register and unregister: holder and guardian run in its root; both routes see the registration; nothing is left', async () => {
      for (const args of [['--size', '256K'], ['--size', '4M', '--page-size', '2M', '--heap', 'relheap']]) {
        const info = await register(args);
        try {
          for (const via of ['peek', 'secondary']) {
            const s = await snapshotOf(p.prefix, ['--via', via]);
            const l = s.memsegLists.find((x) => x.baseVa === info.va);
            assert.ok(l, `${via}: the registered list`);
            assert.equal(l.registration?.ownerPid, info.holderPid, via);
            assert.equal(l.state, 'ok');
            if (info.heap) assert.equal(s.heaps.find((h) => h.name === 'relheap')?.elementsAvailable, true, via);
          }
        } finally {
          const r = await runCli(['unregister', '--file-prefix', p.prefix, '--va', info.va], { timeoutMs: 30_000 });
          assert.equal(r.code, 0, r.stderr);
        }
        await noExternal();
        await until('the guardian ended', 5000, () => !isAlive(info.guardianPid));
      }
      await procInfoOk();
    });

    test('SIGKILL of the holder: its guardian undoes the registration', async () => {
      const info = await register(['--size', '256K']);
      process.kill(info.holderPid, 'SIGKILL');
      await noExternal();
      await until('the guardian ended', 5000, () => !isAlive(info.guardianPid));
      await procInfoOk();
    });

    test('repair removes the orphan a secondary of this release left', async () => {
      // orphan-maker, in the root with its Node and this release's librte_eal
      const script = hostPathFromRoot(path.join(__dirname, '../helpers/orphan-maker.js'));
      const [cmd, ...args] = inRoot(root, ['/usr/bin/node', '--preserve-symlinks', '--preserve-symlinks-main', script, p.prefix, String(2 * 1024 * 1024), root.release]);
      const maker = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: '/tmp' } });
      let out = '';
      maker.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      await until('the orphan maker registered', 30_000, () => out.includes('\n'));
      const reg = JSON.parse(out) as { va: string };
      maker.kill('SIGKILL');
      await new Promise((r) => maker.once('close', r));
      // the killed maker (ours) cannot delete its log
      rmSync(path.join(root.dir, 'tmp', `memscope-orphan-${maker.pid}.log`), { force: true });
      // a snapshot names the orphan (exit 15) before anything else
      const r0 = await runCli(['snapshot', '--file-prefix', p.prefix, '--json']);
      assert.equal(r0.code, 15, r0.stderr);
      assert.match(r0.stderr, new RegExp(`external memory at ${reg.va} was registered by a process that is gone`));
      const r = await runCli(['repair', '--file-prefix', p.prefix, '--yes', '--json'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { repaired: { baseVa: string }[] }).repaired.map((x) => x.baseVa), [reg.va]);
      await noExternal();
      await procInfoOk();
    });

    test('diff: exactly the elements allocated and freed between two snapshots', async () => {
      const gone = await p.command('malloc rel_gone 5000');
      const a = path.join(dir, 'a.memscope.json');
      const b = path.join(dir, 'b.memscope.json');
      assert.equal((await runCli(['snapshot', '--file-prefix', p.prefix, '--out', a])).code, 0);
      const added = [(await p.command('malloc rel_new 1000')).ptr, (await p.command('malloc rel_new 100000')).ptr];
      await p.command(`free ${gone.ptr}`);
      assert.equal((await runCli(['snapshot', '--file-prefix', p.prefix, '--out', b])).code, 0);
      const r = await runCli(['diff', a, b, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const heap = (JSON.parse(r.stdout) as SnapshotDiff).heaps.find((h) => h.name === 'socket_0')!;
      const inside = (e: { addr: string; len: number }, q: string) => BigInt(e.addr) <= BigInt(q) && BigInt(q) < BigInt(e.addr) + BigInt(e.len);
      assert.equal(heap.added.filter((e) => e.owner === null).length, 2);
      for (const q of added) assert.ok(heap.added.some((e) => inside(e, q)), q);
      assert.equal(heap.freed.length, 1);
      assert.ok(inside(heap.freed[0]!, gone.ptr));
    });

    test('the runtime dir and the root\u2019s /tmp hold only what the primary made', () => {
      const files = readdirSync(runtimeDirs(p.prefix).find((d) => existsSync(d))!);
      assert.deepEqual(files.filter((f) => /_\d+(_[0-9a-f]+)?$/.test(f)), []);
      assert.deepEqual(readdirSync(path.join(root.dir, 'tmp')).filter((f) => f.startsWith('memscope-')), []);
    });
  });
}

// A 24.11 testpmd in a container of its own (unshare: mount and pid
// namespaces, its root's proc, sys and dev mounted inside): found by list
// without flags through /proc/<pid>/root and read by peek; a secondary would
// have to enter its namespaces, which Memscope refuses in one sentence.
{
  const root = releaseRoot('trixie');
  const skip = noDpdk ? loudSkip(noDpdk, 'DPDK') : loudSkip(whyNoRoot(root), `the DPDK ${root.release} root`);
  describe(`DPDK ${root.release} in a container (own mount and pid namespaces)`, { skip }, () => {
    let tp: Testpmd;
    let pid = 0;
    before(async () => {
      if (skip) return;
      tp = await Testpmd.start({ root, container: true, memMb: 256, mbufs: 2048 });
      // the primary is the container's pid 1, a child of unshare
      pid = listPids().find((x) => (readCmdline(x) ?? []).includes(tp.prefix) && (readCmdline(x) ?? [])[0]?.endsWith('dpdk-testpmd')) ?? 0;
      assert.ok(pid > 0, 'the container\u2019s testpmd is found');
    });
    after(async () => {
      if (skip) return;
      const dirs = runtimeDirs(tp.prefix);
      await tp.stop();
      for (const d of dirs) assert.equal(existsSync(d), false, `${d} is left behind`);
    });

    test('list names the container and its runtime dir; peek (and auto) read it as its own proc-info does', async () => {
      const l = await runCli(['list', '--json']);
      const t = (JSON.parse(l.stdout) as { filePrefix: string; pid: number; root: { label: string } | null; runtimeDirInRoot: string; attachable: boolean; layout: string }[]).find((x) => x.filePrefix === tp.prefix);
      assert.ok(t, 'listed without flags');
      assert.equal(t.pid, pid);
      assert.equal(t.root?.label, `container pid ${pid}`);
      assert.equal(t.runtimeDirInRoot, `/run/dpdk/${tp.prefix}`);
      assert.equal(t.layout, '24.11');
      assert.equal(t.attachable, true);
      // that release's proc-info, inside the container's namespaces and root
      const pi = spawnSync('nsenter', ['-t', String(pid), '-m', '-p', '-r', 'dpdk-proc-info', '--file-prefix', tp.prefix, '--no-pci', '--', '-m'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(pi.status, 0, pi.stderr);
      const info = parseProcInfo(pi.stdout);
      for (const via of ['peek', 'auto']) {
        const s = await snapshotOf(tp.prefix, ['--via', via]);
        assert.equal(s.access, 'peek');
        assert.equal(s.target.root, `container pid ${pid}`);
        assert.deepEqual(s.memsegLists.flatMap((x) => x.segments.map((g) => `${x.index}-${g.index} ${BigInt(g.va)} ${g.len}`)).sort(), info.segments.map((g) => `${g.list}-${g.seg} ${g.va} ${g.len}`).sort());
        assert.deepEqual(s.memzones.map((z) => `${z.name} ${BigInt(z.addr)} ${z.len}`).sort(), info.memzones.map((z) => `${z.name} ${z.va} ${z.len}`).sort());
      }
    });

    test('a secondary is refused in one sentence (exit 25), and nothing is left in its runtime dir', async () => {
      const before_ = readdirSync(runtimeDirs(tp.prefix).find((d) => existsSync(d))!).sort();
      const r = await runCli(['snapshot', '--file-prefix', tp.prefix, '--via', 'secondary']);
      assert.equal(r.code, 25, r.stderr);
      assert.equal(r.stderr.trim(), `memscope: prefix "${tp.prefix}" runs in a container (container pid ${pid}, another mount namespace), and a secondary would have to enter its namespaces, which Memscope does not do: read it with --via peek, which needs no helper (the extension does so by itself).`);
      assert.deepEqual(readdirSync(runtimeDirs(tp.prefix).find((d) => existsSync(d))!).sort(), before_);
    });
  });
}
