import { MemscopeError } from '../../common/errors';
// The validators of common/protocol.ts: what the agent accepts from the
// other side of the JSON-RPC pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProtocolError,
  validateAttach,
  validateDmabufQuery,
  validateEmpty,
  validateListTargets,
  validateRegisterTestBuffer,
  validateSubscribe,
  validateVa,
} from '../../common/protocol';

// a wrong type is a ProtocolError; a value the shared input rules refuse
// (common/checks.ts checkInputs) a bad-arguments MemscopeError naming the field
const rejects = (f: () => unknown, what: string, message?: RegExp) =>
  assert.throws(f, (e: unknown) => (e instanceof ProtocolError || (e instanceof MemscopeError && e.code === 'bad-arguments')) && (!message || message.test(e.message)), what);

test('validateListTargets accepts nothing, an empty object and a list of dirs', () => {
  assert.deepEqual(validateListTargets(undefined), {});
  assert.deepEqual(validateListTargets(null), {});
  assert.deepEqual(validateListTargets({}), {});
  assert.deepEqual(validateListTargets({ runtimeDirs: ['/run/dpdk', '/tmp/x'] }), { runtimeDirs: ['/run/dpdk', '/tmp/x'] });
  assert.deepEqual(validateListTargets({ runtimeDirs: [] }), { runtimeDirs: [] });
});

test('validateListTargets rejects non-objects, unknown fields and bad runtimeDirs', () => {
  rejects(() => validateListTargets('x'), 'a string');
  rejects(() => validateListTargets([]), 'an array');
  rejects(() => validateListTargets(5), 'a number');
  rejects(() => validateListTargets({ runtimeDir: ['/x'] }), 'a misspelt field', /unknown field "runtimeDir"/);
  rejects(() => validateListTargets({ runtimeDirs: '/run/dpdk' }), 'runtimeDirs as a string');
  rejects(() => validateListTargets({ runtimeDirs: { 0: '/x' } }), 'runtimeDirs as an object');
  rejects(() => validateListTargets({ runtimeDirs: [1] }), 'a number in runtimeDirs');
  rejects(() => validateListTargets({ runtimeDirs: [null] }), 'null in runtimeDirs');
  rejects(() => validateListTargets({ runtimeDirs: Array(65).fill('/x') }), 'too many runtimeDirs');
  rejects(() => validateListTargets({ runtimeDirs: ['/' + 'x'.repeat(4096)] }), 'a path too long');
  rejects(() => validateListTargets(JSON.parse('{"__proto__": {"polluted": true}}')), 'a __proto__ key');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('validateAttach accepts a full, good request and keeps only what was given', () => {
  const full = {
    filePrefix: 'rte',
    runtimeDirs: ['/run/dpdk'],
    dpdkLib: '/usr/lib/x86_64-linux-gnu/librte_eal.so.23',
    timeoutMs: 15000,
    allowLockingReads: false,
    extraEalArgs: ['--log-level=lib.eal:debug'],
  };
  assert.deepEqual(validateAttach(full), full);
  assert.deepEqual(validateAttach({ filePrefix: 'rte' }), { filePrefix: 'rte' });
  assert.deepEqual(validateAttach({ filePrefix: 'rte', dpdkLib: null }), { filePrefix: 'rte' }, 'a null dpdkLib means the default');
  assert.deepEqual(validateAttach({ filePrefix: 'rte', timeoutMs: 100 }), { filePrefix: 'rte', timeoutMs: 100 });
  assert.deepEqual(validateAttach({ filePrefix: 'rte', timeoutMs: 600_000 }), { filePrefix: 'rte', timeoutMs: 600_000 });
});

test('validateAttach rejects wrong types', () => {
  rejects(() => validateAttach(undefined), 'no params', /filePrefix/);
  rejects(() => validateAttach({}), 'no filePrefix', /filePrefix/);
  rejects(() => validateAttach({ filePrefix: 42 }), 'a numeric prefix');
  rejects(() => validateAttach({ filePrefix: 'x'.repeat(257) }), 'a prefix too long');
  rejects(() => validateAttach({ filePrefix: 'rte', dpdkLib: 5 }), 'a numeric dpdkLib');
  rejects(() => validateAttach({ filePrefix: 'rte', timeoutMs: '1000' }), 'a string timeout');
  rejects(() => validateAttach({ filePrefix: 'rte', allowLockingReads: 'yes' }), 'a string boolean');
  rejects(() => validateAttach({ filePrefix: 'rte', allowLockingReads: 1 }), 'a numeric boolean');
  rejects(() => validateAttach({ filePrefix: 'rte', extraEalArgs: '--no-telemetry' }), 'extraEalArgs as a string');
  rejects(() => validateAttach({ filePrefix: 'rte', extraEalArgs: Array(33).fill('--no-telemetry') }), 'too many extraEalArgs');
  rejects(() => validateAttach({ filePrefix: 'rte', runtimeDirs: '/run/dpdk' }), 'runtimeDirs as a string');
  rejects(() => validateAttach({ filePrefix: 'rte', runtimeDirs: [['/x']] }), 'nested runtimeDirs');
});

test('validateAttach rejects unknown fields', () => {
  rejects(() => validateAttach({ filePrefix: 'rte', procType: 'primary' }), 'procType', /unknown field "procType"/);
  rejects(() => validateAttach({ filePrefix: 'rte', timeout: 1000 }), 'timeout');
});

test('validateAttach rejects timeouts out of range or not whole', () => {
  for (const t of [0, 99, 600_001, 1e12, -1, 1000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    rejects(() => validateAttach({ filePrefix: 'rte', timeoutMs: t }), `timeout ${t}`, /timeoutMs/);
  }
});

test('validateAttach rejects a dpdkLib with a NUL or too long', () => {
  rejects(() => validateAttach({ filePrefix: 'rte', dpdkLib: '/usr/lib/librte_eal.so\0.23' }), 'a NUL', /dpdkLib/);
  rejects(() => validateAttach({ filePrefix: 'rte', dpdkLib: '/' + 'x'.repeat(4096) }), 'a path too long', /dpdkLib/);
});

test('validateSubscribe defaults to 1 s and bounds the interval', () => {
  assert.deepEqual(validateSubscribe(undefined), { intervalMs: 1000 });
  assert.deepEqual(validateSubscribe({}), { intervalMs: 1000 });
  assert.deepEqual(validateSubscribe({ intervalMs: 250 }), { intervalMs: 250 });
  assert.deepEqual(validateSubscribe({ intervalMs: 3_600_000 }), { intervalMs: 3_600_000 });
  for (const v of [99, 3_600_001, 2.5, '1000', true, Number.NaN]) {
    rejects(() => validateSubscribe({ intervalMs: v }), `interval ${String(v)}`);
  }
  rejects(() => validateSubscribe({ intervalMs: 1000, extra: 1 }), 'an unknown field');
  rejects(() => validateSubscribe([1000]), 'an array');
});

test('validateEmpty accepts only nothing', () => {
  assert.doesNotThrow(() => validateEmpty(undefined, 'snapshot params'));
  assert.doesNotThrow(() => validateEmpty(null, 'snapshot params'));
  assert.doesNotThrow(() => validateEmpty({}, 'snapshot params'));
  rejects(() => validateEmpty({ x: 1 }, 'snapshot params'), 'a field', /^snapshot params has an unknown field "x"$/);
  rejects(() => validateEmpty('x', 'detach params'), 'a string', /^detach params must be an object$/);
});

test('validateListTargets and validateAttach take only absolute runtime dirs without ".."', () => {
  for (const d of ['relative', '', '/run/../etc', '/a\0b']) {
    rejects(() => validateListTargets({ runtimeDirs: [d] }), JSON.stringify(d), /runtimeDirs/);
    rejects(() => validateAttach({ filePrefix: 'rte', runtimeDirs: [d] }), JSON.stringify(d), /runtimeDirs/);
  }
  assert.deepEqual(validateListTargets({ runtimeDirs: ['/run/dpdk/..x'] }), { runtimeDirs: ['/run/dpdk/..x'] }, '".." only as a whole component');
});

test('validateAttach takes only a DPDK file prefix, an absolute dpdkLib and whitelisted EAL options, before anything touches a target', () => {
  for (const p of ['', '../etc', 'a/b', '.x', 'a..b', 'a b', 'x'.repeat(65), 'ä', 'a\0']) {
    rejects(() => validateAttach({ filePrefix: p }), JSON.stringify(p), /^filePrefix /);
  }
  assert.deepEqual(validateAttach({ filePrefix: 'ms-test-1_2.3+x' }), { filePrefix: 'ms-test-1_2.3+x' });
  for (const lib of ['libevil.so', '', '/a/../b']) rejects(() => validateAttach({ filePrefix: 'rte', dpdkLib: lib }), JSON.stringify(lib), /dpdkLib/);
  for (const a of ['--proc-type=primary', '-l', '--file-prefix=other', '--log-level=' + 'x'.repeat(600)]) {
    rejects(() => validateAttach({ filePrefix: 'rte', extraEalArgs: [a] }), a.slice(0, 30), /^extraEalArgs /);
  }
});

test('numbers must be safe integers in range: 1e308, 2^64, -1 and fractions are refused', () => {
  for (const v of [1e308, 2 ** 64, 2 ** 53 + 2, -1, 0.5, Number.POSITIVE_INFINITY]) {
    rejects(() => validateDmabufQuery({ mslIndex: v }), `mslIndex ${v}`, /mslIndex must be an integer from 0 to 65535/);
    rejects(() => validateSubscribe({ intervalMs: v }), `intervalMs ${v}`, /intervalMs/);
  }
  assert.deepEqual(validateDmabufQuery({ mslIndex: 3 }), { mslIndex: 3 });
  rejects(() => validateDmabufQuery({ mslIndex: 65536 }), '65536');
});

test('validateRegisterTestBuffer checks the size, page size, offset and heap name itself', () => {
  const ok = { size: '4M', pageSize: '2M', confirm: true } as const;
  assert.deepEqual(validateRegisterTestBuffer(ok), ok);
  assert.deepEqual(validateRegisterTestBuffer({ ...ok, dmabufOffset: '0', heap: 'ms_heap-1.x' }), { ...ok, dmabufOffset: '0', heap: 'ms_heap-1.x' });
  for (const size of ['', 'abc', '-1M', '1e308', '0', '18446744073709551616', '3M']) rejects(() => validateRegisterTestBuffer({ ...ok, size }), size, /size must be/);
  rejects(() => validateRegisterTestBuffer({ size: '4097', confirm: true }), '4097 bytes of 4K pages', /whole number of 4K pages/);
  for (const dmabufOffset of ['x', '-2M', '4K', '1e3']) rejects(() => validateRegisterTestBuffer({ ...ok, dmabufOffset }), dmabufOffset, /dmabufOffset/);
  for (const heap of ['', 'bad name!', 'x'.repeat(32), '../heap']) rejects(() => validateRegisterTestBuffer({ ...ok, heap }), heap, /heap must be a name/);
  rejects(() => validateRegisterTestBuffer({ ...ok, confirm: 'true' }), 'a string confirm', /confirm must be true/);
});

test('validateVa takes 0x and 1 to 16 hex digits', () => {
  assert.deepEqual(validateVa({ va: '0x7f00AB000000' }, 'p'), { va: '0x7f00AB000000' });
  for (const va of ['0x', '0X10', ' 0x10', '0x' + '1'.repeat(17), '1234', 5]) rejects(() => validateVa({ va }, 'p'), String(va), /va must be a hex address/);
});

test('an unknown field is quoted on one line, printable and short', () => {
  rejects(() => validateEmpty({ ['a\nb' + 'c'.repeat(100)]: 1 }, 'snapshot params'), 'a long key with a newline', /^snapshot params has an unknown field "a\?bc{37}…"$/);
});
