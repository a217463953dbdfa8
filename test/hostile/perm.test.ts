// Who may do what. A target of another user needs the explicit
// memscope.agent.launchPrefix: the agent, run as nobody against a root-owned
// demo primary (CLI and JSON-RPC), says so in one sentence with its own exit
// status, and never starts sudo or anything else on its own (strace of its
// execve calls). Registration and repair change the target: without --yes and
// without a terminal they refuse (34) and change nothing; at a terminal they
// ask. Settings and the target's own command line never reach a shell: EAL
// extra args with shell metacharacters go to rte_eal_init as they are.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { exitCodes } from '../../common/errors';
import type { Snapshot } from '../../common/snapshot';
import { attachedAgent, CLI, runArgv, runCli, startOrphanMaker } from '../helpers/cli';
import { DemoPrimary, stopAll, whyNoDpdk } from '../helpers/primaries';
import { loudSkip } from '../helpers/prereq';

const skip = loudSkip(whyNoDpdk({ cc: true, hugepages: 200 }), 'DPDK');
const NOBODY = 65534;

function which(cmd: string): string | null {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin').split(':')) {
    const p = path.join(d, cmd);
    if (d && fs.existsSync(p)) return p;
  }
  return null;
}

const SETPRIV = which('setpriv');
const RUNUSER = which('runuser') ?? (fs.existsSync('/usr/sbin/runuser') ? '/usr/sbin/runuser' : null);
const STRACE = which('strace');
const PYTHON = which('python3');
const nobodyExists = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim() === String(NOBODY);

/** The command prefix that drops to nobody, or why there is none. */
const dropTo: string[] | string =
  process.getuid?.() !== 0
    ? 'dropping to another user needs root'
    : !nobodyExists
      ? `no user "nobody" with uid ${NOBODY}`
      : SETPRIV
        ? [SETPRIV, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--']
        : RUNUSER
          ? [RUNUSER, '-u', 'nobody', '--']
          : 'neither setpriv nor runuser is installed (apt-get install util-linux)';
const skipNobody = skip ?? loudSkip(typeof dropTo === 'string' ? dropTo : undefined, 'a way to run as user nobody');
const readable = (() => {
  // nobody must be able to read the agent it runs
  try {
    for (let d = path.dirname(CLI); d !== '/'; d = path.dirname(d)) if ((fs.statSync(d).mode & 0o005) !== 0o005) return `${d} is not readable by other users`;
    return undefined;
  } catch (e) {
    return String(e);
  }
})();
// not a missing install, but CI's checkout must let these run: loud there
const skipAsNobody = skipNobody ?? loudSkip(readable && `${readable} (chmod o+rx it, or check out elsewhere)`, 'a checkout user nobody can read');
if (skipAsNobody) console.log(`# perm: the tests as another user are skipped: ${skipAsNobody}`);
if (!PYTHON) console.log('# perm: python3 is not installed: the terminal prompts are not tested (only the refusal without a terminal)');
// in CI, what these parts need must be there too
if (!skip) loudSkip(PYTHON ? undefined : 'python3 is not installed: the terminal prompts are not tested', 'python3');
if (!skipAsNobody) loudSkip(STRACE ? undefined : 'strace is not installed (apt-get install strace): which programs the agent starts is not traced', 'strace');

let p: DemoPrimary;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-perm-'));
// a canary any shell would create from the target's own command line
const TARGET_CANARY = path.join(tmp, 'canary-target');

before(async () => {
  if (skip) return;
  // the primary's own argv carries shell metacharacters: the agent reads it (lcores, prefix) and never runs it
  p = await DemoPrimary.start({ memMb: 64, extraEal: [`--log-level=memscope.$(touch ${TARGET_CANARY}).x:info`] });
});
after(async () => {
  await stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** argv run to its end, bounded; its process group is ended on timeout. */
const run = (argv: string[], timeoutMs = 30_000): Promise<Run> => runArgv(argv, { timeoutMs });

const asNobody = (args: string[]) => [...(dropTo as string[]), process.execPath, CLI, ...args];

/** One sentence on stderr: "memscope: cause…: way out." */
function sentence(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  assert.match(lines[0]!, /^memscope: .+: .+\.$/);
  assert.doesNotMatch(lines[0]!, /\.\s+[A-Z]|Error:|at .+\.js:\d+/);
  return lines[0]!;
}

function assertLaunchPrefixWayOut(msg: string): void {
  assert.match(msg, /never elevates by itself/);
  assert.match(msg, /memscope\.agent\.launchPrefix \(e\.g\. \["sudo","-n"\]\)/);
  assert.match(msg, new RegExp(`uid ${NOBODY}`));
}

test('another user\u2019s target, from the CLI: exit 14 naming memscope.agent.launchPrefix, and no sudo or other program started', { skip: skipAsNobody, timeout: 120_000 }, async () => {
  const r = await run(asNobody(['snapshot', '--file-prefix', p.prefix, '--json']));
  assert.equal(r.code, exitCodes.permission, r.stderr);
  assert.equal(r.stdout, '');
  const msg = sentence(r.stderr);
  assertLaunchPrefixWayOut(msg);
  assert.match(msg, /\/var\/run\/dpdk is not readable/);
  assert.match(msg, new RegExp(`prefix "${p.prefix}" may be there`));
  for (const via of ['peek', 'secondary']) {
    const v = await run(asNobody(['snapshot', '--file-prefix', p.prefix, '--via', via]));
    assert.equal(v.code, exitCodes.permission, `--via ${via}: ${v.stderr}`);
  }

  if (!STRACE) {
    console.log('# perm: strace is not installed (apt-get install strace): which programs the agent starts is not traced');
    return;
  }
  // every program this run starts: the drop to nobody, then node, nothing else (no sudo, su, pkexec, sh)
  const traceFile = path.join(tmp, 'execve.txt');
  const t = await run([STRACE, '-f', '-qq', '-e', 'trace=execve,execveat', '-o', traceFile, ...asNobody(['snapshot', '--file-prefix', p.prefix])]);
  assert.equal(t.code, exitCodes.permission, t.stderr);
  const programs = fs
    .readFileSync(traceFile, 'utf8')
    .split('\n')
    .map((l) => /^\d+\s+execve(?:at)?\((?:AT_FDCWD, )?"([^"]*)"/.exec(l)?.[1])
    .filter((x): x is string => !!x);
  const allowed = new Set([(dropTo as string[])[0]!, process.execPath, fs.realpathSync(process.execPath), '/proc/self/exe']);
  assert.ok(programs.includes(process.execPath), `node ran: ${programs.join(', ')}`);
  assert.deepEqual(
    programs.filter((x) => !allowed.has(x)),
    [],
    'the agent started nothing but itself',
  );
});

test('another user\u2019s target, listed: root\u2019s runtime dir is said to be unreadable, with the launchPrefix way out', { skip: skipAsNobody, timeout: 60_000 }, async () => {
  const r = await run(asNobody(['list', '--json']));
  assert.equal(r.code, 0, r.stderr);
  const listed = JSON.parse(r.stdout) as { filePrefix: string }[];
  assert.ok(!listed.some((t) => t.filePrefix === p.prefix), 'root\u2019s primary is not listed to nobody');
  const line = r.stderr.split('\n').find((l) => l.includes('/var/run/dpdk'));
  assert.ok(line, `a line about /var/run/dpdk: ${r.stderr}`);
  assertLaunchPrefixWayOut(line);
});

test('a runtime dir nobody can read but another uid owns: not attachable, exit 14, "belongs to uid 0"', { skip: skipAsNobody, timeout: 60_000 }, async () => {
  // a world-readable copy of the live primary's config in a world-readable dir, owned by root
  const root = path.join(tmp, 'runtime');
  const copy = `${p.prefix}-copy`;
  fs.mkdirSync(path.join(root, copy), { recursive: true });
  fs.chmodSync(tmp, 0o755);
  fs.chmodSync(root, 0o755);
  fs.chmodSync(path.join(root, copy), 0o755);
  fs.copyFileSync(`/var/run/dpdk/${p.prefix}/config`, path.join(root, copy, 'config'));
  fs.chmodSync(path.join(root, copy, 'config'), 0o644);
  assert.equal(fs.statSync(path.join(root, copy, 'config')).uid, 0);

  const r = await run(asNobody(['snapshot', '--file-prefix', copy, '--runtime-dir', root]));
  assert.equal(r.code, exitCodes.permission, r.stderr);
  const msg = sentence(r.stderr);
  assert.match(msg, new RegExp(`${path.join(root, copy).replace(/[.+]/g, '\\$&')} belongs to uid 0, not to this agent's uid ${NOBODY}`));
  assertLaunchPrefixWayOut(msg);

  const l = await run(asNobody(['list', '--json', '--runtime-dir', root]));
  assert.equal(l.code, 0, l.stderr);
  const t = (JSON.parse(l.stdout) as { filePrefix: string; attachable: boolean; reasonCode?: string; reason?: string }[]).find((x) => x.filePrefix === copy);
  assert.ok(t, `the copy is listed: ${l.stdout}`);
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'permission');
  assertLaunchPrefixWayOut(t.reason ?? '');
});

test('another user\u2019s target, over JSON-RPC: a typed permission error naming memscope.agent.launchPrefix', { skip: skipAsNobody, timeout: 60_000 }, async () => {
  const argv = asNobody(['serve']);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stderr.resume();
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  rpc.onError(() => undefined);
  rpc.listen();
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  const bounded = <T>(x: Promise<T>, what: string) => Promise.race([x, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in 20 s`)), 20_000).unref())]);
  try {
    for (const via of ['secondary', 'peek', 'auto']) {
      const e = await bounded(
        rpc.sendRequest('memscope/attach', { filePrefix: p.prefix, via }).then(
          () => null,
          (x: { data?: { code?: string; message?: string } }) => x.data ?? null,
        ),
        'attach',
      );
      assert.equal(e?.code, 'permission', `via ${via}: ${JSON.stringify(e)}`);
      assert.doesNotMatch(e?.message ?? '', /\n/);
      assertLaunchPrefixWayOut(e?.message ?? '');
    }
  } finally {
    rpc.dispose();
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
  }
});

interface PtyRun {
  code: number | null;
  out: string;
  asked: boolean;
}

/** The CLI at a terminal (python3's pty.spawn: an argv, no shell), answering `answer` to its question. */
function atTerminal(args: string[], answer: string, timeoutMs = 90_000): Promise<PtyRun> {
  const py = 'import os, pty, sys\nsys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON!, ['-c', py, process.execPath, CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    let asked = false;
    const onData = (d: string) => {
      out += d;
      if (!asked && out.includes('[y/N]')) {
        asked = true;
        child.stdin.write(`${answer}\n`);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      reject(new Error(`memscope ${args.join(' ')} at a terminal did not end within ${timeoutMs} ms; output: ${out}`));
    }, timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, out, asked });
    });
  });
}

async function snapshotNow(): Promise<{ code: number | null; snap: Snapshot | null }> {
  const r = await runCli(['snapshot', '--file-prefix', p.prefix, '--json'], { timeoutMs: 60_000 });
  return { code: r.code, snap: r.stdout ? (JSON.parse(r.stdout) as Snapshot) : null };
}

test('register without --yes: refused (34) without a terminal, asked at one, and nothing is registered unless confirmed', { skip, timeout: 180_000 }, async () => {
  const before = await snapshotNow();
  assert.equal(before.code, 0);
  const lists = (s: Snapshot | null) => (s?.memsegLists ?? []).filter((l) => l.external).map((l) => l.baseVa);
  assert.deepEqual(lists(before.snap), []);

  const r = await runCli(['register', '--file-prefix', p.prefix, '--size', '4M', '--backing', 'memfd'], { timeoutMs: 60_000 });
  assert.equal(r.code, exitCodes['confirmation-required'], r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /rte_extmem_attach/, 'the risk is named first');
  assert.match(lines[lines.length - 1]!, /^memscope: registering changes the target: .*--yes\.$/);
  assert.equal(r.stdout, '');

  if (PYTHON) {
    const t = await atTerminal(['register', '--file-prefix', p.prefix, '--size', '4M', '--backing', 'memfd'], 'n');
    assert.ok(t.asked, `asked: ${t.out}`);
    assert.equal(t.code, exitCodes['confirmation-required'], t.out);
    assert.match(t.out, /not confirmed, nothing was changed/);
  }
  const afterwards = await snapshotNow();
  assert.equal(afterwards.code, 0);
  assert.deepEqual(lists(afterwards.snap), [], 'nothing was registered');
});

test('repair without --yes: refused (34) without a terminal, "n" at one changes nothing, "y" repairs', { skip, timeout: 240_000 }, async () => {
  const orphan = await startOrphanMaker(p.prefix, 1024 * 1024);
  await orphan.kill();
  const orphaned = async () => {
    const s = await snapshotNow();
    return (s.snap?.memsegLists ?? []).some((l) => l.baseVa === orphan.va && l.state === 'orphaned');
  };
  assert.ok(await orphaned(), 'an orphan to repair');
  try {
    const r = await runCli(['repair', '--file-prefix', p.prefix], { timeoutMs: 60_000 });
    assert.equal(r.code, exitCodes['confirmation-required'], r.stderr);
    assert.match(sentence(r.stderr), /^memscope: repair attaches to ".+" and unregisters .+: run it again with --yes\.$/);
    assert.ok(await orphaned(), 'not repaired without --yes');
    if (!PYTHON) return;
    const no = await atTerminal(['repair', '--file-prefix', p.prefix], 'n');
    assert.ok(no.asked, no.out);
    assert.equal(no.code, exitCodes['confirmation-required'], no.out);
    assert.ok(await orphaned(), 'not repaired after "n"');
    const yes = await atTerminal(['repair', '--file-prefix', p.prefix], 'y');
    assert.ok(yes.asked, yes.out);
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, new RegExp(`removed orphaned memseg list \\d+ at ${orphan.va}`));
    assert.equal(await orphaned(), false, 'repaired after "y"');
  } finally {
    // leave the primary clean whatever happened above
    if (await orphaned().catch(() => false)) await runCli(['repair', '--file-prefix', p.prefix, '--yes'], { timeoutMs: 60_000 });
  }
});

test('EAL extra args with shell metacharacters reach rte_eal_init as they are; neither they nor the target\u2019s argv run in a shell', { skip, timeout: 120_000 }, async () => {
  const c = path.join(tmp, 'canary-eal');
  const extraEalArgs = [`--log-level=memscope.$(touch ${c}).y:info`, `--log-level=memscope.\`touch ${c}\`;touch ${c}:info`];
  const { agent, result } = await attachedAgent<{ access: string }>({ filePrefix: p.prefix, via: 'secondary', extraEalArgs });
  try {
    assert.equal(result.access, 'secondary', 'attached with those args');
    const s = (await agent.rpc.sendRequest('memscope/snapshot', {})) as Snapshot;
    assert.equal(s.target.filePrefix, p.prefix);
  } finally {
    agent.kill();
    await Promise.race([agent.exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  // the primary's argv (read by the agent for its lcores) holds `$(touch …)` too
  assert.ok(fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(`$(touch ${TARGET_CANARY})`));
  assert.equal(fs.existsSync(c), false, 'no shell ran the EAL args');
  assert.equal(fs.existsSync(TARGET_CANARY), false, 'no shell ran the target\u2019s argv');
});
