/**
 * Extension-host tests: run inside a real VS Code (code-server here,
 * @vscode/test-electron where VS Code can be downloaded) against a real DPDK
 * primary that the outer test started. The outer test writes
 * `.memscope-e2e.json` ({ prefix, element }) into the workspace folder.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Location } from '../../common/locate';
import type { TestBufferInfo } from '../../common/protocol';
import type { Snapshot } from '../../common/snapshot';

interface Fixture {
  prefix: string;
  /** A pointer the primary returned from rte_malloc. */
  element: string;
}

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
  assert.ok(snap, 'attach returned a snapshot');
  assert.equal(snap.target.filePrefix, f.prefix);
  assert.ok(snap.memsegLists.length >= 1);
  assert.ok(snap.heaps.some((h) => h.name === 'socket_0' && h.elementsAvailable));
  const labels = (await vscode.commands.executeCommand('memscope.internal.tree', f.prefix)) as string[];
  assert.ok(labels.includes('Memseg lists') && labels.includes('Heaps'), labels.join(', '));
  assert.ok(labels.some((l) => /^list 0 /.test(l)), labels.join(', '));
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

step('Unregister Test Buffer and Detach leave nothing behind', async (f) => {
  assert.equal(await vscode.commands.executeCommand('memscope.unregisterTestBuffer', { prefix: f.prefix, va: registered!.va }), true);
  const s = (await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix)) as Snapshot;
  assert.equal(s.memsegLists.some((l) => l.baseVa === registered!.va), false);
  await vscode.commands.executeCommand('memscope.detach', f.prefix);
  assert.equal(await vscode.commands.executeCommand('memscope.internal.snapshot', f.prefix), null);
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
