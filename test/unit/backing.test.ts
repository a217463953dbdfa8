// Finding the memory behind an external memseg list (native-agent/backing.ts):
// the pure parsers on captured /proc text, then findBacking on this
// process's own mappings (a file and anonymous memory: no DPDK needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  backingOffset,
  classifyMapping,
  dmabufFromBacking,
  findBacking,
  findBackings,
  findMapping,
  linkMatches,
  mapsHex,
  parseFdinfo,
  parseHugetlbfsMounts,
  readSmapsPageSize,
  smapsKernelPageSize,
  stripDeleted,
  type Backing,
} from '../../native-agent/backing';
import { parseMaps, readMaps } from '../../native-agent/procfs';

const FDINFO_DMABUF = 'pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1234\nsize:\t67108864\ncount:\t2\nexp_name:\tudmabuf\nname:\t\n';

test('parseFdinfo reads a dma-buf\u2019s size, count, exporter and inode', () => {
  const f = parseFdinfo(FDINFO_DMABUF);
  assert.deepEqual(f, { pos: 0, flags: 0o2000002, mntId: 15, ino: 1234, size: 67108864, count: 2, expName: 'udmabuf', name: null });
  const named = parseFdinfo(FDINFO_DMABUF.replace('name:\t\n', 'name:\tframes-0\n'));
  assert.equal(named.name, 'frames-0');
});

test('parseFdinfo of a plain file has no dma-buf fields; lock lines and junk are ignored', () => {
  const f = parseFdinfo('pos:\t0\nflags:\t0100002\nmnt_id:\t42\nino:\t302071\nlock:\t1: FLOCK  ADVISORY  READ 17038 00:27:302071 0 EOF\n');
  assert.equal(f.ino, 302071);
  assert.equal(f.mntId, 42);
  assert.equal(f.flags, 0o100002);
  assert.equal(f.size, null);
  assert.equal(f.count, null);
  assert.equal(f.expName, null);
  assert.deepEqual(parseFdinfo(''), { pos: null, flags: null, mntId: null, ino: null, size: null, count: null, expName: null, name: null });
  assert.equal(parseFdinfo('size:\tlots\n').size, null, 'a non-number is no size');
});

const MAPS = [
  '7f0000000000-7f0004000000 rw-s 00000000 00:0f 5001                       /dmabuf: (deleted)',
  '7f0004000000-7f0004400000 rw-s 00200000 00:0f 5002                       /dmabuf:frames',
  '7f0004400000-7f0004800000 rw-s 00000000 00:0e 1038                       anon_inode:dmabuf',
  '7f0004800000-7f0004c00000 rw-s 00000000 00:01 58                         /memfd:memscope (deleted)',
  '7f0004c00000-7f0005000000 rw-s 00400000 00:27 302104                     /dev/hugepages/xmap_3',
  '7f0005000000-7f0005400000 rw-p 00000000 00:00 0 ',
  '7f0005400000-7f0005600000 r-xp 00028000 fe:00 1311                       /usr/lib/libc.so.6',
  '7f0005600000-7f0005800000 rw-s 00000000 00:27 302105                     /dev/hugepages/ms-xext_B (deleted)',
  '7f0005800000-7f0005c00000 rw-p 00000000 00:10 77                         /anon_hugepage (deleted)',
  '7f0005c00000-7f0005e00000 rw-s 00000000 00:01 79                         /dev/zero (deleted)',
  '7f0005e00000-7f0005e21000 rw-p 00000000 00:00 0                          [heap]',
  '7f0005e21000-7f0005e22000 rw-s 00000000 fe:00 1458356                    /run/dpdk/p/fbarray_ext_0x7f0004800000',
].join('\n');

test('maps paths classify as dma-buf, memfd, hugetlbfs, anonymous or file', () => {
  const m = parseMaps(MAPS);
  const mounts = ['/dev/hugepages'];
  assert.deepEqual(
    m.map((r) => classifyMapping(r.path, mounts)),
    ['dmabuf', 'dmabuf', 'dmabuf', 'memfd', 'hugetlbfs', 'anonymous', 'file', 'hugetlbfs', 'anonymous', 'anonymous', 'anonymous', 'file'],
  );
  assert.equal(classifyMapping('/dev/hugepages/xmap_3'), 'file', 'without the mount table a hugetlbfs file is just a file');
  assert.equal(classifyMapping('/dev/hugepages-1G/x', ['/dev/hugepages']), 'file', 'a sibling directory is not under the mount');
  assert.equal(classifyMapping('/mnt/huge 1G/x (deleted)', parseHugetlbfsMounts('nodev /mnt/huge\\0401G hugetlbfs rw,pagesize=1024M 0 0\n')), 'hugetlbfs');
  assert.equal(classifyMapping('/dev/zero'), 'file', 'a private mapping of /dev/zero is the device file');
  assert.equal(classifyMapping('/memfd:x:y (deleted)'), 'memfd');
});

test('hugetlbfs mounts come from /proc/mounts, escapes undone', () => {
  const text = [
    'proc /proc proc rw,relatime 0 0',
    'nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0',
    'tmpfs /dev/shm tmpfs rw 0 0',
    'hugetlbfs /mnt/huge\\0401G hugetlbfs rw,pagesize=1024M 0 0',
    '',
  ].join('\n');
  assert.deepEqual(parseHugetlbfsMounts(text), ['/dev/hugepages', '/mnt/huge 1G']);
});

test('findMapping finds the covering mapping by address, and nothing in a gap or past the end', () => {
  const m = parseMaps(MAPS);
  assert.equal(findMapping(m, 0x7f0004800000n)?.path, '/memfd:memscope (deleted)', 'first byte');
  assert.equal(findMapping(m, 0x7f0004bfffffn)?.path, '/memfd:memscope (deleted)', 'last byte');
  assert.equal(findMapping(m, 0x7f0004c00000n)?.path, '/dev/hugepages/xmap_3', 'end is exclusive');
  assert.equal(findMapping(m, 0x7f0005e22000n), null, 'past the last');
  assert.equal(findMapping(m, 0x10000n), null, 'before the first');
  assert.equal(findMapping(parseMaps('1000-2000 r--p 00000000 00:00 0\n3000-4000 r--p 00000000 00:00 0\n'), 0x2800n), null, 'in a gap');
  assert.equal(findMapping([], 0x1000n), null);
});

test('the offset is the mapping\u2019s file offset plus the distance from its start', () => {
  const m = parseMaps(MAPS);
  const dmabuf = findMapping(m, 0x7f0004000000n)!;
  assert.equal(backingOffset(dmabuf, 0x7f0004000000n), 0x200000, 'at the start: the page offset itself');
  assert.equal(backingOffset(dmabuf, 0x7f0004012000n), 0x212000);
  const huge = findMapping(m, 0x7f0004e00000n)!;
  assert.equal(backingOffset(huge, 0x7f0004e00000n), 0x400000 + 0x200000);
  assert.equal(backingOffset(findMapping(m, 0x7f0004800000n)!, 0x7f0004800000n), 0);
});

test('an fd link matches a mapping: dma-bufs by kind (then inode), the rest by path', () => {
  assert.ok(linkMatches('dmabuf', '/dmabuf: (deleted)', 'anon_inode:dmabuf'));
  assert.ok(linkMatches('dmabuf', '/dmabuf:', '/dmabuf:'));
  assert.ok(!linkMatches('dmabuf', '/dmabuf:', 'anon_inode:[eventfd]'));
  assert.ok(linkMatches('memfd', '/memfd:memscope (deleted)', '/memfd:memscope (deleted)'));
  assert.ok(!linkMatches('memfd', '/memfd:memscope (deleted)', '/memfd:other (deleted)'));
  assert.ok(linkMatches('hugetlbfs', '/dev/hugepages/x (deleted)', '/dev/hugepages/x'), 'unlinked between the two reads');
  assert.equal(stripDeleted('/memfd:a (deleted)'), '/memfd:a');
  assert.equal(stripDeleted('/memfd:a'), '/memfd:a');
});

test('smaps KernelPageSize of one mapping, not of a path that spells its address', () => {
  const smaps = [
    '7f0004800000-7f0004c00000 rw-s 00000000 00:01 58                         /memfd:memscope (deleted)',
    'Size:               4096 kB',
    'KernelPageSize:        4 kB',
    'MMUPageSize:           4 kB',
    'VmFlags: rd wr sh mr mw me ms ',
    '7f0004c00000-7f0005000000 rw-s 00400000 00:27 302104                     /dev/hugepages/xmap_3',
    'Size:               4096 kB',
    'KernelPageSize:     2048 kB',
    'VmFlags: rd wr sh mr mw me ms ht ',
    '7f0005e21000-7f0005e22000 rw-s 00000000 fe:00 1458356                    /run/dpdk/p/fbarray_ext_0x7f0005f00000',
    'Size:                  4 kB',
    'KernelPageSize:        4 kB',
    '7f0005f00000-7f0006000000 rw-s 00000000 00:27 302105                     /dev/hugepages/y',
    'Size:               1024 kB',
    '',
  ].join('\n');
  assert.equal(smapsKernelPageSize(smaps, 0x7f0004800000n), 4096, 'the first mapping');
  assert.equal(smapsKernelPageSize(smaps, 0x7f0004c00000n), 2 * 1024 * 1024);
  assert.equal(smapsKernelPageSize(smaps, 0x7f0005f00000n), null, 'its line is not there (yet): the fbarray path above does not count');
  assert.equal(smapsKernelPageSize(smaps, 0x7f0009000000n), null);
  assert.equal(mapsHex(0x400000n), '00400000', 'maps pads to 8 digits');
  assert.equal(smapsKernelPageSize('00400000-00401000 r--p 00000000 fe:00 1 /bin/x\nKernelPageSize:        4 kB\n', 0x400000n), 4096);
});

test('dmabufFromBacking: only a dma-buf with an fd becomes the snapshot\u2019s dmabuf', () => {
  const b: Backing = { kind: 'dmabuf', path: '/dmabuf:', ownerPid: 42, offset: 4096, fd: 7, size: 67108864, inode: 1234, exporter: 'udmabuf', pageSize: 4096 };
  assert.deepEqual(dmabufFromBacking(b), { fd: 7, offset: 4096, ownerPid: 42, exporter: 'udmabuf', size: 67108864, inode: 1234, source: 'proc' });
  assert.equal(dmabufFromBacking({ ...b, fd: null }), null, 'mapped but no fd left: nothing to hand a driver');
  assert.equal(dmabufFromBacking({ ...b, kind: 'memfd', exporter: null }), null);
});

test('findBacking on this process: its own binary (a file) and its stack (anonymous)', () => {
  const maps = readMaps('self')!;
  const exe = fs.realpathSync(process.execPath);
  const text = maps.find((r) => r.path === exe && r.offset > 0n);
  assert.ok(text, `a mapping of ${exe} at a non-zero offset`);
  const va = text.start + 0x10n;
  const b = findBacking(va, 16, [process.pid]);
  assert.ok(b);
  assert.equal(b.kind, 'file');
  assert.equal(b.path, exe);
  assert.equal(b.ownerPid, process.pid);
  assert.equal(b.offset, Number(text.offset) + 0x10);
  assert.equal(b.inode, fs.statSync(exe).ino);
  // the size comes from /proc/<pid>/map_files, which only root may stat
  assert.equal(b.size, process.getuid?.() === 0 ? fs.statSync(exe).size : null);
  assert.equal(b.exporter, null);
  assert.ok(b.pageSize === 4096 || b.pageSize === 16384 || b.pageSize === 65536, `page size ${b.pageSize}`);
  assert.equal(dmabufFromBacking(b), null);

  const stack = maps.find((r) => r.path === '[stack]')!;
  const s = findBacking(stack.start, 1, [2 ** 22 + 7, process.pid]);
  assert.ok(s, 'a pid that does not exist is skipped');
  assert.equal(s.kind, 'anonymous');
  assert.equal(s.fd, null);
  assert.equal(s.inode, null);
  assert.equal(s.size, null);

  assert.equal(findBacking(0x1000n, 4096, [process.pid]), null, 'nothing maps page 1');
  const both = findBackings(
    [
      { index: 3, baseVa: va, len: 16 },
      { index: 9, baseVa: 0x1000n, len: 4096 },
    ],
    [process.pid],
  );
  assert.deepEqual([...both.keys()], [3], 'unmapped lists are left out');
});

test('readSmapsPageSize reads this process’s smaps chunk by chunk, up to the mapping asked for', () => {
  const maps = readMaps('self')!;
  const whole = fs.readFileSync('/proc/self/smaps', 'latin1');
  assert.ok(whole.length > 64 * 1024, `smaps spans several 64 KiB reads (${whole.length} bytes)`);
  // first, one in the middle and the last: headers land anywhere relative to the chunks
  for (const r of [maps[0]!, maps[maps.length >> 1]!, maps[maps.length - 1]!]) {
    assert.equal(readSmapsPageSize('self', r.start), smapsKernelPageSize(whole, r.start), `${mapsHex(r.start)} ${r.path}`);
    assert.ok(readSmapsPageSize('self', r.start)! >= 4096);
  }
  assert.equal(readSmapsPageSize('self', 0x1000n), null, 'no such mapping: the whole file read, then null');
  assert.equal(readSmapsPageSize(2 ** 22 + 7, 0x1000n), null, 'no such process');
});
