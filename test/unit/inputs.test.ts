// common/checks.ts's host-side inputs: the one set of rules the CLI, the
// agent server and the extension apply to file prefixes, paths and names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkInputs, inputProblem, type InputKind, type InputSource } from '../../common/checks';
import { MemscopeError } from '../../common/errors';
import { validateAttach, validateListTargets, validateSubscribe } from '../../common/protocol';

const oneSentence = (s: string) => s.length > 0 && !s.includes('\n') && /\.$/.test(s) && !/[.!?]\s+[A-Z]/.test(s) && /^[\x20-\x7e]+$/.test(s);

function refused(kind: InputKind, v: unknown, source: InputSource = 'cli'): MemscopeError {
  try {
    checkInputs(source, { [kind]: kind === 'runtimeDir' || kind === 'snapshotFile' || kind === 'ealArg' ? [v] : v });
  } catch (e) {
    assert.ok(e instanceof MemscopeError && e.code === 'bad-arguments', `${kind} ${JSON.stringify(v)}: a bad-arguments MemscopeError`);
    assert.ok(oneSentence(e.message), `one printable sentence: ${JSON.stringify(e.message)}`);
    return e;
  }
  assert.fail(`${kind} ${JSON.stringify(v)} was accepted`);
}

test('file prefixes: plain DPDK names pass', () => {
  for (const p of ['rte', 'memscope-demo', 'a.b+c', '_x', 'x'.repeat(64), 'A1_-+.z']) assert.equal(inputProblem('filePrefix', p), null, p);
});

test('file prefixes: paths, dots, long names, controls, shell metacharacters, unicode tricks and options are refused, each saying why', () => {
  const cases: [unknown, RegExp][] = [
    ['../../etc', /contains '\/'/],
    ['/etc/passwd', /contains '\/'/],
    ['..', /is "\.\.", a directory of its own/],
    ['.', /is "\.", a directory of its own/],
    ['a..b', /contains '\.\.'/],
    ['.hidden', /starts with '\.'/],
    ['x'.repeat(65), /is 65 characters long \(at most 64\)/],
    ['x'.repeat(300), /is 300 characters long/],
    ['a\nb', /contains a line break/],
    ['a\rb', /contains a line break/],
    ['a\0b', /contains a NUL byte/],
    ['a\x1b[31mb', /contains a control character \(U\+001B\)/],
    ['a\x7fb', /control character \(U\+007F\)/],
    ['a\u0085b', /control character \(U\+0085\)/],
    ['$(touch /tmp/pwned-X)', /contains '\/'/],
    ['$(id)', /shell metacharacter '\$'/],
    [';rm -rf', /shell metacharacter ';'/],
    ['`id`', /shell metacharacter '`'/],
    ['a|b', /shell metacharacter '\|'/],
    ['a&b', /shell metacharacter '&'/],
    ['a b', /shell metacharacter ' '/],
    ["a'b", /shell metacharacter '''/],
    ['a%d', /contains '%'/],
    ['r\u202ete', /invisible or direction-changing character \(U\+202E\)/],
    ['r\u200bte', /invisible .* \(U\+200B\)/],
    ['\ufeffrte', /invisible .* \(U\+FEFF\)/],
    ['rte\u2028', /\(U\+2028\)/],
    ['r\ud800te', /\(U\+D800\)/],
    ['rté', /non-ASCII character U\+00E9/],
    ['rt\u0435', /non-ASCII character U\+0435/], // a Cyrillic 'е' that looks like 'e'
    ['-x', /starts with '-'/],
    ['--in-memory', /starts with '-'/],
    ['', /is empty/],
    [42, /is not a string/],
    [['rte'], /is not a string/],
  ];
  for (const [v, why] of cases) {
    const e = refused('filePrefix', v);
    assert.match(e.message, why, JSON.stringify(v));
    assert.match(e.message, /^--file-prefix "/);
    assert.match(e.message, /: use the plain name the primary was started with/);
  }
});

test('the source names the input: --file-prefix on the CLI, filePrefix over JSON-RPC, the setting in VS Code', () => {
  assert.match(refused('filePrefix', '../x', 'rpc').message, /^filePrefix "\.\.\/x" contains '\/'/);
  assert.match(refused('runtimeDir', 'rel', 'settings').message, /^memscope\.runtimeDirs "rel" is not an absolute path/);
  assert.match(refused('dpdkLib', '/tmp/evil.so', 'settings').message, /^memscope\.dpdkLibraryPath "\/tmp\/evil\.so" is not a librte_eal\.so/);
  assert.match(refused('ealArg', '--proc-type=primary', 'settings').message, /^memscope\.eal\.extraArgs "--proc-type=primary" is not an EAL option/);
});

test('quoted values are masked and cut: no control character or long input reaches a message', () => {
  const e = refused('filePrefix', '\x1b]0;pwned\x07' + 'x'.repeat(500));
  assert.ok(!/[\x00-\x1f]/.test(e.message));
  assert.ok(e.message.length < 400, `${e.message.length} characters`);
});

test('runtime dirs: absolute, no "..", bounded, nothing unseen', () => {
  for (const d of ['/var/run/dpdk', '/run/user/1000/dpdk', '/tmp/my dpdk', '/tmp/x;y']) assert.equal(inputProblem('runtimeDir', d), null, d);
  for (const d of ['relative/dir', './x', '../../etc', '/var/run/../run/dpdk', '/a/..', '/a\0b', '/a\nb', '', '-x', '/' + 'x'.repeat(4095), '/\u202etmp']) refused('runtimeDir', d);
  // bytes, not characters: 2000 two-byte characters are 4001 bytes with the slash
  assert.equal(inputProblem('runtimeDir', '/' + 'é'.repeat(2047)), null);
  assert.match(inputProblem('runtimeDir', '/' + 'é'.repeat(2048)) ?? '', /4097 bytes long/);
});

test('--out and --eal-log must name a .json / .log file, so they cannot clobber /etc/passwd or a sudoers.d entry', () => {
  for (const f of ['a.memscope.json', '/tmp/x.json', '../snap.json', 'dir with space/a.json']) assert.equal(inputProblem('outFile', f), null, f);
  for (const f of ['/etc/passwd', '/etc/sudoers.d/memscope', '/root/.bashrc', '../../etc', '.json', '/tmp/.json', 'a.json\n', '-o.json', 'x.json/']) refused('outFile', f);
  assert.equal(inputProblem('ealLog', '/tmp/memscope-eal.log'), null);
  for (const f of ['/etc/shadow', '/tmp/x.log\0', '/tmp/x.log\n', '.log', '-x.log']) refused('ealLog', f);
});

test('--dpdk-lib must be a librte_eal.so, absolute or a bare soname', () => {
  for (const l of ['/usr/lib/x86_64-linux-gnu/librte_eal.so.23', 'librte_eal.so.23', '/opt/dpdk/lib/librte_eal.so', '/opt/dpdk/lib/librte_eal.so.23.0']) assert.equal(inputProblem('dpdkLib', l), null, l);
  for (const l of ['/tmp/evil.so', './librte_eal.so', 'x/librte_eal.so.23', '/usr/lib/../../tmp/librte_eal.so', '/usr/lib/librte_eal.so.23\0', '$(id)/librte_eal.so', '-librte_eal.so']) refused('dpdkLib', l);
});

test('trace dirs and snapshot names: any visible text, bounded; snapshot files name a .json file', () => {
  assert.equal(inputProblem('traceDir', '/root/dpdk-traces'), null);
  assert.equal(inputProblem('snapshotFile', 'a b.memscope.json'), null);
  for (const f of ['/etc/shadow', '../../etc', '/tmp/x.json\n']) refused('snapshotFile', f);
  assert.equal(inputProblem('snapshotName', 'before the leak — 12:00'), null);
  assert.equal(inputProblem('snapshotName', '-before'), null, 'a name is never an option');
  for (const v of ['a\nb', '\u202egnp.exe', '', 'x'.repeat(201)]) refused('snapshotName', v);
  for (const v of ['/tmp/\x1b[2J', '-x']) refused('traceDir', v);
  refused('snapshotFile', 'a\nb.json');
});

test('EAL extra args: the whitelist, and never a control character', () => {
  for (const a of ['--log-level=lib.eal:debug', '--no-telemetry', '--huge-dir=/mnt/huge', '--log-level=$(touch /tmp/x)']) assert.equal(inputProblem('ealArg', a), null, a);
  for (const a of ['--proc-type=primary', '--file-prefix=x', '--log-level=a\u202eb', '--log-level=x\nboom', '--huge-dir=/a\0b']) refused('ealArg', a);
});

test('undefined and null are "not given"; a list is checked element by element', () => {
  assert.doesNotThrow(() => checkInputs('cli', { filePrefix: undefined, outFile: null, runtimeDir: [] }));
  assert.throws(() => checkInputs('cli', { runtimeDir: ['/ok', 'bad'] }), /--runtime-dir "bad"/);
});

test('the JSON-RPC validators apply the same rules', () => {
  const bad = (f: () => unknown, field: RegExp) => assert.throws(f, (e: unknown) => e instanceof MemscopeError && e.code === 'bad-arguments' && field.test(e.message));
  bad(() => validateAttach({ filePrefix: '../../etc' }), /^filePrefix /);
  bad(() => validateAttach({ filePrefix: 'rte', runtimeDirs: ['rel'] }), /^runtimeDirs /);
  bad(() => validateAttach({ filePrefix: 'rte', dpdkLib: '/tmp/evil.so' }), /^dpdkLib /);
  bad(() => validateAttach({ filePrefix: 'rte', extraEalArgs: ['--proc-type=primary'] }), /^extraEalArgs /);
  bad(() => validateListTargets({ runtimeDirs: ['/a/../etc'] }), /^runtimeDirs /);
  bad(() => validateSubscribe({ intervalMs: 1000, traceDir: '/tmp/\nx' }), /^traceDir /);
});
