// The seed's contract for rte_extmem_register_dmabuf, row by row (pure
// checks; the same rows run against a real EAL in test/dpdk/dmabuf.test.ts),
// and the shared table's encoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRegisterArgs, checkWithinBuffer, errnoName, type RegisterArgs } from '../../native-agent/dmabuf/contract';
import { CONTRACT_ROWS } from '../helpers/contract-rows';
import { crc32, decodeSlot, decodeTable, encodeSlot, headerOk, SLOT_SIZE, TABLE_SIZE, type TableEntry, writeHeader, writeSlot, HEADER_SIZE } from '../../native-agent/dmabuf/table';

const good: RegisterArgs = { va: 0x7f0000000000n, len: 8 * 4096, dmabufFd: 5, dmabufOffset: 0, iovaAddrs: null, nPages: 0, pageSz: 4096 };

for (const row of CONTRACT_ROWS) {
  test(`contract: ${row.name}`, () => {
    const v = checkRegisterArgs({ ...good, ...row.args(good) });
    if (row.check === null) assert.equal(v, null);
    else {
      assert.ok(v, 'rejected');
      assert.equal(v.errno, 'EINVAL');
      assert.equal(v.check, row.check);
      assert.match(v.message, /^[^\n]+: [^\n]+\.$/, 'one sentence with a way out');
    }
  });
}

test('contract: 2M pages need a 2M-aligned address', () => {
  assert.equal(checkRegisterArgs({ ...good, va: 0x7f0000001000n, pageSz: 2 * 1024 * 1024, len: 2 * 1024 * 1024 })?.check, 'va-not-aligned');
  assert.equal(checkRegisterArgs({ ...good, dmabufFd: 0 }), null, 'fd 0 is a valid fd');
});

test('the seed checks in its order: the first failing condition is reported', () => {
  assert.equal(checkRegisterArgs({ ...good, va: 0n, len: 0, dmabufFd: -1 })?.check, 'va-null');
  assert.equal(checkRegisterArgs({ ...good, len: 0, dmabufFd: -1 })?.check, 'len-zero');
  assert.equal(checkRegisterArgs({ ...good, va: 0x7f0000000800n, dmabufFd: -1 })?.check, 'va-not-aligned');
});

test('past the seed: the region must lie inside a buffer of known size', () => {
  assert.equal(checkWithinBuffer(good, null), null);
  assert.equal(checkWithinBuffer(good, good.len), null);
  assert.equal(checkWithinBuffer({ ...good, dmabufOffset: 4096 }, good.len)?.check, 'offset-beyond-buffer');
  assert.equal(checkWithinBuffer({ ...good, dmabufOffset: 4096 }, good.len + 4096), null);
});

test('errno names', () => {
  assert.equal(errnoName(22), 'EINVAL');
  assert.equal(errnoName(17), 'EEXIST');
  assert.equal(errnoName(28), 'ENOSPC');
  assert.equal(errnoName(99), 'E99');
});

const entry: TableEntry = {
  mslIndex: 7, fd: 42, baseVa: 0x7f1234560000n, len: 64 << 20, offset: 2 << 20, ownerPid: 4242, ownerStart: 123456,
  kind: 'dmabuf', size: 66 << 20, inode: 9876, exporter: 'udmabuf', pageSize: 4096,
};

test('table: a slot round-trips, and any flipped byte is caught by the crc', () => {
  const slot = Buffer.alloc(SLOT_SIZE);
  encodeSlot(slot, entry);
  assert.deepEqual(decodeSlot(slot), entry);
  for (let i = 4; i < 120; i += 7) {
    const bad = Buffer.from(slot);
    bad[i]! ^= 0x40;
    assert.equal(decodeSlot(bad), null, `byte ${i}`);
  }
  const writing = Buffer.from(slot);
  writing.writeUInt32LE(3, 0); // odd seq: being written
  assert.equal(decodeSlot(writing), null);
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the standard CRC-32 check value');
});

test('table: seqlock writes through a view, frees, and keys entries by their list', () => {
  const mem = Buffer.alloc(TABLE_SIZE);
  writeHeader(mem);
  assert.ok(headerOk(mem));
  const view = new DataView(mem.buffer, mem.byteOffset, mem.length);
  writeSlot(view, 7, entry);
  writeSlot(view, 9, { ...entry, mslIndex: 9, kind: 'memfd', exporter: '' });
  let t = decodeTable(mem);
  assert.deepEqual([...t.keys()], [7, 9]);
  assert.equal(t.get(9)!.kind, 'memfd');
  assert.equal(mem.readUInt32LE(HEADER_SIZE + 7 * SLOT_SIZE) % 2, 0, 'seq even when stable');
  writeSlot(view, 7, null);
  t = decodeTable(mem);
  assert.deepEqual([...t.keys()], [9]);
  // an entry in the wrong slot is not believed
  writeSlot(view, 3, { ...entry, mslIndex: 5 });
  assert.equal(decodeTable(mem).has(3), false);
  // a table with another header is not read at all
  mem.writeUInt32LE(2, 4);
  assert.equal(decodeTable(mem).size, 0);
});
