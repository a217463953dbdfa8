#!/usr/bin/env node
// `npm run package`: a platform-specific linux-x64 .vsix. esbuild bundles the
// extension host side, the webview and the agent (one file each); koffi, the
// agent's only native dependency, ships beside the agent bundle with its
// linux-x64 binary. Sources, tests and the demo primary stay out.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCli } from './build-cli.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = (...p) => path.join(root, 'out', ...p);
const die = (msg) => {
  console.error(`package: ${msg}`);
  process.exit(1);
};

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) die(`${[cmd, ...args].join(' ')} failed: fix the errors above.`);
};

// the extension and the webview
run(process.execPath, ['scripts/build-extension.mjs', '--minify']);
if (fs.existsSync(path.join(root, 'scripts', 'build-webview.mjs'))) run(process.execPath, ['scripts/build-webview.mjs']);

// the agent: the one-file CLI (scripts/build-cli.mjs, the same file `npm run
// install-cli` installs), koffi beside it; `memscope install` copies both
try {
  await buildCli(out('agent', 'cli.js'));
} catch (e) {
  die(e.sentence ?? `bundling the agent failed (${e.message.split('\n')[0]}).`);
}
const nm = out('agent', 'node_modules');
fs.rmSync(nm, { recursive: true, force: true });
const copy = (from, to, filter = () => true) => fs.cpSync(path.join(root, 'node_modules', from), path.join(nm, to), { recursive: true, filter: (src) => filter(src) });
copy('koffi', 'koffi', (src) => !/[/\\](doc|vendor|lib|cnoke\.cjs|CMakeLists\.txt)$/.test(src) && !/\.(cc|hh|inc|S|asm)$/.test(src)); // runtime JS only: no C sources
copy('@koromix/koffi-linux-x64', '@koromix/koffi-linux-x64', (src) => !/musl_x64/.test(src));

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const vsix = path.join(root, `memscope-linux-x64-${pkg.version}.vsix`);
run(path.join(root, 'node_modules', '.bin', 'vsce'), ['package', '--target', 'linux-x64', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', vsix]);
const mb = fs.statSync(vsix).size / 2 ** 20;
console.log(`package: ${path.relative(process.cwd(), vsix)} (${mb.toFixed(2)} MiB)`);
