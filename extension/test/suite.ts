/**
 * Extension-host tests: run inside a real VS Code (code-server here,
 * @vscode/test-electron where VS Code can be downloaded) against a real DPDK
 * primary that the outer test started. The outer test writes
 * `.memscope-e2e.json` ({ prefix, element }) into the workspace folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isAlive } from '../../native-agent/procfs';
import { agentScript } from '../src/agent';
import type { Location } from '../../common/locate';
import type { TestBufferInfo } from '../../common/protocol';
import type { SnapshotDiff } from '../../common/leaks';
import type { Suspects } from '../../common/leak-tracker';
import type { Snapshot } from '../../common/snapshot';

interface Fixture {
  prefix: string;
  /** A pointer the primary returned from rte_malloc. */
  element: string;
  /** A second primary this suite may kill. */
  victim: { prefix: string; pid: number };
}

interface ExtState {
  leaksPanel: { suspects: number | null; diff: boolean } | null;
  agentPid: number | null;
  exited: string | null;
  restarts: number;
  live: boolean;
  told: string[];
  mapStatus: string | null;
  mapOpen: boolean;
  treeVisible: boolean;
  dropped: number;
}

const stateOf = async (prefix: string) => (await vscode.commands.executeCommand('memscope.internal.state', prefix)) as ExtState;
const treeOf = async (prefix: string) => (await vscode.commands.executeCommand('memscope.internal.tree', prefix)) as string[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function waitFor<T>(what: string, fn: () => T | undefined | null | Promise<T | undefined | null>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const steps: [string, (f: Fixture) => Promise<void>][] = [];
const step = (name: string, fn: (f: Fixture) => Promise<void>) => steps.push([name, fn]);

step('the extension is active and its commands exist', async () => {
  const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'memscope');
  assert.ok(ext, 'memscope is installed');
  await ext.activate();
  const cmds = await vscode.commands.getCommands(true);
  for (const c of ['memscope.attach', 'memscope.detach', 'memscope.openMap', 'memscope.registerTestBuffer', 'memscope.locateAddress', 'memscope.takeSnapshot', 'memscope.showAgentLog']) assert.ok(cmds.includes(c), c);
});

step('attach to the primary: the snapshot has its memseg lists and heaps', async (f) => {
  const snap = (await vscode.commands.executeCommand('memscope.attach', f.prefix)) as Snapshot;
  assert.ok(snap, `attach returned a snapshot (the extension said: ${(await stateOf('*')).told.join(' | ') || 'nothing'})`);
  assert.equal(snap.target.filePrefix, f.prefix);
  assert.ok(snap.memsegLists.length >= 1);
  assert.ok(snap.heaps.some((h) => h.name === 'socket_0' && h.elementsAvailable));
  const labels = (await vscode.commands.executeCommand('memscope.internal.tree', f.prefix)) as string[];
  assert.ok(labels.includes('Memseg lists') && labels.includes('Heaps'), labels.join(', '));
  assert.ok(labels.some((l) => /^list 0 /.test(l)), labels.join(', '));
  // the tree came forward and the map opened beside it
  const st = await waitFor('the tree and the map', async () => {
    const x = await stateOf(f.prefix);
    return x.treeVisible && x.mapOpen ? x : null;
  }, 10_000);
  assert.ok(st.treeVisible && st.mapOpen);
});

let registered: TestBufferInfo | undefined;
step('Register Test Buffer adds an external list to the snapshot and the tree', async (f) => {
  registered = (await vscode.commands.executeCommand('memscope.registerTestBuffer', { prefix: f.prefix, size: '4M', pageSize: '4K', backing: 'memfd', dmabufOffset: '0', heap: null, confirm: true })) as TestBufferInfo;
  assert.ok(registered, 'registered');
  assert.equal(registered.len, 4 * 1024 * 1024);
  const snap = await waitFor('the registration in the live snapshot', async () => {
    const s = (await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix)) as Snapshot | null;
    return s?.memsegLists.find((l) => l.baseVa === registered!.va && l.registration) ? s : null;
  });
  const l = snap.memsegLists.find((x) => x.baseVa === registered!.va)!;
  assert.equal(l.external, true);
  assert.equal(l.registration!.fd, registered.fd);
  const labels = (await vscode.commands.executeCommand('memscope.internal.tree', f.prefix)) as string[];
  assert.ok(labels.some((x) => x.includes(registered!.va)), `the buffer is in the tree: ${labels.join(', ')}`);
});

step('two more agents on the target while the extension is attached (a CLI watch and a CLI snapshot, both as secondaries): each sees what the extension registered, the extension stays live', async (f) => {
  const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'memscope')!;
  const cli = agentScript(ext.extensionPath);
  const before = await stateOf(f.prefix);
  const watch = spawn(process.execPath, [cli, 'watch', '--file-prefix', f.prefix, '--via', 'secondary', '--interval', '100', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  try {
    // read all it writes: a full pipe would block it (stdout to a pipe is synchronous)
    let first = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (first.length < 4 << 20) first += d;
    });
    watch.stderr.resume();
    await waitFor('the CLI watch attached', () => (first.includes('\n') ? true : null));
    const w = JSON.parse(first.slice(0, first.indexOf('\n'))) as { snapshot: Snapshot };
    assert.ok(w.snapshot.memsegLists.some((l) => l.external && l.baseVa === registered!.va), 'the watch sees the registration');
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, [cli, 'snapshot', '--file-prefix', f.prefix, '--via', 'secondary', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let o = '';
      let e = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (o += d));
      c.stderr.setEncoding('utf8').on('data', (d: string) => (e += d));
      const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
      c.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(o);
        else reject(new Error(`memscope snapshot exited ${code}: ${e}`));
      });
    });
    const snap = JSON.parse(out) as Snapshot;
    assert.ok(snap.memsegLists.some((l) => l.external && l.baseVa === registered!.va), 'the snapshot sees the registration');
    const after = await stateOf(f.prefix);
    assert.equal(after.live, true, 'the extension is still live');
    assert.equal(after.agentPid, before.agentPid, 'with the same agent');
    assert.equal(after.exited, null);
  } finally {
    try {
      process.kill(-watch.pid!, 'SIGINT');
    } catch {
      /* ended */
    }
  }
  await waitFor('the CLI watch ended', () => (watch.exitCode !== null || watch.signalCode !== null ? true : null), 10_000);
});

step('Locate Address finds the known element', async (f) => {
  const loc = (await vscode.commands.executeCommand('memscope.locateAddress', { prefix: f.prefix, address: f.element })) as Location;
  assert.ok(loc?.element, `found an element for ${f.element}`);
  assert.equal(BigInt(loc.element.addr) + 128n, BigInt(f.element), 'the element whose data starts at the pointer');
  assert.equal(loc.element.state, 'busy');
  assert.equal(loc.heap?.name, 'socket_0');
  assert.ok(loc.list && !loc.list.external);
});

step('Open Memory Map opens a webview panel', async (f) => {
  const prefix = (await vscode.commands.executeCommand('memscope.openMap', f.prefix)) as string;
  assert.equal(prefix, f.prefix);
});

step('Show Leaks: the Leaks panel opens and the agent names the 1 KiB leaks the primary makes (and nothing else)', async (f) => {
  const cfg = vscode.workspace.getConfiguration('memscope');
  await cfg.update('leaks.minAgeSeconds', 1, vscode.ConfigurationTarget.Global);
  try {
    const suspects = await waitFor('suspected leaks', async () => {
      const s = (await vscode.commands.executeCommand('memscope.showLeaks', f.prefix)) as Suspects | undefined;
      return s && s.elements.length >= 3 ? s : null;
    }, 30_000);
    // the outer test runs the demo primary's steady scenario: 1 KiB leaks among 1 KiB churn
    const lens = new Set(suspects.elements.map((e) => e.len));
    assert.equal(lens.size, 1, `one size of leak: ${[...lens].join(', ')}`);
    assert.ok([...lens][0]! >= 1024 && [...lens][0]! <= 1024 + 256, `a 1 KiB allocation with its header: ${[...lens][0]}`);
    assert.ok(suspects.elements.every((e) => e.owner === null && e.ageMs >= 1000));
    await waitFor('the panel to show suspects', async () => ((await stateOf(f.prefix)).leaksPanel?.suspects ?? 0) > 0, 15_000);
  } finally {
    await cfg.update('leaks.minAgeSeconds', undefined, vscode.ConfigurationTarget.Global);
  }
});

let saved: { id: string; file: string; name: string }[] = [];
step('Take Snapshot (named) twice, Compare Snapshots: the leaks in between are added; Export Diff as Markdown and CSV', async (f) => {
  saved = [];
  for (const name of ['before leaks', 'after leaks']) {
    saved.push((await vscode.commands.executeCommand('memscope.takeSnapshot', { prefix: f.prefix, name })) as { id: string; file: string; name: string });
    await sleep(600);
  }
  assert.equal(saved.length, 2);
  assert.ok(saved.every((x) => x && fs.existsSync(x.file)));
  const d = (await vscode.commands.executeCommand('memscope.compareSnapshots', { a: saved[1]!.id, b: saved[0]!.id })) as SnapshotDiff;
  assert.equal(d.from.name, 'before leaks', 'older first, whatever the order picked');
  assert.equal(d.to.name, 'after leaks');
  const heap = d.heaps.find((h) => h.name === 'socket_0')!;
  assert.ok(heap.added.filter((e) => e.owner === null).length >= 20, `the leaks of 600 ms are added (${heap.added.length})`);
  assert.ok((await stateOf(f.prefix)).leaksPanel?.diff, 'the diff is in the Leaks panel');
  const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  const md = (await vscode.commands.executeCommand('memscope.exportDiff', { format: 'markdown', path: path.join(folder, 'diff.md') })) as string;
  assert.match(fs.readFileSync(md, 'utf8'), /^# Memscope diff\n\nFrom before leaks /);
  const csv = (await vscode.commands.executeCommand('memscope.exportDiff', { format: 'csv', path: path.join(folder, 'diff.csv') })) as string;
  const rows = fs.readFileSync(csv, 'utf8').trim().split('\r\n');
  assert.equal(rows[0], 'kind,heap_or_pool,change,address,length,owner_or_class,count_delta,bytes_delta');
  assert.ok(rows.filter((r) => r.startsWith('element,socket_0,added,')).length >= 20);
});

step('Import Snapshot: a valid file is kept under its name; a broken one is refused in one sentence', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-import-'));
  try {
    const copy = path.join(dir, 'copied.memscope.json');
    fs.copyFileSync(saved[0]!.file, copy);
    const imported = (await vscode.commands.executeCommand('memscope.importSnapshot', { path: copy })) as { name: string; id: string };
    assert.equal(imported.name, 'before leaks');
    const bad = path.join(dir, 'bad.memscope.json');
    fs.writeFileSync(bad, JSON.stringify({ schema: 'memscope.snapshot/1', takenAt: 'x' }));
    assert.equal(await vscode.commands.executeCommand('memscope.importSnapshot', { path: bad }), undefined);
    const told = (await stateOf('*')).told;
    assert.match(told[told.length - 1] ?? '', /is not a valid Memscope snapshot .*: pass a file written by `memscope snapshot --out` or Export Snapshot\.$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

step('Unregister Test Buffer and Detach leave nothing behind', async (f) => {
  assert.equal(await vscode.commands.executeCommand('memscope.unregisterTestBuffer', { prefix: f.prefix, va: registered!.va }), true);
  const s = (await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix)) as Snapshot;
  assert.equal(s.memsegLists.some((l) => l.baseVa === registered!.va), false);
  await vscode.commands.executeCommand('memscope.detach', f.prefix);
  assert.equal(await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix), null);
});

step('a target that dies: tree and map say "target exited", its agent ends, one message', async (f) => {
  const snap = (await vscode.commands.executeCommand('memscope.attach', f.victim.prefix)) as Snapshot;
  assert.equal(snap?.target.pid, f.victim.pid);
  await vscode.commands.executeCommand('memscope.openMap', f.victim.prefix);
  const { agentPid } = await stateOf(f.victim.prefix);
  assert.ok(agentPid && isAlive(agentPid), 'its agent runs');
  process.kill(f.victim.pid, 'SIGKILL');
  await waitFor('"target exited" in the tree', async () => (await treeOf(f.victim.prefix))[0]?.includes('target exited'));
  await waitFor('the agent to end', () => !isAlive(agentPid), 10_000);
  await sleep(3000); // time for a storm, if there were one
  const st = await stateOf(f.victim.prefix);
  assert.equal(st.told.length, 1, `one message, got: ${st.told.join(' | ')}`);
  assert.match(st.told[0]!, /exited|died|gone|not running/);
  assert.match(st.mapStatus ?? '', /^target exited/);
  assert.equal(st.restarts, 0, 'a dead target is not restarted');
  await vscode.commands.executeCommand('memscope.detach', f.victim.prefix);
});

step('an agent that crashes is restarted and re-attached, the user told; past the bound it is left stopped', async (f) => {
  await vscode.commands.executeCommand('memscope.attach', f.prefix);
  for (let n = 1; n <= 3; n++) {
    const before = await stateOf(f.prefix);
    assert.ok(before.live && before.agentPid && isAlive(before.agentPid));
    process.kill(before.agentPid, 'SIGKILL');
    const after = await waitFor(`restart ${n}`, async () => {
      const st = await stateOf(f.prefix);
      return st.live && st.agentPid && st.agentPid !== before.agentPid && st.restarts === n ? st : null;
    }, 30_000).catch(async (e: Error) => {
      throw new Error(`${e.message}; the extension's state: ${JSON.stringify(await stateOf(f.prefix))}`);
    });
    assert.equal(after.exited, null);
    assert.ok(after.told.some((m) => m.includes(`restarting it (${n}/3)`)), after.told.join(' | '));
    // the restarted agent delivers live snapshots again
    const fresh = (await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix)) as Snapshot;
    assert.equal(fresh.target.filePrefix, f.prefix);
  }
  const last = (await stateOf(f.prefix)).agentPid!;
  process.kill(last, 'SIGKILL');
  const st = await waitFor('the agent left stopped', async () => {
    const s = await stateOf(f.prefix);
    return s.exited ? s : null;
  }, 20_000);
  assert.match(st.exited!, /stopped 4 times/);
  assert.equal(st.restarts, 3);
  assert.ok((await treeOf(f.prefix))[0]?.includes('target exited'));
  await vscode.commands.executeCommand('memscope.detach', f.prefix);
});

step('a launch prefix whose sudo wants a password: one sentence on how to fix it', async (f) => {
  const cfg = vscode.workspace.getConfiguration('memscope');
  // as root, `sudo -u nobody sudo -n` is a real sudo that needs a password
  await cfg.update('agent.launchPrefix', ['sudo', '-n', '-u', 'nobody', 'sudo', '-n'], vscode.ConfigurationTarget.Global);
  try {
    const r = await vscode.commands.executeCommand('memscope.attach', f.prefix);
    assert.equal(r, undefined, 'not attached');
    const told = (await stateOf('*')).told;
    const msg = told[told.length - 1] ?? '';
    assert.match(msg, /needs a password: allow the agent without one .*NOPASSWD.*, or run VS Code's server as root\.$/);
    assert.equal(msg.split('\n').length, 1);
    assert.equal(await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix), null);
  } finally {
    await cfg.update('agent.launchPrefix', undefined, vscode.ConfigurationTarget.Global);
  }
});

step('a malformed delta from a deliberately broken agent is dropped and logged; the map catches up from a fresh snapshot', async (f) => {
  const cfg = vscode.workspace.getConfiguration('memscope');
  const ext = vscode.extensions.all.find((e) => fs.existsSync(path.join(e.extensionPath, 'out', 'test', 'helpers', 'broken-agent.js')));
  assert.ok(ext, 'the checkout carries test/helpers/broken-agent.ts, built');
  // the agent's 2nd delta arrives with its params broken (test/helpers/broken-agent.ts)
  await cfg.update('agent.launchPrefix', [process.execPath, path.join(ext.extensionPath, 'out', 'test', 'helpers', 'broken-agent.js')], vscode.ConfigurationTarget.Global);
  try {
    const snap = (await vscode.commands.executeCommand('memscope.attach', f.prefix)) as Snapshot;
    assert.ok(snap, 'attached through the broken agent');
    const st = await waitFor('the broken delta dropped', async () => {
      const x = await stateOf(f.prefix);
      return x.dropped > 0 ? x : null;
    }, 30_000);
    assert.equal(st.dropped, 1, 'one message dropped');
    assert.ok(st.live && !st.exited, 'the agent stays attached');
    // deltas flow again after the fresh snapshot: the live snapshot moves on
    const before = ((await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix)) as Snapshot).takenAt;
    await waitFor('a later delta applied', async () => (((await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix)) as Snapshot).takenAt !== before ? true : null), 15_000);
  } finally {
    await vscode.commands.executeCommand('memscope.detach', f.prefix);
    await cfg.update('agent.launchPrefix', undefined, vscode.ConfigurationTarget.Global);
  }
});

export async function run(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!folder) throw new Error('the tests need a workspace folder holding .memscope-e2e.json');
  const f = JSON.parse(fs.readFileSync(path.join(folder, '.memscope-e2e.json'), 'utf8')) as Fixture;
  let failed = 0;
  for (const [name, fn] of steps) {
    const t0 = Date.now();
    try {
      await fn(f);
      console.log(`ok - ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}: ${(e as Error).stack ?? e}`);
      break; // later steps build on earlier ones
    }
  }
  console.log(`${steps.length - failed} passed, ${failed} failed`);
  if (failed) throw new Error(`${failed} extension-host test(s) failed`);
}
