// The extension in a real VS Code (code-server + Chromium here; the same
// extension-host suite runs under @vscode/test-electron where VS Code can be
// downloaded) against a real demo primary: the suite (extension/test/suite.ts)
// attaches, registers a test buffer through the command, locates a known
// element and detaches, leaving nothing registered. A UI test drives the
// workbench — F1 → "DPDK Memscope: Attach…", "Open Memory Map" — and saves
// the screenshots the README shows.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { snapshotOf } from '../helpers/cli';
import { DemoPrimary, procInfo, stopAll, whyNoDpdk } from '../helpers/primaries';
import { openWorkbench, runCommand, screenshot, webviewFrame } from './browser';
import { missingPrerequisite, payloadUrl, startCodeServer } from './code-server';
import { runExtensionTestsDetailed } from './run-extension-tests';

const root = path.join(__dirname, '..', '..', '..');
const missing = missingPrerequisite();
const built = fs.existsSync(path.join(root, 'out', 'extension', 'extension.js')) && fs.existsSync(path.join(root, 'out', 'webview', 'main.js'));
const skip =
  whyNoDpdk({ cc: true, hugepages: 200 }) ??
  (missing ? `code-server or Chromium is not installed (${missing} is missing): run node scripts/setup-e2e.mjs` : undefined) ??
  (built ? undefined : 'the extension is not built: run node scripts/build-extension.mjs and node scripts/build-webview.mjs');
let p: DemoPrimary;
let ws: string;

before(async () => {
  if (skip) return;
  p = await DemoPrimary.start({ memMb: 128 });
  await p.command('fill 500 256 e2e_table');
  await p.command('memzone_reserve e2e_zone 65536');
  await p.command('mempool_create e2e_pool 1023 512 32');
  await p.command('mempool_get e2e_pool 100');
  const m = await p.command('malloc e2e_known 12345');
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-ws-'));
  fs.writeFileSync(path.join(ws, '.memscope-e2e.json'), JSON.stringify({ prefix: p.prefix, element: m.ptr }));
});

after(async () => {
  await stopAll();
  if (ws) fs.rmSync(ws, { recursive: true, force: true });
});

test('extension-host suite in a real VS Code against a real primary; the target is clean afterwards', { skip, timeout: 10 * 60_000 }, async (t) => {
  const r = await runExtensionTestsDetailed({
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out', 'extension', 'test', 'index.js'),
    folder: ws,
    timeoutMs: 5 * 60_000,
  });
  t.diagnostic(`code-server ${r.codeServerStartMs} ms, workbench ${r.workbenchReadyMs} ms, suite ${r.testRunMs} ms`);
  assert.equal(r.exitCode, 0, 'the extension-host suite passed (its output is above)');
  const s = await snapshotOf(p.prefix);
  assert.equal(s.memsegLists.filter((l) => l.external).length, 0, 'no test buffer left behind');
  const info = await procInfo(p.prefix);
  assert.equal(info.code, 0, `dpdk-proc-info -m after detach: ${info.raw.slice(-300)}`);
});

test('UI: F1 → Attach → Open Memory Map shows the primary\u2019s lanes (screenshots for the README)', { skip, timeout: 10 * 60_000 }, async () => {
  const ext = await p.command('extmem e2e_ext 8388608 memfd');
  await p.command('malloc on_ext 4096 0 heap:e2e_ext');
  const cs = await startCodeServer({ folder: ws });
  const wb = await openWorkbench(payloadUrl(cs.base, ws, { extensionDevelopmentPath: root }), { timeoutMs: 120_000 });
  const dir = path.join(root, 'out', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  try {
    const { page } = wb;
    await runCommand(page, 'DPDK Memscope: Attach to DPDK Process');
    const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: p.prefix }).first();
    await pick.waitFor({ timeout: 60_000 });
    await pick.click();
    await runCommand(page, 'DPDK Memscope: Open Memory Map');
    const frame = webviewFrame(page);
    await frame.locator('.lane-header[data-kind="memseg"]').first().waitFor({ timeout: 60_000 });
    assert.ok((await frame.locator('.lane-header[data-kind="memseg"]').count()) >= 2, 'internal and external memseg lists');
    assert.ok((await frame.locator('.lane-header[data-kind="heap"]').count()) >= 2, 'socket_0 and the external heap');
    await page.waitForTimeout(1000);
    await screenshot(page, path.join(dir, 'workbench-map.png'));
  } catch (e) {
    await screenshot(wb.page, path.join(dir, 'workbench-failure.png')).catch(() => undefined);
    throw e;
  } finally {
    await wb.close();
    await cs.stop();
    await p.command('extmem_remove e2e_ext').catch(() => undefined);
    void ext;
  }
});
