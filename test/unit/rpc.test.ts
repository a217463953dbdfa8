// common/rpc.ts: each JSON-RPC message's own checks, as the extension runs
// them on what the agent sends (results and notifications); the params
// checks are common/protocol.ts's, tested in protocol.test.ts.
import { columnsFromElements } from '../../common/columns';
import { packHeapDelta } from '../../common/columns-wire';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffHeapColumnDelta, diffSnapshots } from '../../common/delta';
import { Methods, Notifications, ProtocolError } from '../../common/protocol';
import { AgentNotifications, checkedNotification, checkedResult, Requests } from '../../common/rpc';
import { el, heap, snap } from '../helpers/snapshot-builders';

const bad = (f: () => unknown, field: RegExp) => assert.throws(f, (e: unknown) => e instanceof ProtocolError && field.test(e.message), String(field));

test('every method and notification name has its typed message, and no other exists', () => {
  assert.deepEqual(Object.values(Requests).map((r) => r.method).sort(), Object.values(Methods).sort());
  assert.deepEqual(Object.values(AgentNotifications).map((n) => n.method).sort(), Object.values(Notifications).sort());
});

test('attach: a real result passes; a wrong type names its field', () => {
  const s = snap();
  const ok = { target: s.target, dpdkVersion: '22.11.11', ealLibrary: null, lcore: null, access: 'peek', attachMs: 12, readMethod: 'lock-free', agentPid: 4242 };
  assert.equal(checkedResult(Requests.attach, ok), ok);
  bad(() => checkedResult(Requests.attach, { ...ok, access: 'telepathy' }), /memscope\/attach result: .*access/);
  bad(() => checkedResult(Requests.attach, { ...ok, agentPid: '4242' }), /agentPid/);
  bad(() => checkedResult(Requests.attach, { ...ok, extra: 1 }), /extra/);
  bad(() => checkedResult(Requests.attach, null), /memscope\/attach result/);
});

test('subscribe and snapshot: the snapshot is checked, columns by shape', () => {
  const s = snap({ heaps: [heap(0, [])] });
  const cols = { heapId: 0, n: 0, len: '', state: '', owner: '', jumps: '', big: '', pads: '', owners: [] };
  assert.ok(checkedResult(Requests.subscribe, { snapshot: s, columns: [cols] }));
  assert.ok(checkedResult(Requests.snapshot, { snapshot: s, columns: [cols] }));
  assert.ok(checkedResult(Requests.snapshot, s), 'a snapshot without columns');
  bad(() => checkedResult(Requests.subscribe, { snapshot: { ...s, heaps: [{ ...s.heaps[0], totalSize: -1 }] } }), /totalSize/);
  bad(() => checkedResult(Requests.snapshot, { snapshot: s, columns: [{ ...cols, n: 'many' }] }), /columns\[0\]\.n/);
});

test('delta notifications: a real one passes; a broken one names what is wrong', () => {
  const a = snap({ heaps: [heap(0, [el('0x1000'), el('0x1100')])] });
  const b = snap({ heaps: [heap(0, [el('0x1000'), el('0x1100', 0x100, 'free')])] });
  const n = { seq: 1, takenAt: b.takenAt, delta: diffSnapshots(a, b) };
  assert.equal(checkedNotification(AgentNotifications.delta, n), n);
  bad(() => checkedNotification(AgentNotifications.delta, { ...n, seq: -1 }), /memscope\/delta: .*seq/);
  const broken = structuredClone(n) as { delta: { heaps: { changed: { changed: { addr: unknown }[] }[] } } };
  broken.delta.heaps.changed[0]!.changed[0]!.addr = 'not an address';
  bad(() => checkedNotification(AgentNotifications.delta, broken), /addr/);
  bad(() => checkedNotification(AgentNotifications.delta, 'garbage'), /memscope\/delta/);
  // a subscription with columns: packed slices, by shape (decoded and checked by the extension)
  const packed = { seq: 2, takenAt: b.takenAt, delta: diffSnapshots(a, b, (x, y) => { const d = diffHeapColumnDelta(x, y, (h) => columnsFromElements(h.id, h.elements)); return d && packHeapDelta(d); }) };
  assert.equal(checkedNotification(AgentNotifications.delta, packed), packed);
  const p2 = structuredClone(packed) as unknown as { delta: { heaps: { changed: { added: { len: unknown } }[] } } };
  p2.delta.heaps.changed[0]!.added.len = 7;
  bad(() => checkedNotification(AgentNotifications.delta, p2), /added\.len/);
});

test('target notifications and small results', () => {
  assert.ok(checkedNotification(AgentNotifications.targetState, { stopped: true, message: 'stopped' }));
  bad(() => checkedNotification(AgentNotifications.targetState, { stopped: 'yes', message: 'x' }), /stopped/);
  assert.ok(checkedNotification(AgentNotifications.targetExited, { message: 'gone', error: { code: 'primary-dead', message: 'gone' } }));
  bad(() => checkedNotification(AgentNotifications.targetExited, { message: 'gone', error: { code: 'no-such-code', message: 'gone' } }), /code/);
  assert.equal(checkedResult(Requests.detach, null), null);
  bad(() => checkedResult(Requests.detach, {}), /detach result/);
  assert.ok(checkedResult(Requests.dmabufQuery, { mslIndex: 3, fd: -1, offset: 0 }));
  bad(() => checkedResult(Requests.dmabufQuery, { mslIndex: 3, fd: -1 }), /offset/);
  assert.ok(checkedResult(Requests.timeline, { points: [], maxSamples: 3600 }));
});
