// `npm run demo`, the project's main job, end to end: the script starts the
// demo primary with an external heap and a registered test buffer, starts
// code-server with the extension attached (no `code` on PATH here), and
// prints the URL; that URL shows the demo primary's map in a real workbench;
// Ctrl-C then leaves nothing behind (primary, runtime dir, hugepage files,
// holder, code-server).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isAlive } from '../../native-agent/procfs';
import { whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';
import { describePixels, firstViewProblems, lanePixels, MOSTLY_FREE } from '../helpers/map-pixels';
import { openWorkbench, screenshot, waitForFrame, webviewFrame } from './browser';
import { missingPrerequisite } from './code-server';

const root = path.join(__dirname, '..', '..', '..');
const missing = missingPrerequisite();
const skip = [
  loudSkip(whyNoDpdk({ cc: true, hugepages: 300 }), 'DPDK'),
  loudSkip(missing && `code-server or Chromium is not installed (${missing} is missing): run node scripts/setup-e2e.mjs`, 'code-server and Chromium'),
].find((why) => why !== undefined);

test('npm run demo: the printed URL shows the demo primary attached; Ctrl-C leaves nothing behind', { skip, timeout: 8 * 60_000 }, async () => {
  const prefix = `ms-demo-${process.pid}`;
  // no `code` on PATH, so the demo takes code-server
  const env = { ...process.env, PATH: (process.env.PATH ?? '').split(':').filter((d) => !fs.existsSync(path.join(d, 'code'))).join(':') };
  const demo = spawn(process.execPath, [path.join(root, 'scripts', 'demo.mjs'), '--prefix', prefix], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  demo.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  demo.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
  let primaryPid = 0;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the demo printed no URL within 4 minutes:\n${out.slice(-2000)}`)), 4 * 60_000);
      const look = () => {
        const m = /with the extension attached to the demo primary: (http\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      };
      demo.stdout!.on('data', look);
      void exited.then((code) => reject(new Error(`the demo ended (exit ${code}) before printing a URL:\n${out.slice(-2000)}`)));
    });
    primaryPid = Number(/demo primary running: pid (\d+)/.exec(out)?.[1]);
    assert.ok(primaryPid > 0 && isAlive(primaryPid));
    assert.match(out, /registered .* test buffer|registered/i, 'the demo registered a test buffer');
    const wb = await openWorkbench(url, { timeoutMs: 120_000, forwardConsole: false });
    try {
      const frame = webviewFrame(wb.page);
      await frame.locator('.lane-header[data-kind="memseg"]').first().waitFor({ timeout: 90_000 });
      const headers = await frame.locator('.lane-header').allInnerTexts();
      const text = headers.join('\n');
      assert.match(text, /heap demo_ext/, `the external heap has a lane:\n${text}`);
      assert.ok(headers.filter((h) => /memfd|udmabuf|dma-heap|hugetlb/.test(h)).length >= 2, `the external memory and the test buffer show their backing:\n${text}`);
      assert.match(await frame.locator('body').innerText(), new RegExp(`${prefix} · pid ${primaryPid}`));
      // what the user sees without a click: the tree in front, and on the map every memseg list's
      // used segments, both heaps with their free space, both external lists (from the pixels)
      await wb.page.locator('.pane-body .monaco-list-row', { hasText: 'Memseg lists' }).first().waitFor({ timeout: 30_000 });
      const map = await waitForFrame(wb.page, () => typeof (window as { memscopeMap?: unknown }).memscopeMap === 'object', 30_000);
      await wb.page.waitForTimeout(1000);
      const px = await lanePixels(map);
      assert.deepEqual(firstViewProblems(px), [], describePixels(px));
      const shown = px.filter((l) => l.items > 0 && l.drawn >= 3);
      assert.ok(shown.filter((l) => l.kind === 'heap').length >= 2, `both heaps drawn:\n${describePixels(px)}`);
      assert.ok(shown.filter((l) => l.kind === 'memseg' && headers.some((h) => h.startsWith(l.title) && /memfd|udmabuf|dma-heap|hugetlb/.test(h))).length >= 2, `both external lists drawn:\n${describePixels(px)}`);
      assert.ok(px.some((l) => l.title === 'heap socket_0' && (l.freeShare ?? 0) >= MOSTLY_FREE), `socket_0 is mostly free, so its free space is checked:\n${describePixels(px)}`);
      await screenshot(wb.page, path.join(root, 'out', 'screenshots', 'demo.png'));
    } finally {
      await wb.close();
    }
    process.kill(demo.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 90_000))]);
    assert.equal(code, 0, `the demo ended cleanly on Ctrl-C:\n${out.slice(-1500)}`);
    assert.equal(isAlive(primaryPid), false, 'the primary is gone');
    assert.equal(fs.existsSync(`/var/run/dpdk/${prefix}`), false, 'its runtime dir is gone');
    assert.deepEqual(fs.readdirSync('/dev/hugepages').filter((f) => f.startsWith(prefix)), [], 'its hugepage files are gone');
  } finally {
    if (demo.exitCode === null && demo.signalCode === null) {
      // something above failed: let the demo clean up, then end its own group
      try {
        process.kill(demo.pid!, 'SIGINT');
      } catch {
        /* ended */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
      try {
        process.kill(-demo.pid!, 'SIGKILL');
      } catch {
        /* ended */
      }
    }
    if (primaryPid && isAlive(primaryPid)) process.kill(primaryPid, 'SIGKILL');
    const { cleanupPrefix } = await import('../helpers/primaries');
    cleanupPrefix(prefix);
  }
});
