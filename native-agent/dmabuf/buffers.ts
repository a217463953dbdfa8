/**
 * Test buffers for `memscope register`: a dma-buf from udmabuf or a dma-heap
 * where the kernel has one, else a memfd (hugetlb-backed for 2M/1G pages),
 * which is labelled as what it is and never called a dma-buf.
 */
import * as fs from 'node:fs';
import koffi from 'koffi';
import { ErrorCode, MemscopeError } from '../../common/errors';
import { checkBufferSizes } from '../../common/units';

export type BufferBacking = 'auto' | 'udmabuf' | 'dma-heap' | 'memfd';

export interface TestBuffer {
  kind: 'udmabuf' | 'dma-heap' | 'memfd';
  /** What the user is shown. */
  label: string;
  /** The fd registered (the dma-buf, or the memfd), and the memfd behind a udmabuf. */
  fd: number;
  memfd: number | null;
  va: bigint;
  len: number;
  /** Offset within the buffer where the registered region starts. */
  offset: number;
  pageSize: number;
  exporter: string | null;
  size: number;
  inode: number;
}

const MFD_ALLOW_SEALING = 2;
const MFD_HUGETLB = 4;
const F_ADD_SEALS = 1033;
const F_SEAL_SHRINK = 2;
const UDMABUF_CREATE = 0x40187542; // _IOW('u', 0x42, struct udmabuf_create)
const DMA_HEAP_IOCTL_ALLOC = 0xc0184800; // _IOWR('H', 0, struct dma_heap_allocation_data)
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const PROT_RW = 3;
const MAP_SHARED = 1;

let fns: ReturnType<typeof bindFns> | undefined;
function bindFns() {
  const c = koffi.load('libc.so.6');
  return {
    memfdCreate: c.func('int memfd_create(const char *name, unsigned int flags)'),
    ftruncate: c.func('int ftruncate(int fd, long len)'),
    fcntl: c.func('int fcntl(int fd, int cmd, int arg)'),
    ioctl: c.func('int ioctl(int fd, unsigned long req, void *arg)'),
    open: c.func('int open(const char *path, int flags)'),
    close: c.func('int close(int fd)'),
    mmap: c.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: c.func('int munmap(void *addr, size_t len)'),
  };
}
const libc = () => (fns ??= bindFns());

function fail(code: ErrorCode, message: string): never {
  throw new MemscopeError(code, message);
}

function meminfo(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Checks size, offset and page size before anything is allocated. */
export function checkBufferArgs(size: number, offset: number, pageSize: number): void {
  const bad = checkBufferSizes(size, pageSize, offset);
  if (bad) fail(ErrorCode.BadArguments, bad);
  const total = size + offset;
  if (pageSize === 4096) {
    const avail = meminfo('MemAvailable') * 1024;
    if (total > avail / 2) fail(ErrorCode.BackingUnavailable, `a ${total}-byte buffer is more than half of this machine's available memory (${avail} bytes): register a smaller one.`);
  } else {
    const free = pageSize === 2 * 1024 * 1024 ? meminfo('HugePages_Free') * pageSize : hugeFree(pageSize);
    if (total > free) fail(ErrorCode.BackingUnavailable, `${total} bytes of ${pageSize === 2 ** 21 ? '2M' : '1G'} hugepages are needed but ${free} are free: reserve more (nr_hugepages) or register a smaller buffer.`);
  }
}

function hugeFree(pageSize: number): number {
  try {
    return Number(fs.readFileSync(`/sys/kernel/mm/hugepages/hugepages-${pageSize / 1024}kB/free_hugepages`, 'utf8')) * pageSize;
  } catch {
    return 0;
  }
}

function memfdFor(size: number, pageSize: number, name: string): number {
  const huge = pageSize === 4096 ? 0 : MFD_HUGETLB | (Math.log2(pageSize) << 26);
  const fd = libc().memfdCreate(name, MFD_ALLOW_SEALING | huge);
  if (fd < 0) fail(ErrorCode.BackingUnavailable, `memfd_create failed (errno ${koffi.errno()}): this kernel cannot back a ${pageSize}-byte-page buffer.`);
  if (libc().ftruncate(fd, size) !== 0) {
    libc().close(fd);
    fail(ErrorCode.BackingUnavailable, `sizing the memfd to ${size} bytes failed (errno ${koffi.errno()}): register a smaller buffer.`);
  }
  return fd;
}

function mapShared(fd: number, len: number, offset: number): bigint {
  const p = libc().mmap(null, len, PROT_RW, MAP_SHARED, fd, offset);
  const at = p ? BigInt(koffi.address(p)) : -1n;
  if (at <= 0n || at === 0xffffffffffffffffn) fail(ErrorCode.BackingUnavailable, `mapping the buffer failed (errno ${koffi.errno()}): not enough memory or hugepages; register a smaller buffer.`);
  return at;
}

function fdInode(fd: number): number {
  try {
    return fs.fstatSync(fd).ino;
  } catch {
    return 0;
  }
}

function udmabuf(size: number, offset: number, pageSize: number): TestBuffer {
  const total = size + offset;
  const memfd = memfdFor(total, pageSize, 'memscope-udmabuf');
  libc().fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK);
  const dev = libc().open('/dev/udmabuf', O_RDWR | O_CLOEXEC);
  if (dev < 0) fail(ErrorCode.BackingUnavailable, `cannot open /dev/udmabuf (errno ${koffi.errno()}): load the udmabuf module or use --backing memfd.`);
  const req = Buffer.alloc(24);
  req.writeUInt32LE(memfd, 0);
  req.writeUInt32LE(0, 4); // no UDMABUF_FLAGS_CLOEXEC: the guardian inherits it
  req.writeBigUInt64LE(0n, 8);
  req.writeBigUInt64LE(BigInt(total), 16);
  const fd = libc().ioctl(dev, UDMABUF_CREATE, req);
  libc().close(dev);
  if (fd < 0) fail(ErrorCode.BackingUnavailable, `UDMABUF_CREATE failed (errno ${koffi.errno()}): use --backing memfd.`);
  const va = mapShared(fd, size, offset);
  return { kind: 'udmabuf', label: 'dma-buf (udmabuf)', fd, memfd, va, len: size, offset, pageSize, exporter: 'udmabuf', size: total, inode: fdInode(fd) };
}

function dmaHeap(size: number, offset: number, pageSize: number): TestBuffer {
  if (pageSize !== 4096) fail(ErrorCode.BackingUnavailable, 'the system dma-heap gives 4K pages only: use --page-size 4K or --backing memfd.');
  const total = size + offset;
  const heap = libc().open('/dev/dma_heap/system', O_RDWR | O_CLOEXEC);
  if (heap < 0) fail(ErrorCode.BackingUnavailable, `cannot open /dev/dma_heap/system (errno ${koffi.errno()}): use --backing memfd.`);
  const req = Buffer.alloc(24);
  req.writeBigUInt64LE(BigInt(total), 0);
  req.writeUInt32LE(0, 8);
  req.writeUInt32LE(O_RDWR, 12);
  req.writeBigUInt64LE(0n, 16);
  const rc = libc().ioctl(heap, DMA_HEAP_IOCTL_ALLOC, req);
  libc().close(heap);
  if (rc < 0) fail(ErrorCode.BackingUnavailable, `DMA_HEAP_IOCTL_ALLOC failed (errno ${koffi.errno()}): use --backing memfd.`);
  const fd = req.readUInt32LE(8);
  const va = mapShared(fd, size, offset);
  return { kind: 'dma-heap', label: 'dma-buf (dma-heap system)', fd, memfd: null, va, len: size, offset, pageSize, exporter: 'system', size: total, inode: fdInode(fd) };
}

function memfd(size: number, offset: number, pageSize: number): TestBuffer {
  const fd = memfdFor(size + offset, pageSize, 'memscope-test-buffer');
  const va = mapShared(fd, size, offset);
  return { kind: 'memfd', label: 'memfd (no dma-buf exporter on this host)', fd, memfd: fd, va, len: size, offset, pageSize, exporter: null, size: size + offset, inode: fdInode(fd) };
}

export function haveUdmabuf(): boolean {
  return fs.existsSync('/dev/udmabuf');
}

export function haveDmaHeap(): boolean {
  return fs.existsSync('/dev/dma_heap/system');
}

/** Creates and maps a buffer; `auto` tries udmabuf, then a dma-heap, then a memfd. */
export function createBuffer(size: number, pageSize: number, backing: BufferBacking, offset = 0): TestBuffer {
  checkBufferArgs(size, offset, pageSize);
  if (backing === 'udmabuf' || (backing === 'auto' && haveUdmabuf())) return udmabuf(size, offset, pageSize);
  if (backing === 'dma-heap' || (backing === 'auto' && haveDmaHeap() && pageSize === 4096)) return dmaHeap(size, offset, pageSize);
  return memfd(size, offset, pageSize);
}

export function releaseBuffer(b: TestBuffer): void {
  const c = libc();
  const cell = koffi.alloc('uint64_t', 1);
  koffi.encode(cell, 'uint64_t', b.va);
  c.munmap(koffi.decode(cell, 'void *'), b.len);
  koffi.free(cell);
  c.close(b.fd);
  if (b.memfd !== null && b.memfd !== b.fd) c.close(b.memfd);
}

/** Maps an inherited buffer fd at exactly `va` (the guardian's copy). */
export function mapAt(fd: number, va: bigint, len: number, offset: number): boolean {
  const cell = koffi.alloc('uint64_t', 1);
  koffi.encode(cell, 'uint64_t', va);
  const want = koffi.decode(cell, 'void *');
  koffi.free(cell);
  const MAP_FIXED_NOREPLACE = 0x100000;
  const p = libc().mmap(want, len, PROT_RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, offset);
  return !!p && BigInt(koffi.address(p)) === va;
}
