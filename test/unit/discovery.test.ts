// Discovery (native-agent/discovery.ts) on fake runtime dirs under a temp
// dir: prefix and path validation, and what inspectTarget makes of leftovers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemscopeError } from '../../common/errors';
import { cmdlineMode, inspectTarget, listTargets, otherConstants, readConfig, runtimeRoots, validatePrefix } from '../../native-agent/discovery';
import { layoutFor } from '../../native-agent/dpdk/layout';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A prefix no process on this machine uses. */
const uniq = (tag: string) => `ms-unit-${process.pid}-${tag}`;

function isOneSentence(s: string): boolean {
  return s.length > 0 && !s.includes('\n') && /[.!?]$/.test(s) && !/[.!?]\s+[A-Z]/.test(s);
}

function badArguments(e: unknown): boolean {
  return e instanceof MemscopeError && e.code === 'bad-arguments' && isOneSentence(e.message);
}

test('validatePrefix accepts DPDK file prefixes', () => {
  for (const p of ['rte', 'ms-test-1', 'a.b+c', '_x', 'x'.repeat(64)]) assert.equal(validatePrefix(p), p);
});

test('validatePrefix rejects anything that could leave the runtime dir', () => {
  const bad: unknown[] = ['', '../etc', '/abs', 'a/b', '..', 'a..b', '.hidden', 'x'.repeat(65), 'a\nb', 'rte\n', 'a;rm -rf', 'a b', 'a\0b', 42, null, undefined, ['rte']];
  for (const p of bad) {
    assert.throws(() => validatePrefix(p), badArguments, `should reject ${JSON.stringify(p)}`);
  }
  // the message quotes the input with control characters masked, and says what is wrong
  assert.throws(() => validatePrefix('a\nb'), (e: unknown) => badArguments(e) && /^--file-prefix "a\?b" contains a line break: /.test((e as Error).message));
});

test('runtimeRoots rejects relative paths and ".."', () => {
  for (const r of ['relative/dir', './x', '/var/run/../run/dpdk', '/a/..', '/a\0b', '']) {
    assert.throws(() => runtimeRoots([r]), badArguments, `should reject ${JSON.stringify(r)}`);
  }
  assert.throws(() => runtimeRoots([42 as unknown as string]), badArguments);
});

test('runtimeRoots starts with /var/run/dpdk, adds $XDG_RUNTIME_DIR/dpdk and extra dirs, without duplicates', () => {
  const saved = process.env.XDG_RUNTIME_DIR;
  try {
    const xdg = path.join(tmp, 'xdg');
    fs.mkdirSync(path.join(xdg, 'dpdk'), { recursive: true });
    process.env.XDG_RUNTIME_DIR = xdg;
    const extra = path.join(tmp, 'extra');
    fs.mkdirSync(extra);
    const link = path.join(tmp, 'extra-link');
    fs.symlinkSync(extra, link);
    const roots = runtimeRoots([extra, extra, link, `${extra}/`, path.join(xdg, 'dpdk'), '/var/run/dpdk']);
    assert.deepEqual(roots, ['/var/run/dpdk', path.join(xdg, 'dpdk'), extra]);
    delete process.env.XDG_RUNTIME_DIR;
    assert.deepEqual(runtimeRoots(), ['/var/run/dpdk']);
  } finally {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  }
});

test('cmdlineMode', () => {
  assert.equal(cmdlineMode(['x', '--in-memory']), 'in-memory');
  assert.equal(cmdlineMode(['x', '--no-huge', '-m', '64']), 'no-huge');
  assert.equal(cmdlineMode(['x', '--file-prefix=rte']), null);
  assert.equal(cmdlineMode(null), null);
});

// ------------------------------------------------------------ inspectTarget

const CONFIG_SIZE = 25344;

function runtimeDir(name: string, config?: Buffer): string {
  const dir = path.join(tmp, 'runtime', name);
  fs.mkdirSync(dir, { recursive: true });
  if (config) fs.writeFileSync(path.join(dir, 'config'), config);
  return dir;
}

function header(magic: number, version: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(magic, 0);
  b.writeUInt32LE(version, 4);
  return b;
}

test('a runtime dir without config and without a process is a leftover: no-target', () => {
  const prefix = uniq('empty');
  const dir = runtimeDir(prefix);
  const t = inspectTarget(dir, prefix);
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'no-target');
  assert.equal(t.alive, false);
  assert.equal(t.pid, null);
  assert.ok(t.reason && isOneSentence(t.reason), t.reason);
  assert.ok(t.reason!.includes(dir));
});

test('a config with the wrong magic is not attachable', () => {
  const prefix = uniq('badmagic');
  const dir = runtimeDir(prefix, header(0xdeadbeef, 0x160b0b63, CONFIG_SIZE));
  const t = inspectTarget(dir, prefix);
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'not-attachable');
  assert.equal(t.alive, false);
  assert.equal(t.dpdkVersion, null, 'a bad magic says nothing of the version');
  assert.match(t.reason ?? '', /bad magic 0xdeadbeef/);
  assert.ok(isOneSentence(t.reason!), t.reason);
});

test('a valid 22.11 config that no process locks: primary-dead, with its version', () => {
  const prefix = uniq('dead');
  const dir = runtimeDir(prefix, header(0x012e6fee, 0x160b0b63, CONFIG_SIZE));
  const t = inspectTarget(dir, prefix, { agentVersionWord: () => 0x160b0b63 });
  assert.equal(t.alive, false);
  assert.equal(t.pid, null);
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'primary-dead');
  assert.equal(t.dpdkVersion, '22.11.11');
  assert.equal(t.versionWord, 0x160b0b63);
  assert.equal(t.memsegLists, 0);
  assert.equal(t.hugepageBytes, 0);
  assert.ok(isOneSentence(t.reason!), t.reason);
  assert.ok(t.reason!.includes(prefix));
});

test('a dead 22.11 target: without an agent library, or with another version, that is the reason given', () => {
  const prefix = uniq('nolib');
  const dir = runtimeDir(prefix, header(0x012e6fee, 0x160b0b63, CONFIG_SIZE));
  assert.equal(inspectTarget(dir, prefix, { agentVersionWord: () => null }).reasonCode, 'no-dpdk-library');
  const other = inspectTarget(dir, prefix, { agentVersionWord: () => 0x170b0063 });
  assert.equal(other.reasonCode, 'version-mismatch');
  assert.match(other.reason ?? '', /22\.11\.11.*23\.11\.0/);
});

test('a config header shorter than the struct still yields the version', () => {
  const prefix = uniq('short');
  const dir = runtimeDir(prefix, header(0x012e6fee, 0x170b0063, 64));
  const t = inspectTarget(dir, prefix, { agentVersionWord: () => 0x170b0063 });
  assert.equal(t.dpdkVersion, '23.11.0');
  assert.equal(t.versionWord, 0x170b0063);
  assert.equal(t.attachable, false);
  assert.equal(t.memsegLists, 0);
  // 23.11's table was never checked against a live 23.11: that is said before anything else
  assert.equal(t.reasonCode, 'layout-unverified');
  assert.match(t.reason ?? '', /runs DPDK 23\.11\.0, whose layout table .* never checked against a live 23\.11 primary.*reads DPDK 22\.11, 24\.11 and 25\.11/);
  const r = readConfig(path.join(dir, 'config'));
  assert.equal(r.cfg, null);
  assert.equal(r.magic, 0x012e6fee);
  assert.equal(r.versionWord, 0x170b0063);
});

test('a release Memscope has no table for is refused naming the ones it reads', () => {
  const prefix = uniq('unknown');
  const dir = runtimeDir(prefix, header(0x012e6fee, 0x18070063, 64));
  const t = inspectTarget(dir, prefix, { agentVersionWord: () => 0x18070063 });
  assert.equal(t.reasonCode, 'version-mismatch');
  assert.match(t.reason ?? '', /^prefix "[^"]+" runs DPDK 24\.07\.0, whose private memory layout Memscope does not know \(it reads DPDK 22\.11, 24\.11 and 25\.11\)/);
});

test('an empty config file is not a DPDK config', () => {
  const prefix = uniq('zero');
  const dir = runtimeDir(prefix, Buffer.alloc(0));
  const t = inspectTarget(dir, prefix);
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'not-attachable');
});

test('listTargets walks an extra runtime root and skips files and odd names', () => {
  const root = path.join(tmp, 'root2');
  fs.mkdirSync(root);
  const p = uniq('listed');
  fs.mkdirSync(path.join(root, p));
  fs.writeFileSync(path.join(root, p, 'config'), header(0x012e6fee, 0x160b0b63, CONFIG_SIZE));
  fs.writeFileSync(path.join(root, 'a-file'), 'x');
  fs.mkdirSync(path.join(root, 'bad name'));
  const mine = listTargets({ runtimeDirs: [root], agentVersionWord: () => 0x160b0b63 }).filter((t) => t.runtimeDir.startsWith(root));
  assert.deepEqual(
    mine.map((t) => [t.filePrefix, t.reasonCode]),
    [[p, 'primary-dead']],
  );
});

test('the constant a bigger config was built with is named when the arrays after it are found where it puts them', () => {
  const L = layoutFor(0x160b0b63)!;
  const named = (d: number, tailqAt: number, heapAt: number) => {
    const b = header(0x012e6fee, 0x160b0b63, CONFIG_SIZE + d);
    b.write('RTE_MEMPOOL', tailqAt + L.tailqHead.name, 'latin1');
    b.write('socket_0', heapAt + L.heap.name, 'latin1');
    return otherConstants(L, b, b.length);
  };
  assert.equal(named(128 * 136, 17544 + 128 * 136, 19136 + 128 * 136), 'RTE_MAX_MEMSEG_LISTS 256, where the 22.11 table has 128');
  assert.equal(named(-64 * 136, 17544 - 64 * 136, 19136 - 64 * 136), 'RTE_MAX_MEMSEG_LISTS 64, where the 22.11 table has 128');
  assert.equal(named(32 * 48, 17544, 19136 + 32 * 48), 'RTE_MAX_TAILQ 64, where the 22.11 table has 32');
  assert.equal(named(32 * 192, 17544, 19136), 'RTE_MAX_HEAPS 64, where the 22.11 table has 32');
  // names nowhere a hypothesis puts them
  assert.equal(named(128 * 136, 100, 200), 'RTE_MAX_MEMSEG_LISTS, RTE_MAX_HEAPS or RTE_MAX_TAILQ differ');
});

test('a live 22.11 whose config has another size was built with other constants: refused as such (layout-unverified), never decoded', () => {
  const prefix = uniq('consts');
  // RTE_MAX_MEMSEG_LISTS 256 instead of 128: 128 more lists of 136 bytes
  const dir = runtimeDir(prefix, header(0x012e6fee, 0x160b0b63, CONFIG_SIZE + 128 * 136));
  const t = inspectTarget(dir, prefix, { agentVersionWord: () => 0x160b0b63, lockHolder: () => process.pid });
  assert.equal(t.alive, true);
  assert.equal(t.attachable, false);
  assert.equal(t.reasonCode, 'layout-unverified');
  assert.match(t.reason ?? '', /built with constants Memscope does not know: its shared config is 42752 bytes, not the 25344 of the 22\.11 build/);
  assert.ok(isOneSentence(t.reason!), t.reason);
  // no names where any hypothesis puts them: the three constants are named as candidates
  assert.match(t.reason ?? '', /\(RTE_MAX_MEMSEG_LISTS, RTE_MAX_HEAPS or RTE_MAX_TAILQ differ\)/);
  assert.equal(t.memsegLists, 0, 'nothing was decoded with the wrong table');
  assert.equal(readConfig(path.join(dir, 'config')).cfg, null);
  // the size it knows, live: attachable
  const ok = uniq('consts-ok');
  const good = inspectTarget(runtimeDir(ok, header(0x012e6fee, 0x160b0b63, CONFIG_SIZE)), ok, { agentVersionWord: () => 0x160b0b63, lockHolder: () => process.pid });
  assert.equal(good.attachable, true, good.reason);
});
