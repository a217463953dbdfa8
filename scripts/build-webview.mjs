#!/usr/bin/env node
// Builds the Memory Map webview: type-checks webview/ (webview/tsconfig.json:
// the root tsconfig leaves main.ts out, because tsc would emit its own
// out/webview/main.js over the bundle), bundles webview/main.ts with d3 into
// out/webview/main.js and the Leaks panel's webview/leaks/main.ts into
// out/webview/leaks.js (IIFE, minified), and copies webview/style.css beside them.
//
//   node scripts/build-webview.mjs            type-check, bundle, copy
//   node scripts/build-webview.mjs --no-check bundle and copy only
//
// Exits non-zero with one sentence on stderr on failure.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'out', 'webview');
const require = createRequire(import.meta.url);

function die(sentence) {
  console.error(`build-webview: ${sentence}`);
  process.exit(1);
}

function typecheck() {
  let ts;
  try {
    ts = require(path.join(root, 'node_modules', 'typescript'));
  } catch {
    die('typescript is not installed: run `npm install` first.');
  }
  const configPath = path.join(root, 'webview', 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => die(ts.flattenDiagnosticMessageText(d.messageText, ' ')) });
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const diags = ts.getPreEmitDiagnostics(program);
  if (diags.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    console.error(ts.formatDiagnostics(diags.slice(0, 20), host));
    die(`webview/ has ${diags.length} type error${diags.length > 1 ? 's' : ''} (listed above).`);
  }
}

async function bundle() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    die('esbuild is not installed: run `npm install` first.');
  }
  try {
    await esbuild.build({
      absWorkingDir: root,
      // the Memory Map and the Leaks panel
      entryPoints: { main: 'webview/main.ts', leaks: 'webview/leaks/main.ts' },
      outdir: outDir,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['chrome114'],
      minify: !process.env.MEMSCOPE_NO_MINIFY,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'silent',
    });
  } catch (e) {
    const first = e?.errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    die(`esbuild could not bundle the webview pages: ${first?.text ?? e?.message ?? e}${where}.`);
  }
}

try {
  fs.mkdirSync(outDir, { recursive: true });
} catch (e) {
  die(`cannot create ${path.relative(root, outDir)}: ${e.message}.`);
}
if (!process.argv.includes('--no-check')) typecheck();
await bundle();
try {
  fs.copyFileSync(path.join(root, 'webview', 'style.css'), path.join(outDir, 'style.css'));
} catch (e) {
  die(`cannot copy webview/style.css: ${e.message}.`);
}
const kib = (f) => (fs.statSync(path.join(outDir, f)).size / 1024).toFixed(0);
console.log(`build-webview: out/webview/main.js (${kib('main.js')} KiB), leaks.js (${kib('leaks.js')} KiB) and style.css`);
