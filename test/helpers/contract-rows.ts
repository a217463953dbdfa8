/** The seed's contract as table rows, shared by the unit test and the run against a real EAL. */
import type { RegisterArgs } from '../../native-agent/dmabuf/contract';

export interface ContractRow {
  name: string;
  /** Changes to a valid registration of 8 pages of 4 KiB at a page-aligned address. */
  args: (base: RegisterArgs) => Partial<RegisterArgs>;
  /** The seed's failing condition, or null when the call must succeed. */
  check: string | null;
}

export const CONTRACT_ROWS: ContractRow[] = [
  { name: 'valid', args: () => ({}), check: null },
  { name: 'va NULL', args: () => ({ va: 0n }), check: 'va-null' },
  { name: 'page size 0', args: () => ({ pageSz: 0 }), check: 'page-size-zero' },
  { name: 'len 0', args: () => ({ len: 0 }), check: 'len-zero' },
  { name: 'page size not a power of two', args: () => ({ pageSz: 3000, len: 6000 }), check: 'page-size-not-power-of-two' },
  { name: 'len not a multiple of page size', args: () => ({ len: 4096 + 512 }), check: 'len-not-page-multiple' },
  { name: 'iovas given with the wrong count', args: () => ({ iovaAddrs: [1n, 2n], nPages: 2 }), check: 'iova-count' },
  { name: 'iovas given with the right count', args: (b) => ({ iovaAddrs: Array.from({ length: b.len / 4096 }, (_, i) => BigInt(0x10000000 + i * 4096)), nPages: b.len / 4096 }), check: null },
  { name: 'n_pages wrong but no iovas (ignored, as in the seed)', args: () => ({ iovaAddrs: null, nPages: 3 }), check: null },
  { name: 'va not page-aligned', args: (b) => ({ va: b.va + 2048n }), check: 'va-not-aligned' },
  { name: 'fd negative', args: () => ({ dmabufFd: -1 }), check: 'fd-negative' },
];
