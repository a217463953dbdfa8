// Proves the real-VS Code e2e harness (code-server + Chromium, see
// shared/docs/real-vscode-e2e.md) on a throwaway fixture extension,
// test/fixtures/hello-extension:
//   - its extension-host tests run inside VS Code and report exit code 0, and
//     a deliberately failing variant reports a non-zero one;
//   - in the workbench UI, F1 → "Hello Fixture: Say Hello" shows its
//     notification (screenshot: out/screenshots/fixture-hello.png);
//   - packaged as a .vsix and installed (installVsix), without the smoke-test
//     driver, the same command shows a real toast (out/screenshots/fixture-hello-toast.png).
// Skipped, with the reason printed, only when code-server/Chromium are missing
// and scripts/setup-e2e.mjs never ran; when setup ran but they are missing, or
// in CI (CI set), fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { notification, openWorkbench, runCommand, screenshot, showNotification, type Workbench } from './browser';
import { e2ePaths, e2eTmpDir, folderUrl, missingPrerequisite, payloadUrl, startCodeServer, type CodeServer } from './code-server';
import { loudSkip } from '../helpers/prereq';
import { runExtensionTestsDetailed } from './run-extension-tests';

const root = path.resolve(__dirname, '..', '..', '..');
const fixture = path.join(root, 'test', 'fixtures', 'hello-extension');
const MESSAGE = 'Hello from the Memscope fixture!';
const FILE = 'hello-fixture.txt';

const missing = missingPrerequisite();
const setupRan = e2ePaths().markers.some((m) => fs.existsSync(m));
// in CI a missing code-server or Chromium fails (loudSkip), whether setup ran or not
const skip = loudSkip(missing && !setupRan && `${missing} is missing and scripts/setup-e2e.mjs has not run (npm test runs it; or: node scripts/setup-e2e.mjs)`, 'code-server and Chromium');
if (skip) console.log(`skipping the real-VS Code e2e tests: ${skip}`);
function requirePrerequisites() {
  if (missing) throw new Error(`${missing} is missing although scripts/setup-e2e.mjs ran: run \`node scripts/setup-e2e.mjs\` again.`);
}

const timings: string[] = [];
after(() => {
  if (timings.length) console.log(`e2e timings:\n${timings.map((t) => `  ${t}`).join('\n')}`);
});

/** A fresh workspace folder, removed at the end of the test (or at exit). */
function workspace(t: TestContext): string {
  const ws = e2eTmpDir('ws');
  t.after(() => ws.remove());
  return ws.dir;
}

test('the fixture extension-host tests pass inside code-server (exit code 0)', { skip, timeout: 180_000 }, async (t) => {
  requirePrerequisites();
  const ws = workspace(t);
  const r = await runExtensionTestsDetailed({
    extensionDevelopmentPath: fixture,
    extensionTestsPath: path.join(fixture, 'test', 'index.js'),
    folder: ws,
    timeoutMs: 150_000,
  });
  timings.push(`extension tests (pass): code-server ${r.codeServerStartMs} ms, workbench ${r.workbenchReadyMs} ms, exit code after ${r.testRunMs} ms, ${r.totalMs} ms in all`);
  assert.equal(r.exitCode, 0, 'the extension host reports success');
  // the command really ran in the extension host, against this folder
  assert.match(fs.readFileSync(path.join(ws, FILE), 'utf8'), /uiKind=Web/);
});

test('a failing extension-host test reaches the harness as a non-zero exit code', { skip, timeout: 180_000 }, async (t) => {
  requirePrerequisites();
  const ws = workspace(t);
  const r = await runExtensionTestsDetailed({
    extensionDevelopmentPath: fixture,
    extensionTestsPath: path.join(fixture, 'test', 'failing.js'),
    folder: ws,
    timeoutMs: 150_000,
  });
  timings.push(`extension tests (fail): code-server ${r.codeServerStartMs} ms, workbench ${r.workbenchReadyMs} ms, exit code after ${r.testRunMs} ms, ${r.totalMs} ms in all`);
  assert.notEqual(r.exitCode, 0, 'the extension host reports the failure');
});

test('UI: F1 → "Hello Fixture: Say Hello" shows its notification', { skip, timeout: 180_000 }, async (t) => {
  requirePrerequisites();
  const ws = workspace(t);
  let server: CodeServer | undefined;
  let wb: Workbench | undefined;
  const t0 = Date.now();
  try {
    server = await startCodeServer({ folder: ws });
    wb = await openWorkbench(payloadUrl(server.base, ws, { extensionDevelopmentPath: fixture }), { timeoutMs: 90_000 });
    const tCommand = Date.now();
    await runCommand(wb.page, 'Hello Fixture: Say Hello', 60_000);
    const shown = await showNotification(wb.page, MESSAGE, 30_000);
    assert.match(await shown.innerText(), /Hello from the Memscope fixture!/);
    const commandMs = Date.now() - tCommand;
    const shot = await screenshot(wb.page, path.join(root, 'out', 'screenshots', 'fixture-hello.png'));
    assert.ok(fs.statSync(shot).size > 10_000, 'the screenshot has content');
    // the command also wrote its file (eventually: the toast shows first)
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(path.join(ws, FILE)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(fs.existsSync(path.join(ws, FILE)), `${FILE} appeared in the workspace folder`);
    timings.push(`UI: code-server ${server.startMs} ms, workbench ${wb.readyMs} ms, F1 → notification ${commandMs} ms, ${Date.now() - t0} ms before cleanup`);
  } finally {
    const tClean = Date.now();
    await wb?.close();
    await server?.stop();
    timings.push(`UI cleanup: ${Date.now() - tClean} ms`);
  }
});

test('UI: the fixture installed from a .vsix (no smoke-test driver) shows a real toast', { skip, timeout: 180_000 }, async (t) => {
  requirePrerequisites();
  const ws = workspace(t);
  const pkg = e2eTmpDir('vsix');
  t.after(() => pkg.remove());
  let server: CodeServer | undefined;
  let wb: Workbench | undefined;
  const t0 = Date.now();
  try {
    const vsix = path.join(pkg.dir, 'hello-fixture.vsix');
    const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
    const p = spawnSync(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', vsix], { cwd: fixture, encoding: 'utf8' });
    assert.equal(p.status, 0, `vsce packaged the fixture: ${p.stderr || p.stdout}`);
    const tPackaged = Date.now();
    server = await startCodeServer({ folder: ws, installVsix: vsix, smokeTestDriver: false });
    const tStarted = Date.now();
    wb = await openWorkbench(folderUrl(server.base, ws), { timeoutMs: 90_000 });
    const tCommand = Date.now();
    await runCommand(wb.page, 'Hello Fixture: Say Hello', 60_000);
    const toast = notification(wb.page, MESSAGE).first();
    await toast.waitFor({ state: 'visible', timeout: 30_000 });
    const commandMs = Date.now() - tCommand;
    await screenshot(wb.page, path.join(root, 'out', 'screenshots', 'fixture-hello-toast.png'));
    timings.push(
      `UI (.vsix): vsce ${tPackaged - t0} ms, install + code-server ${tStarted - tPackaged} ms (healthz ${server.startMs} ms), workbench ${wb.readyMs} ms, F1 → toast ${commandMs} ms`,
    );
  } finally {
    await wb?.close();
    await server?.stop();
  }
});
