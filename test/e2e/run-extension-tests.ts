// Runs an extension's extension-host tests inside a real VS Code (code-server
// 1.139.1 + headless Chromium), the way @vscode/test-electron's runTests does
// on machines that can download VS Code: the extension at
// extensionDevelopmentPath is loaded into an extension development host and
// the module at extensionTestsPath (exporting `run(): Promise<void>`, or the
// old `run(testsRoot, cb)`) runs inside it; its outcome is the exit code.
//
//   node out/test/e2e/run-extension-tests.js <devPath> <testsPath> <folder> [timeoutSeconds]
//
// exits with the tests' exit code, or 3 when no exit code arrived in time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openWorkbench, type Workbench } from './browser';
import { payloadUrl, startCodeServer, type CodeServer } from './code-server';

export interface RunOptions {
  extensionDevelopmentPath: string;
  extensionTestsPath: string;
  /** the workspace folder the tests see */
  folder: string;
  /** the whole run: server start, workbench, tests (default 180 s) */
  timeoutMs?: number;
  /** forward the page console (the tests' output) to stdout (default true) */
  forwardConsole?: boolean;
}

export interface RunResult {
  exitCode: number;
  /** spawn → /healthz */
  codeServerStartMs: number;
  /** goto → workbench rendered */
  workbenchReadyMs: number;
  /** goto → exit code reported */
  testRunMs: number;
  /** everything, cleanup included */
  totalMs: number;
}

/** Like runExtensionTests, with the timings. */
export async function runExtensionTestsDetailed(o: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const timeoutMs = o.timeoutMs ?? 180_000;
  const devPath = path.resolve(o.extensionDevelopmentPath);
  const testsPath = path.resolve(o.extensionTestsPath);
  const folder = path.resolve(o.folder);
  if (!fs.existsSync(path.join(devPath, 'package.json'))) throw new Error(`${devPath} is not an extension folder (no package.json).`);
  if (!fs.existsSync(testsPath)) throw new Error(`the extension tests module ${testsPath} does not exist.`);
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`the workspace folder ${folder} does not exist.`);

  let server: CodeServer | undefined;
  let wb: Workbench | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    server = await startCodeServer({ folder, timeoutMs: Math.min(60_000, timeoutMs) });
    const left = () => Math.max(1000, timeoutMs - (Date.now() - t0));
    const tGoto = Date.now();
    wb = await openWorkbench(payloadUrl(server.base, folder, { extensionDevelopmentPath: devPath, extensionTestsPath: testsPath }), {
      timeoutMs: left(),
      forwardConsole: o.forwardConsole ?? true,
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the extension tests in ${testsPath} reported no exit code within ${Math.round(timeoutMs / 1000)} s (their output is the page console above).`)),
        left(),
      );
    });
    const exitCode = await Promise.race([wb.exitCode, timeout]);
    const testRunMs = Date.now() - tGoto;
    const r = { exitCode, codeServerStartMs: server.startMs, workbenchReadyMs: wb.readyMs, testRunMs, totalMs: 0 };
    await cleanup();
    r.totalMs = Date.now() - t0;
    return r;
  } finally {
    await cleanup();
  }

  async function cleanup() {
    if (timer) clearTimeout(timer);
    const w = wb;
    const s = server;
    wb = undefined;
    server = undefined;
    await w?.close();
    await s?.stop();
  }
}

/** Runs the tests and resolves to their exit code (0 = passed). */
export async function runExtensionTests(o: RunOptions): Promise<number> {
  return (await runExtensionTestsDetailed(o)).exitCode;
}

if (require.main === module) {
  const [devPath, testsPath, folder, secs] = process.argv.slice(2);
  if (!devPath || !testsPath || !folder) {
    console.error('usage: node out/test/e2e/run-extension-tests.js <extensionDevelopmentPath> <extensionTestsPath> <workspaceFolder> [timeoutSeconds]');
    process.exit(2);
  }
  runExtensionTestsDetailed({ extensionDevelopmentPath: devPath, extensionTestsPath: testsPath, folder, timeoutMs: secs ? Number(secs) * 1000 : undefined }).then(
    (r) => {
      console.error(
        `run-extension-tests: exit code ${r.exitCode} (code-server ${r.codeServerStartMs} ms, workbench ${r.workbenchReadyMs} ms, tests done ${r.testRunMs} ms after load, ${r.totalMs} ms in all)`,
      );
      process.exit(r.exitCode);
    },
    (e: Error) => {
      console.error(`run-extension-tests: ${e.message}`);
      process.exit(3);
    },
  );
}

/**
 * The extension-host suite (extension/test/suite.ts) against a demo primary
 * the workspace's .memscope-e2e.json names, while it runs its steady leak
 * scenario (the Leaks steps look for those leaks); the scenario is stopped
 * and its allocations freed afterwards. Resolves to the run, for its times.
 */
export async function runSuiteWhileLeaking(repo: string, folder: string, primary: { command(line: string, timeoutMs?: number): Promise<unknown> }): Promise<RunResult> {
  await primary.command('scenario start steady 3 600000');
  try {
    return await runExtensionTestsDetailed({ extensionDevelopmentPath: repo, extensionTestsPath: path.join(repo, 'out', 'extension', 'test', 'index.js'), folder, timeoutMs: 5 * 60_000 });
  } finally {
    await primary.command('scenario stop', 10_000);
    await primary.command('scenario clear', 10_000);
  }
}
