// Hostile file prefixes, paths and names (`../../etc`, absolute paths, 300
// characters, line breaks, NUL, `$(touch …)`, `;rm -rf`, backquotes, unicode
// tricks, a leading '-') fed to every CLI command and option that takes them
// (the real out/native-agent/cli.js) and to the agent's JSON-RPC requests:
// each is refused with exit status 2 / a bad-arguments error, in one
// sentence naming the option or field, before any file is touched. The proof
// of "no file touched" is strace (every file syscall of the run: nothing
// created or changed, no path the run opened that a run refused for a
// trivial reason does not open too) where strace is installed, and in any
// case: the `$(touch …)` canary never exists and nothing named after an input
// appears under the DPDK runtime roots or hugetlbfs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { exitCodes } from '../../common/errors';
import { CLI, runArgv } from '../helpers/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-hostile-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Created by any shell that ever sees one of the inputs below. */
const CANARY = `/tmp/pwned-memscope-${process.pid}`;
const NONE = `ms-hostile-${process.pid}-none`;

function findStrace(): string | null {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(d, 'strace');
    if (d && fs.existsSync(p)) return p;
  }
  return null;
}
const STRACE = findStrace();
const straceWorks = STRACE !== null && spawnSync(STRACE, ['-qq', '-e', 'trace=%file', '-o', '/dev/null', 'true']).status === 0;
if (!straceWorks) console.log(`# paths: strace ${STRACE ? 'cannot trace here (ptrace refused)' : 'is not installed (apt-get install strace)'}: "no file touched" is checked by the canary and the runtime roots only`);

/** Hostile file prefixes. NUL cannot travel in an argv (execve's strings end there): it goes to JSON-RPC only. */
const PREFIXES: [string, string][] = [
  ['../../etc', '../../etc'],
  ['/etc/passwd', '/etc/passwd'],
  ['..', '..'],
  ['.', '.'],
  ['300 characters', 'a'.repeat(300)],
  ['65 characters', 'b'.repeat(65)],
  ['a line break', 'rte\nx'],
  ['a carriage return', 'rte\rx'],
  ['a terminal escape', '\x1b[2J\x1b]0;owned\x07'],
  ['$(touch …)', `$(touch ${CANARY})`],
  ['$(id)', '$(id)'],
  [';rm -rf', ';rm -rf /tmp/x'],
  ['`id`', '`id`'],
  ['a pipe', 'rte|tee'],
  ['a space', 'rte x'],
  ['a right-to-left override', 'rte\u202egnp'],
  ['a zero-width space', 'r\u200bte'],
  ['a Cyrillic look-alike', 'rt\u0435'],
  ['a BOM', '\ufeffrte'],
  ['a lone surrogate', 'r\ud800te'],
  ['a leading -', '-x'],
  ['an EAL option', '--in-memory'],
  ['empty', ''],
  ['a %', 'rte%s'],
];

/** Hostile values per path option, with a command line that reaches it. */
const PATHS: { option: string; label: RegExp; argv: (v: string) => string[]; values: string[] }[] = [
  {
    option: '--runtime-dir (list)',
    label: /^--runtime-dir "/,
    argv: (v) => ['list', '--json', `--runtime-dir=${v}`],
    values: ['../../etc', 'relative', '/var/run/dpdk/../../etc', '/tmp/a\nb', '/tmp/\x1b[2J', '/tmp/\u202ex', '-x', '/' + 'x'.repeat(5000), `$(touch ${CANARY})`],
  },
  {
    option: '--runtime-dir (snapshot)',
    label: /^--runtime-dir "/,
    argv: (v) => ['snapshot', `--file-prefix=${NONE}`, `--runtime-dir=${v}`],
    values: ['../../etc', '/var/run/dpdk/..', `;touch ${CANARY}`],
  },
  {
    option: '--runtime-dir (serve)',
    label: /^--runtime-dir "/,
    argv: (v) => ['serve', `--runtime-dir=${v}`],
    values: ['../../etc', '/tmp/a\nb'],
  },
  {
    option: '--out',
    label: /^--out "/,
    argv: (v) => ['snapshot', `--file-prefix=${NONE}`, `--out=${v}`],
    values: ['/etc/passwd', '../../etc', '/etc/sudoers.d/memscope', '/root/.bashrc', '/tmp/x.json\n', '-x.json', `$(touch ${CANARY}).sh`, '/tmp/' + 'x'.repeat(5000) + '.json', '/tmp/.json'],
  },
  {
    option: '--eal-log',
    label: /^--eal-log "/,
    argv: (v) => ['snapshot', `--file-prefix=${NONE}`, '--via=secondary', `--eal-log=${v}`],
    values: ['/etc/shadow', '../../etc/x', '/tmp/a\nb.log', '-x.log', `/tmp/$(touch ${CANARY})`],
  },
  {
    option: '--dpdk-lib',
    label: /^--dpdk-lib "/,
    argv: (v) => ['snapshot', `--file-prefix=${NONE}`, `--dpdk-lib=${v}`],
    values: ['/tmp/evil.so', './librte_eal.so', 'lib/librte_eal.so.23', '/usr/lib/../../tmp/librte_eal.so', `$(touch ${CANARY})`, '/usr/lib/librte_eal.so\n', '-librte_eal.so'],
  },
  {
    option: '--dpdk-lib (list)',
    label: /^--dpdk-lib "/,
    argv: (v) => ['list', `--dpdk-lib=${v}`],
    values: ['/tmp/evil.so', '../../etc/passwd'],
  },
  {
    option: '--trace',
    label: /^--trace "/,
    argv: (v) => ['snapshot', `--file-prefix=${NONE}`, `--trace=${v}`],
    values: ['/tmp/a\nb', '\x1b[2J', '-x', '/tmp/\u202ex', '/' + 'x'.repeat(5000)],
  },
  {
    option: '--trace (leaks)',
    label: /^--trace "/,
    argv: (v) => ['leaks', `--file-prefix=${NONE}`, `--trace=${v}`],
    values: ['/tmp/a\nb', '-x'],
  },
  {
    option: '--name',
    label: /^--name "/,
    argv: (v) => ['snapshot', `--file-prefix=${NONE}`, `--name=${v}`],
    values: ['a\nb', '\u202eabc', '', 'x'.repeat(300), '\x1b[31mred'],
  },
  {
    option: 'diff files',
    label: /^the snapshot file "/,
    argv: (v) => ['diff', '--', v, 'b.memscope.json'],
    values: ['/etc/passwd', '../../etc', '/etc/shadow', 'a\nb.json', '-x.json', `$(touch ${CANARY})`],
  },
  {
    option: '--trace (diff)',
    label: /^--trace "/,
    argv: (v) => ['diff', 'a.memscope.json', 'b.memscope.json', `--trace=${v}`],
    values: ['/tmp/a\nb', '-x'],
  },
];

/** Every command that takes a file prefix, with what else it needs to get that far. */
const PREFIX_COMMANDS: [string, (p: string) => string[]][] = [
  ['snapshot', (p) => ['snapshot', `--file-prefix=${p}`, '--json']],
  ['watch', (p) => ['watch', `--file-prefix=${p}`, '--count=1']],
  ['leaks', (p) => ['leaks', `--file-prefix=${p}`, '--duration=1s']],
  ['register', (p) => ['register', `--file-prefix=${p}`, '--size=4M', '--yes']],
  ['unregister', (p) => ['unregister', `--file-prefix=${p}`, '--va=0x100000000']],
  ['repair', (p) => ['repair', `--file-prefix=${p}`, '--yes']],
  ['serve', (p) => ['serve', `--file-prefix=${p}`]],
];

interface Run {
  code: number | null;
  stderr: string;
  stdout: string;
  trace: string | null;
}

let traceN = 0;

/** The CLI with `args`, under strace when it works; every wait bounded. */
async function runTraced(args: string[], timeoutMs = 20_000): Promise<Run> {
  const traceFile = straceWorks ? path.join(tmp, `trace-${++traceN}.txt`) : null;
  const argv = traceFile ? [STRACE!, '-f', '-qq', '-e', 'trace=%file', '-o', traceFile, process.execPath, CLI, ...args] : [process.execPath, CLI, ...args];
  const r = await runArgv(argv, { timeoutMs });
  return { code: r.code, stderr: r.stderr, stdout: r.stdout, trace: traceFile ? fs.readFileSync(traceFile, 'utf8') : null };
}

interface FileCall {
  call: string;
  path: string;
  line: string;
}

/** Each file syscall of an strace log with its (first) path; execve's argv is left out. */
function fileCalls(trace: string): FileCall[] {
  const out: FileCall[] = [];
  for (const line of trace.split('\n')) {
    const m = /^\d+\s+(\w+)\((?:AT_FDCWD|-?\d+)?,?\s*"((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) out.push({ call: m[1]!, path: m[2]!, line });
  }
  return out;
}

const WRITES = /^(mkdir|mkdirat|unlink|unlinkat|rmdir|rename|renameat2?|link|linkat|symlink|symlinkat|chmod|fchmodat|chown|lchown|fchownat|truncate|utime|utimes|utimensat|futimesat|mknod|mknodat|creat|mount|umount2|setxattr|lsetxattr|removexattr|lremovexattr)$/;

/** What a run must never have done to the file system: one line per offence. */
function offences(trace: string, allowed: ReadonlySet<string>): string[] {
  const bad: string[] = [];
  for (const c of fileCalls(trace)) {
    if (c.call === 'execve') continue;
    if (WRITES.test(c.call)) bad.push(`changed: ${c.line}`);
    else if (/^open(at|at2)?$/.test(c.call) && /O_CREAT|O_WRONLY|O_RDWR|O_TRUNC/.test(c.line)) bad.push(`opened to write: ${c.line}`);
    else if (ROOTS.some((r) => c.path === r || c.path.startsWith(`${r}/`)) || /^\/run\/dpdk|passwd|shadow|sudoers|pwned|bashrc/.test(c.path)) bad.push(`looked at: ${c.line}`);
    else if (!allowed.has(c.path)) bad.push(`not in the baseline: ${c.line}`);
  }
  return bad;
}

let baselineCli: Set<string> | null = null;

/** Paths the CLI touches when it stops before doing anything (usage): loading node and its own modules. */
async function cliBaseline(): Promise<Set<string>> {
  if (baselineCli) return baselineCli;
  const r = await runTraced(['--help']);
  assert.equal(r.code, 0, r.stderr);
  baselineCli = new Set(fileCalls(r.trace!).map((c) => c.path));
  return baselineCli;
}

/** Runtime roots and hugetlbfs, where a prefix would turn into a path. */
const ROOTS = ['/var/run/dpdk', ...(process.env.XDG_RUNTIME_DIR ? [path.join(process.env.XDG_RUNTIME_DIR, 'dpdk')] : []), '/dev/hugepages'];

/** Paths an input would become under the roots, that did not exist before. */
function derivedPaths(value: string): string[] {
  if (value.includes('\0')) return [];
  const out: string[] = [];
  for (const r of ROOTS) {
    const p = path.resolve(r, value);
    if (!fs.existsSync(p)) out.push(p);
    const h = path.resolve(r, `${value}map_0`);
    if (!fs.existsSync(h)) out.push(h);
  }
  return out;
}

const counts = { cli: 0, rpc: 0, rejected: 0, touched: 0 };

function oneSentence(stderr: string, label: RegExp, what: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(stderr)}`);
  const line = lines[0]!;
  assert.match(line, /^memscope: .+: .+\.$/, what);
  assert.match(line.slice('memscope: '.length), label, what);
  assert.match(line, /^[\x20-\x7e]+$/, `${what}: printable ASCII only (hostile bytes masked)`);
  return line;
}

async function expectRefused(args: string[], label: RegExp, value: string, what: string): Promise<void> {
  const before = derivedPaths(value);
  const r = await runTraced(args);
  counts.cli++;
  assert.equal(r.code, exitCodes['bad-arguments'], `${what}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
  oneSentence(r.stderr, label, what);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  counts.rejected++;
  const bad = r.trace ? offences(r.trace, await cliBaseline()) : [];
  const appeared = before.filter((p) => fs.existsSync(p));
  if (fs.existsSync(CANARY)) bad.push(`the canary ${CANARY} exists`);
  bad.push(...appeared.map((p) => `appeared: ${p}`));
  if (bad.length) counts.touched++;
  assert.deepEqual(bad, [], `${what}: touched files`);
}

test('hostile file prefixes are refused by every CLI command that takes one, exit 2, one sentence, nothing touched', { timeout: 600_000 }, async () => {
  for (const [cmd, argv] of PREFIX_COMMANDS) {
    for (const [label, value] of PREFIXES) {
      await expectRefused(argv(value), /^--file-prefix "/, value, `${cmd} --file-prefix ${label}`);
    }
  }
});

test('hostile paths and names are refused by every option that takes them, exit 2, one sentence, nothing touched', { timeout: 600_000 }, async () => {
  for (const o of PATHS) {
    for (const v of o.values) await expectRefused(o.argv(v), o.label, v, `${o.option} ${JSON.stringify(v.slice(0, 40))}`);
  }
});

test('a NUL cannot even reach the CLI: execve ends an argument there, and Node refuses to spawn it', () => {
  assert.throws(() => spawnSync(process.execPath, [CLI, 'snapshot', '--file-prefix', 'rte\0../../etc']), /null bytes|ERR_INVALID_ARG_VALUE/);
});

test('the internal holder and guardian commands check the prefix and runtime dirs of their JSON spec too', async () => {
  for (const cmd of ['__hold', '__guard']) {
    for (const spec of [{ prefix: '../../etc' }, { prefix: `$(touch ${CANARY})` }, { prefix: 'rte', runtimeDirs: ['../../etc'] }]) {
      await expectRefused([cmd, JSON.stringify(spec)], /^--(file-prefix|runtime-dir) "/, String(spec.prefix), `${cmd} ${JSON.stringify(spec)}`);
    }
  }
});

interface RpcAgent {
  request(method: string, params: unknown): Promise<{ ok: true } | { ok: false; code: number; data?: { code?: string; message?: string } }>;
  close(): Promise<string | null>;
}

/** `memscope serve` (under strace when it works) with a JSON-RPC connection. */
function rpcAgent(): RpcAgent {
  const traceFile = straceWorks ? path.join(tmp, `trace-${++traceN}.txt`) : null;
  const argv = traceFile ? [STRACE!, '-f', '-qq', '-e', 'trace=%file', '-o', traceFile, process.execPath, CLI, 'serve'] : [process.execPath, CLI, 'serve'];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stderr.resume();
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  rpc.onError(() => undefined);
  rpc.listen();
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  after(kill);
  const within = <T>(p: Promise<T>, ms: number, what: string) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
  return {
    request: (method, params) =>
      within(
        rpc.sendRequest(method, params).then(
          () => ({ ok: true as const }),
          (e: { code: number; data?: { code?: string; message?: string } }) => ({ ok: false as const, code: e.code, data: e.data }),
        ),
        15_000,
        method,
      ),
    async close() {
      await within(rpc.sendRequest('memscope/detach', {}), 15_000, 'detach').catch(() => kill());
      await within(closed, 15_000, 'agent exit').catch(() => {
        kill();
        return closed;
      });
      rpc.dispose();
      return traceFile ? fs.readFileSync(traceFile, 'utf8') : null;
    },
  };
}

test('hostile values in the agent\u2019s JSON-RPC requests are refused with a typed bad-arguments error, nothing touched', { timeout: 300_000 }, async () => {
  // the baseline: an agent that only answered a request it had to refuse (not attached)
  const base = rpcAgent();
  const na = await base.request('memscope/snapshot', {});
  assert.equal(na.ok === false && na.data?.code, 'not-attached');
  const baseTrace = await base.close();
  const allowed = baseTrace ? new Set(fileCalls(baseTrace).map((c) => c.path)) : new Set<string>();

  const agent = rpcAgent();
  const cases: [string, unknown, RegExp][] = [];
  for (const [label, v] of [...PREFIXES, ['a NUL', 'rte\0../../etc'] as [string, string]]) cases.push([`attach filePrefix ${label}`, { filePrefix: v }, /^filePrefix "|^invalid request: filePrefix/]);
  for (const v of [42, null, ['rte'], { toString: 'rte' }, true]) cases.push([`attach filePrefix ${JSON.stringify(v)}`, { filePrefix: v }, /^invalid request: filePrefix/]);
  for (const v of ['../../etc', 'relative', '/a/../etc', '/tmp/a\nb', '/tmp/a\0b', '-x', `$(touch ${CANARY})`]) cases.push([`attach runtimeDirs ${JSON.stringify(v)}`, { filePrefix: NONE, runtimeDirs: [v] }, /^runtimeDirs "/]);
  for (const v of ['/tmp/evil.so', './librte_eal.so', `$(touch ${CANARY})`, '/usr/lib/librte_eal.so\n', '../../etc/librte_eal.so']) cases.push([`attach dpdkLib ${JSON.stringify(v)}`, { filePrefix: NONE, dpdkLib: v }, /^dpdkLib "/]);
  for (const v of ['/tmp/librte_eal.so\0']) cases.push([`attach dpdkLib with a NUL`, { filePrefix: NONE, dpdkLib: v }, /^dpdkLib "/]);
  for (const v of ['--proc-type=primary', '--file-prefix=../../etc', '--log-level=x\n--in-memory', `--huge-dir=/a\u202e`]) cases.push([`attach extraEalArgs ${JSON.stringify(v)}`, { filePrefix: NONE, extraEalArgs: [v] }, /^extraEalArgs "/]);
  const listCases: [string, unknown, RegExp][] = ['../../etc', 'relative', '/tmp/a\nb', '-x'].map((v) => [`listTargets runtimeDirs ${JSON.stringify(v)}`, { runtimeDirs: [v] }, /^runtimeDirs "/]);
  const subCases: [string, unknown, RegExp][] = ['/tmp/a\nb', '/tmp/\u202ex'].map((v) => [`subscribe traceDir ${JSON.stringify(v)}`, { intervalMs: 1000, traceDir: v }, /^traceDir "/]);
  try {
    for (const [method, list] of [
      ['memscope/attach', cases],
      ['memscope/listTargets', listCases],
      ['memscope/subscribe', subCases],
    ] as const) {
      for (const [what, params, label] of list) {
        const r = await agent.request(method, params);
        counts.rpc++;
        assert.equal(r.ok, false, `${what}: accepted`);
        if (r.ok) continue;
        assert.equal(r.data?.code, 'bad-arguments', `${what}: ${JSON.stringify(r)}`);
        const msg = r.data?.message ?? '';
        assert.match(msg, label, what);
        assert.match(msg, /^[\x20-\x7e]+\.$/, `${what}: one printable sentence: ${JSON.stringify(msg)}`);
        assert.doesNotMatch(msg, /\.\s+[A-Z]/, `${what}: one sentence`);
        counts.rejected++;
      }
    }
    // the agent is still there, and still not attached: nothing got through
    const still = await agent.request('memscope/snapshot', {});
    assert.equal(still.ok === false && still.data?.code, 'not-attached');
  } finally {
    const trace = await agent.close();
    const bad = trace ? offences(trace, allowed) : [];
    if (fs.existsSync(CANARY)) bad.push(`the canary ${CANARY} exists`);
    if (bad.length) counts.touched++;
    assert.deepEqual(bad, [], 'the agent touched files');
  }
});

test('counts', () => {
  const n = counts.cli + counts.rpc;
  const line = `paths (${counts.cli} CLI runs, ${counts.rpc} JSON-RPC requests${straceWorks ? ', each run under strace' : ', strace absent'}): inputs ${n}, rejected ${counts.rejected}, files touched ${counts.touched}`;
  console.log(line);
  assert.ok(n > 100, `${n} inputs`);
  assert.equal(counts.rejected, n);
  assert.equal(counts.touched, 0);
  assert.equal(fs.existsSync(CANARY), false);
});
