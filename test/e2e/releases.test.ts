// The extension in a real VS Code (code-server + Chromium) against the demo
// primary of each other release, built against its libdpdk-dev and run in
// its root (Debian 13's 24.11, sid's 25.11): the same extension-host suite as
// extension.test.ts (attach, tree, register a test buffer, locate an element,
// the map, leaks, snapshots, unregister, detach), then a look at the
// workbench: the quick pick names the root and the release's table, and the
// map's header says which table the picture was read with.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { snapshotOf } from '../helpers/cli';
import { DemoPrimary, procInfo, runtimeDirs, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';
import { mountRoot, releaseRoot, whyNoRoot } from '../helpers/releases';
import { describePixels, firstViewProblems, lanePixels } from '../helpers/map-pixels';
import { openWorkbench, runCommand, screenshot, waitForFrame, webviewFrame } from './browser';
import { missingPrerequisite, payloadUrl, startCodeServer } from './code-server';
import { runSuiteWhileLeaking } from './run-extension-tests';

const repo = path.join(__dirname, '..', '..', '..');
const missing = missingPrerequisite();
const built = fs.existsSync(path.join(repo, 'out', 'extension', 'extension.js')) && fs.existsSync(path.join(repo, 'out', 'webview', 'main.js'));
const base = [
  loudSkip(whyNoDpdk({ hugepages: 300 }), 'DPDK'),
  loudSkip(missing && `code-server or Chromium is not installed (${missing} is missing): run node scripts/setup-e2e.mjs`, 'code-server and Chromium'),
  loudSkip(!built && 'the extension is not built: run node scripts/build-extension.mjs and node scripts/build-webview.mjs', 'the built extension'),
].find((why) => why !== undefined);
after(() => stopAll());

for (const name of (process.env.MEMSCOPE_E2E_RELEASES ?? 'trixie,sid').split(',')) {
  const root = releaseRoot(name);
  const skip = base ?? loudSkip(whyNoRoot(root) ?? (fs.existsSync(path.join(root.dir, 'opt/memscope/memscope-demo-primary')) ? undefined : `the demo primary is not built in ${root.dir}.`), `the DPDK ${root.release} root`);
  describe(`the extension against DPDK ${root.release} (${name}'s demo primary, in its root)`, { skip }, () => {
    test('the extension-host suite passes; the quick pick and the map say which DPDK, which table, which root; the target is clean afterwards', { timeout: 10 * 60_000 }, async (t) => {
      const unmount = mountRoot(root);
      const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-ws-'));
      let p: DemoPrimary | null = null;
      try {
        p = await DemoPrimary.start({ root, memMb: 128 });
        await p.command('fill 500 256 e2e_table');
        await p.command('memzone_reserve e2e_zone 65536');
        await p.command('mempool_create e2e_pool 1023 512 32');
        await p.command('mempool_get e2e_pool 100');
        const m = await p.command('malloc e2e_known 12345');
        // the suite kills a second primary while attached: one of the host's
        const victim = await DemoPrimary.start({ memMb: 64 });
        fs.writeFileSync(path.join(ws, '.memscope-e2e.json'), JSON.stringify({ prefix: p.prefix, element: m.ptr, victim: { prefix: victim.prefix, pid: victim.pid } }));
        const r = await runSuiteWhileLeaking(repo, ws, p);
        t.diagnostic(`code-server ${r.codeServerStartMs} ms, workbench ${r.workbenchReadyMs} ms, suite ${r.testRunMs} ms`);
        assert.equal(r.exitCode, 0, 'the extension-host suite passed (its output is above)');
        const s = await snapshotOf(p.prefix);
        assert.equal(s.memsegLists.filter((l) => l.external).length, 0, 'no test buffer left behind');
        assert.equal((await procInfo(p.prefix, 20000, root)).code, 0, 'that release\u2019s dpdk-proc-info -m reads it after detach');

        // the workbench: F1 → Attach shows the root and the table; the map's header the table it was read with
        const cs = await startCodeServer({ folder: ws });
        const wb = await openWorkbench(payloadUrl(cs.base, ws, { extensionDevelopmentPath: repo }), { timeoutMs: 120_000 });
        try {
          const { page } = wb;
          await runCommand(page, 'DPDK Memscope: Attach to DPDK Process');
          const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: p.prefix }).first();
          await pick.waitFor({ timeout: 60_000 });
          const row = (await pick.innerText()).replace(/\s+/g, ' ');
          assert.ok(row.includes(`chroot ${root.dir}: /run/dpdk/${p.prefix}`), row);
          assert.ok(row.includes(`(${root.release} table)`), row);
          await pick.click();
          await runCommand(page, 'DPDK Memscope: Open Memory Map');
          const frame = webviewFrame(page);
          await frame.locator('.lane-header[data-kind="memseg"]').first().waitFor({ timeout: 60_000 });
          const meta = await frame.locator('#target-meta').innerText();
          assert.match(meta, new RegExp(`^DPDK ${root.release.replace('.', '\\.')}\\.\\d+ \\(${root.release.replace('.', '\\.')} table, verified at attach\\) · chroot ${root.dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} · `));
          // that release's primary at first open: every lane with memory drawn, free space as free
          const map = await waitForFrame(page, () => typeof (window as { memscopeMap?: unknown }).memscopeMap === 'object', 30_000);
          await page.waitForTimeout(800);
          const px = await lanePixels(map);
          assert.deepEqual(firstViewProblems(px), [], describePixels(px));
        } catch (e) {
          // what the agent said, for the failure report
          await runCommand(wb.page, 'DPDK Memscope: Show Agent Log').catch(() => undefined);
          await wb.page.waitForTimeout(1500);
          t.diagnostic(`agent log: ${(await wb.page.locator('.part.panel .monaco-editor .view-lines').first().innerText().catch(() => '?')).slice(-3000)}`);
          fs.mkdirSync(path.join(repo, 'out', 'screenshots'), { recursive: true });
          await screenshot(wb.page, path.join(repo, 'out', 'screenshots', `workbench-${name}-failure.png`)).catch(() => undefined);
          throw e;
        } finally {
          await wb.close();
          await cs.stop();
        }
      } finally {
        const dirs = p ? runtimeDirs(p.prefix) : [];
        await stopAll();
        unmount();
        fs.rmSync(ws, { recursive: true, force: true });
        for (const d of dirs) assert.equal(fs.existsSync(d), false, `${d} is left behind`);
      }
    });
  });
}
