/**
 * The EAL calls that change a target: external memory (rte_extmem_*),
 * external malloc heaps (rte_malloc_heap_*), memzones, and the seed's
 * dma-buf symbols where the loaded DPDK exports them. These go through EAL's
 * own locking, on the event loop's thread, so rte_errno (a thread-local) is
 * read from the same thread.
 */
import koffi from 'koffi';
import type { Layout } from '../dpdk/layout';
import type { EalLib } from '../eal';
import { toPtr } from '../native/libc';

export interface NativeDmabuf {
  /** The getter's name as this librte_eal exports it (the seed's v1 and v4 spell it differently). */
  getter: string;
  register(va: bigint, len: number, fd: number, offset: number, iovas: bigint[] | null, nPages: number, pageSz: number): number;
  getFdThreadUnsafe(msl: unknown): number;
  getOffsetThreadUnsafe(msl: unknown, out: BigUint64Array): number;
}

/** The unlocked getters' spellings seen in the wild: the seed's v1, then v4 (on 25.11, experimental 26.03 symbols). */
export const DMABUF_GETTERS = [
  { fd: 'rte_memseg_list_get_dmabuf_fd_thread_unsafe', offset: 'rte_memseg_list_get_dmabuf_offset_thread_unsafe' },
  { fd: 'rte_memseg_list_get_dmabuf_fd_unsafe', offset: 'rte_memseg_list_get_dmabuf_offset_unsafe' },
] as const;

export interface CallResult {
  rc: number;
  errno: number;
}

function bind(eal: EalLib) {
  const f = (proto: string) => eal.lib.func(proto);
  return {
    extmemRegister: f('int rte_extmem_register(void *va, size_t len, void *iovas, unsigned int n_pages, size_t page_sz)'),
    extmemUnregister: f('int rte_extmem_unregister(void *va, size_t len)'),
    extmemAttach: f('int rte_extmem_attach(void *va, size_t len)'),
    extmemDetach: f('int rte_extmem_detach(void *va, size_t len)'),
    heapCreate: f('int rte_malloc_heap_create(const char *name)'),
    heapDestroy: f('int rte_malloc_heap_destroy(const char *name)'),
    heapAdd: f('int rte_malloc_heap_memory_add(const char *name, void *va, size_t len, void *iovas, unsigned int n_pages, size_t page_sz)'),
    heapRemove: f('int rte_malloc_heap_memory_remove(const char *name, void *va, size_t len)'),
    heapAttach: f('int rte_malloc_heap_memory_attach(const char *name, void *va, size_t len)'),
    heapDetach: f('int rte_malloc_heap_memory_detach(const char *name, void *va, size_t len)'),
    heapSocket: f('int rte_malloc_heap_get_socket(const char *name)'),
    mzLookup: f('void *rte_memzone_lookup(const char *name)'),
    mzReserve: f('void *rte_memzone_reserve(const char *name, size_t len, int socket_id, unsigned int flags)'),
  };
}

export class EalOps {
  private readonly fns: ReturnType<typeof bind>;
  private errnoPtr: unknown = null;
  readonly native: NativeDmabuf | null;

  constructor(
    readonly eal: EalLib,
    private readonly L: Layout,
  ) {
    this.fns = bind(eal);
    this.native = EalOps.findNative(eal);
  }

  /** The seed's symbols, when this librte_eal carries the patch (under either spelling). */
  private static findNative(eal: EalLib): NativeDmabuf | null {
    let reg: ReturnType<EalLib['lib']['func']>;
    try {
      reg = eal.lib.func('int rte_extmem_register_dmabuf(void *va, size_t len, int fd, uint64_t off, void *iovas, unsigned int n, size_t page_sz)');
    } catch {
      return null;
    }
    for (const names of DMABUF_GETTERS) {
      try {
        const getFd = eal.lib.func(`int ${names.fd}(void *msl)`);
        const getOff = eal.lib.func(`int ${names.offset}(void *msl, _Out_ uint64_t *off)`);
        return {
          getter: names.fd,
          register: (va, len, fd, offset, iovas, nPages, pageSz) => reg(toPtr(va), len, fd, offset, iovas ? BigUint64Array.from(iovas) : null, nPages, pageSz),
          getFdThreadUnsafe: (msl) => getFd(msl),
          getOffsetThreadUnsafe: (msl, out) => getOff(msl, out),
        };
      } catch {
        /* the other spelling */
      }
    }
    return null;
  }

  /** rte_errno of this (the event loop's) thread. */
  errno(): number {
    if (!this.errnoPtr) {
      const dl = koffi.load('libc.so.6');
      const dlopen = dl.func('void *dlopen(const char *f, int flags)');
      const dlsym = dl.func('void *dlsym(void *h, const char *s)');
      const h = dlopen(this.eal.path, 2 | 4 /* RTLD_NOW | RTLD_NOLOAD */);
      this.errnoPtr = h ? dlsym(h, 'per_lcore__rte_errno') : null;
    }
    return this.errnoPtr ? (koffi.decode(this.errnoPtr, 'int') as number) : 0;
  }

  private call(rc: number): CallResult {
    return { rc, errno: rc < 0 ? this.errno() : 0 };
  }

  extmemRegister(va: bigint, len: number, iovas: bigint[] | null, nPages: number, pageSz: number): CallResult {
    return this.call(this.fns.extmemRegister(toPtr(va), len, iovas ? BigUint64Array.from(iovas) : null, nPages, pageSz));
  }
  extmemUnregister(va: bigint, len: number): CallResult {
    return this.call(this.fns.extmemUnregister(toPtr(va), len));
  }
  extmemAttach(va: bigint, len: number): CallResult {
    return this.call(this.fns.extmemAttach(toPtr(va), len));
  }
  extmemDetach(va: bigint, len: number): CallResult {
    return this.call(this.fns.extmemDetach(toPtr(va), len));
  }
  heapCreate(name: string): CallResult {
    return this.call(this.fns.heapCreate(name));
  }
  heapDestroy(name: string): CallResult {
    return this.call(this.fns.heapDestroy(name));
  }
  heapAdd(name: string, va: bigint, len: number, iovas: bigint[] | null, nPages: number, pageSz: number): CallResult {
    return this.call(this.fns.heapAdd(name, toPtr(va), len, iovas ? BigUint64Array.from(iovas) : null, nPages, pageSz));
  }
  heapRemove(name: string, va: bigint, len: number): CallResult {
    return this.call(this.fns.heapRemove(name, toPtr(va), len));
  }
  heapAttach(name: string, va: bigint, len: number): CallResult {
    return this.call(this.fns.heapAttach(name, toPtr(va), len));
  }
  heapDetach(name: string, va: bigint, len: number): CallResult {
    return this.call(this.fns.heapDetach(name, toPtr(va), len));
  }
  heapSocket(name: string): number {
    return this.fns.heapSocket(name);
  }

  /** A memzone's address, reserving it first if it does not exist yet. */
  memzone(name: string, len: number): { addr: bigint; created: boolean } | null {
    const found = this.fns.mzLookup(name);
    const mz = found ?? this.fns.mzReserve(name, len, -1 /* SOCKET_ID_ANY */, 0) ?? this.fns.mzLookup(name);
    if (!mz) return null;
    const b = Buffer.from(koffi.view(mz as never, this.L.memzone.size));
    return { addr: b.readBigUInt64LE(this.L.memzone.addr), created: !found };
  }

  /** Writable view of memory mapped in this process. */
  view(addr: bigint, len: number): DataView {
    return new DataView(koffi.view(toPtr(addr) as never, len));
  }
}

