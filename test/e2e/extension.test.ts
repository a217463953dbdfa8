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
import { describePixels, firstViewProblems, lanePixels } from '../helpers/map-pixels';
import { openWorkbench, runCommand, screenshot, waitForFrame, webviewFrame } from './browser';
import { missingPrerequisite, payloadUrl, startCodeServer } from './code-server';
import { loudSkip } from '../helpers/prereq';
import { runSuiteWhileLeaking } from './run-extension-tests';

const root = path.join(__dirname, '..', '..', '..');
const missing = missingPrerequisite();
const built = fs.existsSync(path.join(root, 'out', 'extension', 'extension.js')) && fs.existsSync(path.join(root, 'out', 'webview', 'main.js'));
const skip = [
  loudSkip(whyNoDpdk({ cc: true, hugepages: 200 }), 'DPDK'),
  loudSkip(missing && `code-server or Chromium is not installed (${missing} is missing): run node scripts/setup-e2e.mjs`, 'code-server and Chromium'),
  loudSkip(!built && 'the extension is not built: run node scripts/build-extension.mjs and node scripts/build-webview.mjs', 'the built extension'),
].find((why) => why !== undefined);
let p: DemoPrimary;
let victim: DemoPrimary;
let ws: string;

before(async () => {
  if (skip) return;
  p = await DemoPrimary.start({ memMb: 128 });
  await p.command('fill 500 256 e2e_table');
  await p.command('memzone_reserve e2e_zone 65536');
  await p.command('mempool_create e2e_pool 1023 512 32');
  await p.command('mempool_get e2e_pool 100');
  const m = await p.command('malloc e2e_known 12345');
  // a second primary the suite kills while attached
  victim = await DemoPrimary.start({ memMb: 64 });
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-ws-'));
  fs.writeFileSync(path.join(ws, '.memscope-e2e.json'), JSON.stringify({ prefix: p.prefix, element: m.ptr, victim: { prefix: victim.prefix, pid: victim.pid } }));
});

after(async () => {
  await stopAll();
  if (ws) fs.rmSync(ws, { recursive: true, force: true });
});

/** The primary still allocates and frees (after its agents were killed under it). */
async function stillServes(primary: DemoPrimary): Promise<void> {
  const m = await primary.command('malloc after_e2e 4096', 2000);
  await primary.command(`free ${m.ptr}`, 2000);
}

test('extension-host suite in a real VS Code against a real primary; the target is clean afterwards', { skip, timeout: 10 * 60_000 }, async (t) => {
  // 1 KiB leaks among 1 KiB churn for the Leaks steps, stopped and freed afterwards
  const r = await runSuiteWhileLeaking(root, ws, p);
  t.diagnostic(`code-server ${r.codeServerStartMs} ms, workbench ${r.workbenchReadyMs} ms, suite ${r.testRunMs} ms`);
  assert.equal(r.exitCode, 0, 'the extension-host suite passed (its output is above)');
  const s = await snapshotOf(p.prefix);
  assert.equal(s.memsegLists.filter((l) => l.external).length, 0, 'no test buffer left behind');
  const info = await procInfo(p.prefix);
  assert.equal(info.code, 0, `dpdk-proc-info -m after detach: ${info.raw.slice(-300)}`);
  await stillServes(p);
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
    // attach brings the Memscope tree forward and opens the map beside it, no other command
    await page.locator('.pane-body .monaco-list-row', { hasText: 'Memseg lists' }).first().waitFor({ timeout: 60_000 });
    const frame = webviewFrame(page);
    await frame.locator('.lane-header[data-kind="memseg"]').first().waitFor({ timeout: 60_000 });
    assert.ok((await frame.locator('.lane-header[data-kind="memseg"]').count()) >= 2, 'internal and external memseg lists');
    assert.ok((await frame.locator('.lane-header[data-kind="heap"]').count()) >= 2, 'socket_0 and the external heap');
    await page.waitForTimeout(1000);
    // the first view, from its pixels: every lane that holds memory shows it, the mostly-free heaps read free
    const map = await waitForFrame(page, () => typeof (window as { memscopeMap?: unknown }).memscopeMap === 'object', 30_000);
    const first = await lanePixels(map);
    assert.deepEqual(firstViewProblems(first), [], describePixels(first));
    assert.equal((await map.evaluate(() => (window as unknown as { memscopeMap: { stats(): { layout: string; k: number } } }).memscopeMap.stats())).k, 1, 'no zoom');
    // the map follows the workbench theme (VS Code marks the page's body): the README's screenshots, at first open
    for (const [theme, bodyClass, file] of [
      ['Light Modern', 'vscode-light', 'workbench-map-light.png'],
      ['Dark High Contrast', 'vscode-high-contrast', 'workbench-map-hc.png'],
      ['Dark Modern', 'vscode-dark', 'workbench-map.png'],
    ] as const) {
      await runCommand(page, 'Preferences: Color Theme');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.fill(theme);
      await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: theme }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press('Enter');
      await frame.locator(`body.${bodyClass}`).waitFor({ timeout: 20_000 });
      await page.waitForTimeout(800);
      const px = await lanePixels(map);
      assert.deepEqual(firstViewProblems(px), [], `${theme}:\n${describePixels(px)}`);
      await screenshot(page, path.join(dir, file));
    }

    // hostile messages through VS Code's own webview channel (the host frame's
    // post function, which the page's acquireVsCodeApi wraps): the extension
    // drops each one and logs it
    const host = page.frames().find((f) => f.url().includes('/webview/browser/pre/index.html'));
    assert.ok(host, 'the webview host frame');
    const hostile = [{ type: 'bogus' }, { type: 'select', address: 42 }, { type: 'log', level: 'panic', message: 'x' }, 'a string', null, { type: 'ready', extra: true }];
    for (const message of hostile) await host.evaluate((m) => (window as unknown as { __vscode_post_message__: (c: string, d: unknown) => void }).__vscode_post_message__('onmessage', { message: m }), message);
    await runCommand(page, 'DPDK Memscope: Show Agent Log');
    const logLines = page.locator('.part.panel .monaco-editor .view-lines');
    const theLog = logLines.filter({ hasText: 'dropped a malformed message from the webview: {"type":"bogus"}' }).first();
    await theLog.waitFor({ timeout: 20_000 });
    await page.waitForTimeout(500);
    const logText = (await theLog.innerText()).replace(/\u00a0/g, ' '); // the editor renders spaces as no-break spaces
    const dropped = logText.split('\n').filter((l) => l.includes('dropped a malformed message'));
    assert.equal(dropped.length, hostile.length, `each hostile message dropped and logged once:\n${dropped.join('\n')}`);
    // and the map still works
    assert.ok((await frame.locator('.lane-header[data-kind="memseg"]').count()) >= 2, 'the map still shows its lanes');
    await runCommand(page, 'View: Toggle Panel Visibility');

    // the Leaks panel beside it, with the timeline the agent kept since attach,
    // while the primary leaks (its mixed-size scenario) for a few seconds
    await p.command('scenario start mixed 21 600000');
    await runCommand(page, 'DPDK Memscope: Show Leaks');
    const leaks = await waitForFrame(page, () => typeof (window as { memscopeLeaks?: unknown }).memscopeLeaks === 'object', 60_000);
    await leaks.waitForFunction(() => (window as unknown as { memscopeLeaks: { charts(): { points: number }[] } }).memscopeLeaks.charts().some((c) => c.points > 1), undefined, { timeout: 30_000 });
    await page.waitForTimeout(6000);
    await screenshot(page, path.join(dir, 'workbench-leaks.png'));
  } catch (e) {
    await screenshot(wb.page, path.join(dir, 'workbench-failure.png')).catch(() => undefined);
    throw e;
  } finally {
    await wb.close();
    await cs.stop();
    await p.command('scenario stop', 10_000).catch(() => undefined);
    await p.command('scenario clear', 10_000).catch(() => undefined);
    await p.command('extmem_remove e2e_ext').catch(() => undefined);
    void ext;
  }
});
