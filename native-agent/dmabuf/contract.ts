/**
 * The seed patch's contract for rte_extmem_register_dmabuf, as pure checks
 * (shared/seed/eal-support-dmabuf.patch.txt): the same conditions, in the
 * same order, each reported by name with DPDK's errno and one sentence.
 */

export type Errno = 'EINVAL' | 'EEXIST' | 'ENOSPC' | 'ENOENT' | 'EBUSY' | 'ENOMEM' | 'EPERM';

export const ERRNO: Record<Errno, number> = { EPERM: 1, ENOENT: 2, ENOMEM: 12, EBUSY: 16, EEXIST: 17, EINVAL: 22, ENOSPC: 28 };

export function errnoName(n: number): Errno | `E${number}` {
  const hit = (Object.entries(ERRNO) as [Errno, number][]).find(([, v]) => v === n);
  return hit ? hit[0] : `E${n}`;
}

export interface RegisterArgs {
  va: bigint;
  len: number;
  dmabufFd: number;
  dmabufOffset: number;
  iovaAddrs: readonly bigint[] | null;
  nPages: number;
  pageSz: number;
}

export interface ContractViolation {
  errno: Errno;
  /** Which condition of the seed failed. */
  check: 'va-null' | 'page-size-zero' | 'len-zero' | 'page-size-not-power-of-two' | 'len-not-page-multiple' | 'iova-count' | 'va-not-aligned' | 'fd-negative' | 'offset-beyond-buffer';
  message: string;
}

const isPow2 = (n: number) => n > 0 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;

/** The seed's EINVAL conditions, in its order; null when the arguments pass. */
export function checkRegisterArgs(a: RegisterArgs): ContractViolation | null {
  const v = (check: ContractViolation['check'], message: string): ContractViolation => ({ errno: 'EINVAL', check, message });
  if (a.va === 0n) return v('va-null', 'the virtual address is NULL: pass the address the buffer is mapped at.');
  if (a.pageSz === 0) return v('page-size-zero', 'the page size is 0: pass the page size of the memory (4096, 2M or 1G).');
  if (a.len === 0) return v('len-zero', 'the length is 0: register at least one page.');
  if (!isPow2(a.pageSz)) return v('page-size-not-power-of-two', `the page size ${a.pageSz} is not a power of two: use 4096, 2097152 or 1073741824.`);
  if (a.len % a.pageSz !== 0) return v('len-not-page-multiple', `the length ${a.len} is not a multiple of the page size ${a.pageSz}: round it up to whole pages.`);
  if (a.iovaAddrs !== null && a.len / a.pageSz !== a.nPages) {
    return v('iova-count', `${a.nPages} IOVAs were given for ${a.len / a.pageSz} pages: pass one IOVA a page, or none.`);
  }
  if (a.va % BigInt(a.pageSz) !== 0n) return v('va-not-aligned', `the address 0x${a.va.toString(16)} is not aligned to the page size ${a.pageSz}: map the buffer page-aligned.`);
  if (a.dmabufFd < 0) return v('fd-negative', `the dma-buf fd ${a.dmabufFd} is negative: pass an open dma-buf file descriptor.`);
  return null;
}

/**
 * Past the seed, which cannot know the dma-buf's size: when the caller does,
 * the registered region [offset, offset + len) must lie inside the buffer.
 */
export function checkWithinBuffer(a: RegisterArgs, bufferSize: number | null): ContractViolation | null {
  if (bufferSize === null || bufferSize <= 0) return null;
  if (a.dmabufOffset < 0 || a.dmabufOffset + a.len > bufferSize) {
    return {
      errno: 'EINVAL',
      check: 'offset-beyond-buffer',
      message: `offset ${a.dmabufOffset} + length ${a.len} runs past the end of the ${bufferSize}-byte dma-buf: register a region inside it.`,
    };
  }
  return null;
}
