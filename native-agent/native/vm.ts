/**
 * Fault-proof copies of memory, of this process or another, with
 * process_vm_readv. Reading our own pid is how the agent "probes before it
 * dereferences": a range that is unmapped (or PROT_NONE after the primary
 * hot-unplugged a page) comes back as a failed read, never as SIGSEGV.
 */
import koffi from 'koffi';
import { errno, libc } from './libc';

const IOV_MAX = 1024;
const EFAULT = 14;

/** Addresses as numbers are exact: x86-64 user space ends below 2^47. */
export type Addr = number | bigint;
const ESRCH = 3;
const EPERM = 1;

export class VmReadError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export class VmReader {
  private scratch: unknown;
  private scratchAddr = 0n;
  private scratchView: Buffer = Buffer.alloc(0);
  private readonly local = Buffer.alloc(16);
  private remote = Buffer.alloc(16 * IOV_MAX);
  /** Syscalls and bytes since creation (for benchmarks and tests). */
  calls = 0;
  bytes = 0;

  constructor(readonly pid: number) {
    this.ensure(1 << 20);
  }

  private ensure(n: number): void {
    if (n <= this.scratchView.length) return;
    let size = Math.max(this.scratchView.length, 1 << 20);
    while (size < n) size *= 2;
    if (this.scratch) koffi.free(this.scratch);
    this.scratch = koffi.alloc('uint8_t', size);
    this.scratchAddr = BigInt(koffi.address(this.scratch));
    this.scratchView = Buffer.from(koffi.view(this.scratch, size));
  }

  /** One syscall over up to IOV_MAX ranges laid end to end in scratch. */
  private sys(ranges: ReadonlyArray<readonly [Addr, number]>, from: number, count: number, total: number): number {
    this.local.writeBigUInt64LE(this.scratchAddr, 0);
    this.local.writeBigUInt64LE(BigInt(total), 8);
    for (let i = 0; i < count; i++) {
      const [addr, len] = ranges[from + i]!;
      this.remote.writeBigUInt64LE(BigInt.asUintN(64, BigInt(addr)), i * 16);
      this.remote.writeBigUInt64LE(BigInt(len), i * 16 + 8);
    }
    this.calls++;
    const n = Number(libc().processVmReadv(this.pid, this.local, 1, this.remote, count, 0));
    if (n < 0) {
      const e = errno();
      if (e === EFAULT) return 0;
      throw new VmReadError(
        e,
        e === ESRCH
          ? `process ${this.pid} is gone`
          : e === EPERM
            ? `no permission to read the memory of process ${this.pid}`
            : `process_vm_readv(${this.pid}) failed with errno ${e}`,
      );
    }
    this.bytes += n;
    return n;
  }

  /**
   * Copies [addr, addr+len) into a borrowed buffer valid until the next call,
   * or returns null when any byte of it is not readable.
   */
  borrow(addr: Addr, len: number): Buffer | null {
    if (len === 0) return this.scratchView.subarray(0, 0);
    this.ensure(len);
    const n = this.sys([[addr, len]], 0, 1, len);
    return n === len ? this.scratchView.subarray(0, len) : null;
  }

  /** Like borrow, but the returned buffer is the caller's. */
  read(addr: Addr, len: number): Buffer | null {
    const b = this.borrow(addr, len);
    return b ? Buffer.from(b) : null;
  }

  /** Copies as much of [addr, addr+len) as is readable into a borrowed buffer. */
  borrowUpTo(addr: Addr, len: number): Buffer {
    this.ensure(len);
    const n = this.sys([[addr, len]], 0, 1, len);
    return this.scratchView.subarray(0, n);
  }

  /**
   * Reads many ranges in as few syscalls as the kernel allows. Each result is
   * the caller's copy, or null where that range was not readable.
   */
  readMany(ranges: ReadonlyArray<readonly [Addr, number]>): (Buffer | null)[] {
    const out: (Buffer | null)[] = new Array(ranges.length).fill(null);
    let i = 0;
    while (i < ranges.length) {
      let count = 0;
      let total = 0;
      while (i + count < ranges.length && count < IOV_MAX && total + ranges[i + count]![1] <= 64 << 20) {
        total += ranges[i + count]![1];
        count++;
      }
      if (count === 0) {
        // a single range larger than the batch limit
        out[i] = this.read(ranges[i]![0], ranges[i]![1]);
        i++;
        continue;
      }
      this.ensure(total);
      const n = this.sys(ranges, i, count, total);
      const got = Buffer.from(this.scratchView.subarray(0, n));
      let off = 0;
      let k = 0;
      for (; k < count; k++) {
        const len = ranges[i + k]![1];
        if (off + len > n) break;
        out[i + k] = got.subarray(off, off + len);
        off += len;
      }
      // range i+k faulted (or was cut short): skip it, go on after it
      i += k < count ? k + 1 : count;
    }
    return out;
  }
}
