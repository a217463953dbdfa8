// Settings (memscope.agent.launchPrefix, memscope.eal.extraArgs, paths) reach
// the agent as argument vectors, never through a shell: the extension's own
// launch code (extension/src/launch.ts, which agent.ts and targets.ts call)
// is run for real with shell metacharacters in every place, and canary files
// that any shell would create must never appear.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { MemscopeError } from '../../common/errors';
import { agentCommand, type AgentSettings, checkLaunchPrefix, checkSettings, runAgentCliWith } from '../../extension/src/launch';
import { CLI } from '../helpers/cli';

const root = path.join(__dirname, '..', '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-launch-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A canary path per test; a shell running any of the strings would create it. */
const canary = (tag: string) => path.join(tmp, `canary-${tag}`);
/** Strings that create `file` when a shell sees them, in every way a shell would. */
const hostile = (file: string) => [`$(touch ${file})`, `\`touch ${file}\``, `x; touch ${file}`, `x && touch ${file}`, `x | touch ${file}`, `x\ntouch ${file}`, `$(touch\t${file})`];

test('agentCommand puts the launch prefix, node, the agent and its arguments in one vector, element by element', () => {
  assert.deepEqual(agentCommand([], '/usr/bin/node', '/x/cli.js', ['list', '--json']), { command: '/usr/bin/node', args: ['/x/cli.js', 'list', '--json'] });
  assert.deepEqual(agentCommand(['sudo', '-n'], '/usr/bin/node', '/x/cli.js', ['serve']), { command: 'sudo', args: ['-n', '/usr/bin/node', '/x/cli.js', 'serve'] });
  const h = hostile('/tmp/never');
  assert.deepEqual(agentCommand(['env', `X=${h[0]}`], 'node', 'cli.js', h.slice(1)).args, [`X=${h[0]}`, 'node', 'cli.js', ...h.slice(1)], 'kept verbatim');
});

test('a launch prefix written as one command line, or with control characters, is refused in one sentence', () => {
  for (const p of [['sudo -n'], ['sudo', 'a\nb'], ['sudo', ''], ['\u202esudo'], [42]]) {
    assert.throws(
      () => checkLaunchPrefix(p),
      (e: unknown) => e instanceof MemscopeError && e.code === 'bad-arguments' && /^memscope\.agent\.launchPrefix .*: write it as an argument vector such as \["sudo","-n"\]\.$/.test(e.message) && !e.message.includes('\n'),
      JSON.stringify(p),
    );
  }
  assert.doesNotThrow(() => checkLaunchPrefix(['sudo', '-n', '-u', 'dpdk']));
  assert.doesNotThrow(() => checkLaunchPrefix(['env', 'X=$(touch /tmp/x)']), 'metacharacters are just bytes of an argument');
});

test('checkSettings applies the CLI and agent rules to the settings, naming each setting', () => {
  const s: AgentSettings = { runtimeDirs: [], dpdkLibraryPath: null, ealExtraArgs: [], traceDir: null, launchPrefix: [] };
  assert.doesNotThrow(() => checkSettings({ ...s, ealExtraArgs: ['--log-level=$(touch /tmp/x)'] }, 'rte'));
  const refused = (over: Partial<AgentSettings>, prefix: string | undefined, re: RegExp) =>
    assert.throws(() => checkSettings({ ...s, ...over }, prefix), (e: unknown) => e instanceof MemscopeError && e.code === 'bad-arguments' && re.test(e.message));
  refused({}, '../../etc', /^the file prefix "\.\.\/\.\.\/etc"/);
  refused({ runtimeDirs: ['rel'] }, 'rte', /^memscope\.runtimeDirs "rel"/);
  refused({ dpdkLibraryPath: '/tmp/x.so' }, 'rte', /^memscope\.dpdkLibraryPath /);
  refused({ ealExtraArgs: ['--proc-type=primary'] }, 'rte', /^memscope\.eal\.extraArgs /);
  refused({ traceDir: '/tmp/a\nb' }, 'rte', /^memscope\.leaks\.traceDir /);
  refused({ launchPrefix: ['sudo -n'] }, 'rte', /^memscope\.agent\.launchPrefix /);
});

test('runAgentCliWith: metacharacters in the launch prefix and the arguments arrive verbatim, and no shell runs them', async () => {
  const c = canary('cli');
  // a stand-in agent that reports what it got: the launch prefix is `env X=…`, so X is in its environment
  const probe = path.join(tmp, 'probe.js');
  fs.writeFileSync(probe, 'process.stdout.write(JSON.stringify({ x: process.env.X, argv: process.argv.slice(2) }));\n');
  const h = hostile(c);
  const out = await runAgentCliWith(['env', `X=${h[0]}`], probe, h.slice(1), 15_000);
  const got = JSON.parse(out) as { x: string; argv: string[] };
  assert.equal(got.x, h[0], 'the launch prefix element reached env verbatim');
  assert.deepEqual(got.argv, h.slice(1), 'every argument reached the agent verbatim');
  assert.equal(fs.existsSync(c), false, 'no shell ran any of them');
});

test('runAgentCliWith runs the real agent CLI under a hostile-looking launch prefix, and a runtime dir with metacharacters is only a path', async () => {
  const c = canary('real');
  const v = await runAgentCliWith(['env', `X=$(touch ${c})`, `Y=\`touch ${c}\``], CLI, ['--version']);
  assert.match(v, /^memscope \d+\.\d+\.\d+/);
  const list = await runAgentCliWith(['env', `X=$(touch ${c})`], CLI, ['list', '--json', '--runtime-dir', `/nonexistent-${process.pid}/x;touch ${c}`, '--runtime-dir', `/nonexistent-${process.pid}/$(touch ${c})`]);
  assert.ok(Array.isArray(JSON.parse(list)));
  assert.equal(fs.existsSync(c), false);
});

test('a launch prefix that names a command line in one string is not run through a shell (the extension refuses it before)', async () => {
  const c = canary('oneline');
  await assert.rejects(runAgentCliWith([`touch ${c}`], CLI, ['--version']), (e: unknown) => e instanceof MemscopeError && e.code === 'bad-arguments');
  assert.equal(fs.existsSync(c), false);
});

test('the agent server gets EAL extra args with metacharacters as plain strings: accepted by the whitelist, never run', async () => {
  const c = canary('serve');
  const { command, args } = agentCommand(['env', `X=$(touch ${c})`], process.execPath, CLI, ['serve']);
  // as vscode-languageclient starts an Executable: spawn(command, [...args, '--stdio'], options) with no shell option
  const child = spawn(command, [...args, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  rpc.listen();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const prefix = `ms-unit-${process.pid}-nosuch`;
    const err = await rpc
      .sendRequest('memscope/attach', { filePrefix: prefix, extraEalArgs: [`--log-level=$(touch ${c})`, `--huge-dir=/x;touch ${c}`, `--vfio-vf-token=\`touch ${c}\``] })
      .then(
        () => null,
        (e: { data?: { code?: string; message?: string } }) => e.data,
      );
    // past the whitelist: no such target (or, not as root, an unreadable /var/run/dpdk that might hold it)
    const past = process.getuid?.() === 0 ? ['no-target'] : ['no-target', 'permission'];
    assert.ok(past.includes(err?.code ?? ''), `a typed answer: ${JSON.stringify(err)}`);
    const bad = await rpc.sendRequest('memscope/attach', { filePrefix: prefix, extraEalArgs: ['--proc-type=primary'] }).then(
      () => null,
      (e: { data?: { code?: string; message?: string } }) => e.data,
    );
    assert.equal(bad?.code, 'bad-arguments');
    assert.match(bad?.message ?? '', /^extraEalArgs "--proc-type=primary" is not an EAL option/);
  } finally {
    rpc.dispose();
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  assert.equal(fs.existsSync(c), false);
});

test('no code path of the agent or the extension runs a shell, a command string, or sudo of its own', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.join(root, 'native-agent'));
  walk(path.join(root, 'extension', 'src'));
  walk(path.join(root, 'common'));
  assert.ok(files.length > 20, `${files.length} source files`);
  const offences: string[] = [];
  for (const f of files) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
      if (
        /\bshell\s*:\s*(true|['"`])/.test(code) ||
        /(?<![\w.])(exec|execSync)\s*\(|\b(cp|child_process|childProcess)\.(exec|execSync)\s*\(/.test(code) ||
        /import\s*\{[^}]*\b(exec|execSync)\b[^}]*\}\s*from\s*['"](node:)?child_process/.test(code) || /['"`]\/bin\/(ba|da)?sh['"`]|['"`]sh['"`]\s*,\s*\[?\s*['"`]-c/.test(code) ||
        /\b(spawn|spawnSync|execFile|execFileSync|fork)\s*\(\s*['"`](\/usr\/bin\/)?(sudo|su|pkexec|doas|runuser|setpriv)['"`]/.test(code)
      ) {
        offences.push(`${path.relative(root, f)}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(offences, []);
});

test('agentCommand: node flags go between node and the script, behind a launch prefix too', () => {
  assert.deepEqual(agentCommand([], '/usr/bin/node', '/x/cli.js', ['serve'], ['--max-semi-space-size=1']), { command: '/usr/bin/node', args: ['--max-semi-space-size=1', '/x/cli.js', 'serve'] });
  assert.deepEqual(agentCommand(['sudo', '-n'], '/usr/bin/node', '/x/cli.js', ['serve'], ['--a']), { command: 'sudo', args: ['-n', '/usr/bin/node', '--a', '/x/cli.js', 'serve'] });
});
