// The one-file CLI (scripts/build-cli.mjs → out/cli/cli.js, the file
// `npm run install-cli` installs and the .vsix carries as out/agent/cli.js):
// `memscope install` into a temporary prefix, the installed link run by name
// from a folder where only the bundle and koffi exist, and the commands that
// need neither koffi nor JSON-RPC loading neither. A preload hook (through
// NODE_OPTIONS, which the shebang keeps) writes what the child loaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { spawn } from 'node:child_process';
import { CLI, runArgv } from '../helpers/cli';
import { snap } from '../helpers/snapshot-builders';
import { installChoices } from '../../extension/src/install-cli';

const root = path.join(__dirname, '..', '..', '..');
const BUNDLE = path.join(root, 'out', 'cli', 'cli.js');
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-cli-bundle-'));
const prefix = path.join(tmp, 'prefix');
const link = path.join(prefix, 'bin', 'memscope');
const emptyRuntime = path.join(tmp, 'runtime');
const hook = path.join(tmp, 'hook.cjs');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Loaded {
  /** require.cache: every file loaded through require. */
  files: string[];
  /** Node's built-in modules that were loaded (NativeModule …). */
  builtins: string[];
  paths: string[];
  extraCa: string | null;
}

/** The environment of a user's shell: PATH with the installed bin first, no npm or NODE_PATH leftovers. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: `${path.join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`, HOME: tmp, LANG: 'C.UTF-8' };
  return { ...env, ...extra };
}

/** Runs argv with the preload hook; returns the result and what the child loaded. */
async function traced(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const out = path.join(tmp, `loaded-${Math.random().toString(36).slice(2)}.json`);
  const r = await runArgv(argv, { cwd: opts.cwd ?? tmp, env: { ...(opts.env ?? userEnv()), NODE_OPTIONS: `--require ${hook}`, MEMSCOPE_TEST_LOADED: out } });
  const loaded = JSON.parse(fs.readFileSync(out, 'utf8')) as Loaded;
  return { r, loaded };
}

const koffiIn = (l: Loaded) => l.files.filter((f) => /[/\\]koffi[/\\]|koffi\.node$/.test(f));
// vscode-jsonrpc/node sets up its IPC on `net` when it is evaluated: in the
// bundle it is code in a string that is never compiled, so require.cache cannot tell
const rpcIn = (l: Loaded) => [...l.files.filter((f) => /vscode-(jsonrpc|languageserver)/.test(f)), ...l.builtins.filter((b) => b === 'NativeModule net')];

before(() => {
  assert.ok(fs.existsSync(BUNDLE), `${BUNDLE} is missing: build it with \`node scripts/build-cli.mjs\` (npm test's setup does).`);
  fs.mkdirSync(emptyRuntime);
  fs.writeFileSync(
    hook,
    "process.on('exit', () => require('fs').writeFileSync(process.env.MEMSCOPE_TEST_LOADED, JSON.stringify({ files: Object.keys(require.cache), " +
      "builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')), paths: require.main ? require.main.paths : [], extraCa: process.env.NODE_EXTRA_CA_CERTS ?? null })));\n",
  );
  const a = path.join(tmp, 'a.memscope.json');
  const b = path.join(tmp, 'b.memscope.json');
  fs.writeFileSync(a, JSON.stringify(snap()));
  fs.writeFileSync(b, JSON.stringify(snap({ takenAt: '2024-01-01T00:01:00.000Z' })));
});

test('memscope install puts the bundle and koffi in PREFIX/lib/memscope and links PREFIX/bin/memscope; the link runs --version by name', async () => {
  const r = await runArgv([process.execPath, BUNDLE, 'install', '--prefix', prefix], { env: userEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^installed memscope ${version.replace(/\./g, '\\.')}: ${link} -> ${path.join(prefix, 'lib', 'memscope', 'cli.js')}`));
  assert.equal(fs.readlinkSync(link), path.join('..', 'lib', 'memscope', 'cli.js'));
  const lib = path.join(prefix, 'lib', 'memscope');
  assert.deepEqual(fs.readdirSync(lib).sort(), ['cli.js', 'node_modules']);
  assert.deepEqual(fs.readdirSync(path.join(lib, 'node_modules')).sort(), ['@koromix', 'koffi']);
  assert.ok(fs.existsSync(path.join(lib, 'node_modules', '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node')));
  assert.deepEqual(fs.readdirSync(prefix).sort(), ['bin', 'lib'], 'nothing staged is left behind');
  const v = await runArgv(['memscope', '--version'], { env: userEnv(), cwd: tmp });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, `memscope ${version}\n`);
  // compiled code is kept in the user's own cache dir (HOME is tmp here): Node's compile cache, or on Node 20 the launcher's V8 code cache
  const cache = path.join(tmp, '.cache', 'memscope');
  assert.ok(fs.existsSync(cache) && fs.readdirSync(cache, { recursive: true }).length > 0, `no code cache in ${cache}`);
  assert.equal(fs.statSync(cache).mode & 0o077, 0, 'the cache dir is the user\'s alone');
  // again: an earlier install is replaced in place
  const again = await runArgv([link, 'install', '--prefix', prefix], { env: userEnv() });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(fs.readdirSync(path.join(prefix, 'lib')), ['memscope']);
});

test('the installed memscope runs --help, list --json and a missing target from a folder with only the bundle and koffi', async () => {
  const help = await traced(['memscope', '--help']);
  assert.equal(help.r.code, 0, help.r.stderr);
  assert.match(help.r.stdout, /^usage:\n  memscope list/);
  assert.match(help.r.stdout, /memscope install \[--prefix DIR\]/);
  const here = path.join(prefix, 'lib', 'memscope');
  for (const f of help.loaded.files) assert.ok(f.startsWith(here) || f === hook, `${f} was loaded from outside ${here}`);
  for (const p of help.loaded.paths) assert.ok(!p.startsWith(root), `the module path holds ${p}, inside the checkout`);

  const list = await traced(['memscope', 'list', '--json', '--runtime-dir', emptyRuntime]);
  assert.equal(list.r.code, 0, list.r.stderr);
  const targets = JSON.parse(list.r.stdout) as { alive: boolean; ealLibrary: string | null }[];
  assert.ok(Array.isArray(targets), list.r.stdout);
  // /var/run/dpdk is always looked in: a dead primary's leftover (or one whose
  // librte_eal is gone) makes discovery load this machine's librte_eal to compare versions
  if (targets.every((t) => t.alive && t.ealLibrary && !t.ealLibrary.endsWith(' (deleted)'))) assert.deepEqual(koffiIn(list.loaded), [], '`list` loads no koffi');
  assert.deepEqual(rpcIn(list.loaded), [], '`list` loads no JSON-RPC');

  // a snapshot loads koffi: the copy beside the bundle, nothing from the checkout
  const none = await traced(['memscope', 'snapshot', '--file-prefix', 'memscope-no-such-prefix', '--runtime-dir', emptyRuntime]);
  assert.equal(none.r.code, 10, none.r.stderr);
  assert.match(none.r.stderr, /^memscope: [^\n]*memscope-no-such-prefix[^\n]*\n$/);
  assert.ok(koffiIn(none.loaded).length > 0, 'snapshot loads koffi');
  for (const f of none.loaded.files) assert.ok(f.startsWith(here) || f === hook, `${f} was loaded from outside ${here}`);
});

test('the installed memscope serves JSON-RPC from the same file (its full build)', async () => {
  const child = spawn('memscope', ['serve'], { env: userEnv(), cwd: tmp, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  rpc.listen();
  try {
    const targets = await Promise.race([
      rpc.sendRequest('memscope/listTargets', { runtimeDirs: [emptyRuntime] }),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in 20 s; stderr: ${stderr}`)), 20_000)),
    ]);
    assert.ok(Array.isArray((targets as { targets?: unknown }).targets ?? targets), JSON.stringify(targets));
  } finally {
    rpc.dispose();
    child.kill('SIGKILL');
  }
});

test('--help and diff load neither koffi nor JSON-RPC, in the bundle and in the tsc build', async () => {
  const a = path.join(tmp, 'a.memscope.json');
  const b = path.join(tmp, 'b.memscope.json');
  for (const argv of [[link], [process.execPath, CLI]]) {
    for (const args of [['--help'], ['diff', a, b, '--json']]) {
      const { r, loaded } = await traced([...argv, ...args], { env: userEnv() });
      const what = `${path.basename(argv[argv.length - 1]!)} ${args[0]}`;
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.deepEqual(koffiIn(loaded), [], `${what} loads no koffi`);
      assert.deepEqual(rpcIn(loaded), [], `${what} loads no JSON-RPC`);
    }
  }
});

test('the shebang drops NODE_EXTRA_CA_CERTS for the bundle run by name', async () => {
  const { r, loaded } = await traced(['memscope', '--version'], { env: userEnv({ NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(loaded.extraCa, null);
});

test('install refuses a relative prefix, a foreign bin/memscope and the tsc build, each in one sentence, and changes nothing', async () => {
  const rel = await runArgv([link, 'install', '--prefix', 'relative/dir'], { env: userEnv(), cwd: tmp });
  assert.equal(rel.code, 2);
  assert.match(rel.stderr, /^memscope: --prefix "relative\/dir" is not an absolute directory without "\.\.": give an absolute directory such as \/usr\/local or [^\n]+\.\n$/);
  assert.ok(!fs.existsSync(path.join(tmp, 'relative')));

  const other = path.join(tmp, 'other');
  fs.mkdirSync(path.join(other, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(other, 'bin', 'memscope'), '#!/bin/sh\necho not ours\n', { mode: 0o755 });
  const foreign = await runArgv([link, 'install', '--prefix', other], { env: userEnv(), cwd: tmp });
  assert.equal(foreign.code, 2);
  assert.equal(foreign.stderr, `memscope: ${path.join(other, 'bin', 'memscope')} exists and is not a link to a memscope cli.js: remove it, or pick another --prefix.\n`);
  assert.equal(fs.readFileSync(path.join(other, 'bin', 'memscope'), 'utf8'), '#!/bin/sh\necho not ours\n');
  assert.deepEqual(fs.readdirSync(other), ['bin']);

  const tsc = await runArgv([process.execPath, CLI, 'install', '--prefix', path.join(tmp, 'never')], { env: userEnv() });
  assert.equal(tsc.code, 2);
  assert.match(tsc.stderr, /^memscope: install copies the one-file CLI, and this is the tsc build: run `npm run install-cli` in the checkout[^\n]*\n$/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never')));
});

test('the extension offers /usr/local to root, and /usr/local through sudo or ~/.local to anyone else, as argument vectors', () => {
  assert.deepEqual(installChoices('/x/cli.js', '/usr/bin/node', 0, '/root'), [
    { label: '/usr/local', detail: '/usr/local/bin/memscope, for every user', command: '/usr/bin/node', args: ['/x/cli.js', 'install', '--prefix', '/usr/local'] },
  ]);
  const user = installChoices('/x/cli.js', '/usr/bin/node', 1000, '/home/dev');
  assert.deepEqual(
    user.map((c) => [c.command, ...c.args]),
    [
      ['sudo', '/usr/bin/node', '/x/cli.js', 'install', '--prefix', '/usr/local'],
      ['/usr/bin/node', '/x/cli.js', 'install', '--prefix', '/home/dev/.local'],
    ],
  );
});
