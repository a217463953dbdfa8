// Error codes, exit statuses and the wrapping of untyped errors (common/errors.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asMemscopeError, ErrorCode, exitCodes, isErrorCode, MemscopeError } from '../../common/errors';

const codes = Object.values(ErrorCode);

function isOneSentence(s: string): boolean {
  return s.length > 0 && !s.includes('\n') && /[.!?]$/.test(s) && !/[.!?]\s+[A-Z]/.test(s);
}

test('every ErrorCode has an exit status, and every exit status an ErrorCode', () => {
  assert.deepEqual([...codes].sort(), Object.keys(exitCodes).sort());
  assert.equal(new Set(codes).size, codes.length, 'codes are distinct strings');
});

test('exit statuses are distinct, never 0 or 1, and fit an exit status', () => {
  const statuses = codes.map((c) => exitCodes[c]);
  assert.equal(new Set(statuses).size, statuses.length, `duplicates in ${statuses.join(',')}`);
  for (const [c, s] of codes.map((c) => [c, exitCodes[c]] as const)) {
    assert.ok(Number.isInteger(s) && s > 1 && s < 126, `${c} → ${s}`);
  }
});

test('MemscopeError carries its code, exit status and JSON form', () => {
  const e = new MemscopeError(ErrorCode.PrimaryDead, 'the primary is gone: restart it.', 'pid 77');
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'MemscopeError');
  assert.equal(e.exitCode, 11);
  assert.equal(new MemscopeError(ErrorCode.BadArguments, 'x.').exitCode, 2);
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'primary-dead', message: 'the primary is gone: restart it.', detail: 'pid 77' });
});

test('isErrorCode knows the codes and nothing else', () => {
  for (const c of codes) assert.equal(isErrorCode(c), true, c);
  for (const x of ['toString', '__proto__', 'constructor', 'Internal', '', 70, null, undefined]) assert.equal(isErrorCode(x), false, String(x));
});

test('asMemscopeError keeps a typed error as it is', () => {
  const e = new MemscopeError(ErrorCode.AttachTimeout, 'too slow: try again.');
  assert.equal(asMemscopeError(e), e);
});

test('asMemscopeError wraps anything else as internal, in one sentence', () => {
  const boom = new TypeError('cannot read properties of undefined\n    at somewhere');
  const w = asMemscopeError(boom);
  assert.ok(w instanceof MemscopeError);
  assert.equal(w.code, 'internal');
  assert.equal(w.exitCode, 70);
  assert.ok(w.message.includes('cannot read properties of undefined'));
  assert.ok(!w.message.includes('somewhere'), 'only the first line of the cause');
  assert.ok(isOneSentence(w.message), w.message);
  assert.equal(w.detail, boom.stack, 'the stack goes to the detail');
  for (const x of ['a string', 42, null, undefined, { any: 'object' }]) {
    const v = asMemscopeError(x);
    assert.equal(v.code, 'internal');
    assert.ok(isOneSentence(v.message), v.message);
    assert.ok(v.message.includes(String(x)));
    assert.equal(v.detail, undefined);
  }
});
