#!/usr/bin/env node
// Bundles the extension host side (extension/src/extension.ts and what it
// imports: common/, webview/html.ts, vscode-languageclient) into
// out/extension/extension.js with esbuild. `vscode` is provided by the host.
import * as esbuild from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  sourcemap: true,
  logLevel: 'warning',
};
try {
  // the extension-host tests, run inside a real VS Code (test/e2e)
  await esbuild.build({
    ...common,
    entryPoints: [path.join(root, 'extension', 'test', 'suite.ts')],
    outfile: path.join(root, 'out', 'extension', 'test', 'index.js'),
  });
  await esbuild.build({
    ...common,
    entryPoints: [path.join(root, 'extension', 'src', 'extension.ts')],
    outfile: path.join(root, 'out', 'extension', 'extension.js'),
    minify: process.argv.includes('--minify'),
  });
} catch (e) {
  console.error(`build-extension: esbuild failed (${e.message.split('\n')[0]}): fix the errors above.`);
  process.exit(1);
}
