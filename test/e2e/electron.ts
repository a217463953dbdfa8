/**
 * The same extension-host suite under desktop VS Code with
 * @vscode/test-electron, for machines that can download VS Code:
 *   node out/test/e2e/electron.js <workspace folder holding .memscope-e2e.json>
 * Here (no access to VS Code's download servers) it says so and exits 3; the
 * code-server run (extension.test.ts) covers the same files.
 */
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<number> {
  const folder = process.argv[2];
  if (!folder) {
    process.stderr.write('usage: node out/test/e2e/electron.js <workspace folder holding .memscope-e2e.json>\n');
    return 2;
  }
  const root = path.join(__dirname, '..', '..', '..');
  try {
    return await runTests({
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(root, 'out', 'extension', 'test', 'index.js'),
      launchArgs: [folder, '--disable-extensions', '--disable-workspace-trust'],
    });
  } catch (e) {
    const msg = (e as Error).message;
    if (/ENOTFOUND|getaddrinfo|ECONNREFUSED|ETIMEDOUT|Failed to download/i.test(msg)) {
      process.stderr.write(`electron: VS Code cannot be downloaded from this machine (${msg.split('\n')[0]}): run the same suite in code-server (test/e2e/extension.test.ts).\n`);
      return 3;
    }
    process.stderr.write(`electron: ${msg}\n`);
    return 1;
  }
}

void main().then((code) => process.exit(code));
