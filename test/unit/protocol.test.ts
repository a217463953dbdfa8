// The validators of common/protocol.ts: what the agent accepts from the
// other side of the JSON-RPC pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, validateAttach, validateEmpty, validateListTargets, validateSubscribe } from '../../common/protocol';

const rejects = (f: () => unknown, what: string, message?: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof ProtocolError && (!message || message.test(e.message)), what);

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
