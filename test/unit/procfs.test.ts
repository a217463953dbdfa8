// The /proc parsers (native-agent/procfs.ts) on captured text, and the
// process identity helpers on this process and on a pid that cannot exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { devName, isAlive, parseCpuList, parseLocks, parseMaps, posixLockHolder, processState, readCmdline, readLocks, readMaps, startTime } from '../../native-agent/procfs';

const MAPS = [
  '55d4c2a00000-55d4c2a21000 rw-p 00000000 00:00 0                          [heap]',
  '100000000-100007000 rw-s 00000000 00:1a 4242                             /var/run/dpdk/rte/config',
  '100200000-100400000 rw-s 00000000 00:2f 1001                             /dev/hugepages/rtemap_0 (deleted)',
  '7f23e6000000-7f23e6010000 rw-s 00010000 fe:01 77                         /memfd:extmem (deleted)',
  '7f23e7000000-7f23e7001000 ---p 00000000 00:00 0 ',
  '7ffd5a7e0000-7ffd5a801000 rw-p 00000000 00:00 0',
  'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
  '',
  'garbage line',
].join('\n');

test('parseMaps reads ranges, offsets, inodes and paths', () => {
  const m = parseMaps(MAPS);
  assert.equal(m.length, 7, 'blank and malformed lines are skipped');
  assert.deepEqual(m[0], { start: 0x55d4c2a00000n, end: 0x55d4c2a21000n, perms: 'rw-p', offset: 0n, inode: 0, path: '[heap]' });
  assert.equal(m[1]!.path, '/var/run/dpdk/rte/config');
  assert.equal(m[1]!.inode, 4242);
  assert.equal(m[1]!.perms, 'rw-s');
  assert.equal(m[2]!.path, '/dev/hugepages/rtemap_0 (deleted)', 'the (deleted) mark stays on the path');
  assert.equal(m[3]!.offset, 0x10000n);
  assert.equal(m[3]!.path, '/memfd:extmem (deleted)');
  assert.equal(m[4]!.path, '', 'anonymous, trailing space');
  assert.equal(m[4]!.perms, '---p');
  assert.equal(m[5]!.path, '', 'anonymous, no trailing space');
  assert.equal(m[6]!.end, 0xffffffffff601000n, 'addresses above 2^53 keep every bit');
  assert.equal(m[6]!.path, '[vsyscall]');
});

test('readMaps of this process finds its own stack; of a dead pid, null', () => {
  const self = readMaps('self');
  assert.ok(self && self.some((r) => r.path === '[stack]'));
  assert.equal(readMaps(2 ** 22 + 7), null);
});

test('parseCpuList expands ranges and singles', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList(''), []);
  assert.deepEqual(parseCpuList('5'), [5]);
  assert.deepEqual(parseCpuList('0-1\n'), [0, 1], 'the trailing newline of a sysfs file');
});

const LOCKS = [
  '1: FLOCK  ADVISORY  READ 5022 00:27:8093 0 EOF',
  '2: -> POSIX ADVISORY WRITE 77 fe:00:12 0 EOF',
  '3: POSIX  ADVISORY  WRITE 6685 fe:00:1458386 136 17543',
  '4: OFDLCK ADVISORY  READ  -1 00:05:1234 0 EOF',
  'not a lock',
  '',
].join('\n');

test('parseLocks reads kind, type, pid, device and inode', () => {
  const l = parseLocks(LOCKS);
  assert.equal(l.length, 4);
  assert.deepEqual(l[0], { kind: 'FLOCK', type: 'READ', pid: 5022, dev: '00:27', inode: 8093, blocked: false });
  assert.deepEqual(l[1], { kind: 'POSIX', type: 'WRITE', pid: 77, dev: 'fe:00', inode: 12, blocked: true });
  assert.deepEqual(l[2], { kind: 'POSIX', type: 'WRITE', pid: 6685, dev: 'fe:00', inode: 1458386, blocked: false });
  assert.deepEqual(l[3], { kind: 'OFDLCK', type: 'READ', pid: -1, dev: '00:05', inode: 1234, blocked: false });
  assert.deepEqual(parseLocks(''), []);
});

test('readLocks returns what parseLocks makes of /proc/locks', () => {
  const locks = readLocks();
  let text = '';
  try {
    text = fs.readFileSync('/proc/locks', 'latin1');
  } catch {
    /* no /proc/locks: readLocks must say [] */
  }
  // the file changes between two reads; compare the counts loosely
  assert.ok(Array.isArray(locks));
  if (!text) assert.deepEqual(locks, []);
  for (const k of locks) {
    assert.ok(Number.isInteger(k.pid) && Number.isInteger(k.inode));
    assert.match(k.dev, /^[0-9a-f]+:[0-9a-f]+$/);
  }
});

test('posixLockHolder names what F_GETLK would: a POSIX lock on that device and inode by another process, a write lock first', () => {
  const locks = parseLocks(
    [
      '1: FLOCK  ADVISORY  READ 700 fe:00:1565621 0 EOF',
      '2: POSIX  ADVISORY  READ 800 fe:00:1565621 0 EOF',
      '3: POSIX  ADVISORY  WRITE 900 fe:00:1565621 136 17543',
      '4: -> POSIX  ADVISORY  WRITE 950 fe:00:1565621 0 EOF',
      '5: POSIX  ADVISORY  WRITE 990 fe:01:1565621 0 EOF',
      '6: POSIX  ADVISORY  WRITE 42 fe:00:777 0 EOF',
    ].join('\n'),
  );
  assert.equal(posixLockHolder(locks, 'fe:00', 1565621, 1), 900);
  assert.equal(posixLockHolder(locks, 'fe:00', 1565621, 900), 800, 'its own locks are not reported to a process');
  assert.equal(posixLockHolder(locks, 'fe:01', 1565621, 1), 990, 'the device counts');
  assert.equal(posixLockHolder(locks, 'fe:00', 777, 42), null);
  assert.equal(posixLockHolder(locks, 'fe:00', 12345, 1), null);
});

test('devName prints a st_dev as /proc/locks does (hex major:minor, glibc encoding)', () => {
  assert.equal(devName(65024n), 'fe:00'); // makedev(254, 0)
  assert.equal(devName(0x1an), '00:1a');
  assert.equal(devName((259n << 8n) | 3n), '103:03');
  assert.equal(devName(0x45n | (0x300n << 12n)), '00:345'); // makedev(0, 0x345): minor above 255
  assert.equal(devName(BigInt(fs.statSync('/proc/self/exe').dev)), devName(fs.statSync('/proc/self/exe', { bigint: true }).dev));
});

test('startTime and isAlive on this process', () => {
  const t = startTime(process.pid);
  assert.ok(t !== null && Number.isInteger(t) && t >= 0, `start time ${t}`);
  assert.equal(startTime(process.pid), t, 'a process keeps its start time');
  assert.equal(isAlive(process.pid), true);
  assert.match(processState(process.pid) ?? '', /^[RSD]$/);
  const argv = readCmdline(process.pid);
  assert.ok(argv?.includes(process.argv[1]!), `cmdline ${JSON.stringify(argv)} names this test file`);
});

test('startTime and isAlive on a pid that cannot exist', () => {
  const pid = 2 ** 22 + 7; // above PID_MAX_LIMIT
  assert.equal(startTime(pid), null);
  assert.equal(isAlive(pid), false);
  assert.equal(processState(pid), null);
  assert.equal(readCmdline(pid), null);
});
