/**
 * The dma-buf registration and query API of the seed, on an attached
 * secondary: registerDmabuf / unregister / getDmabufFd / getDmabufOffset,
 * with the seed's validation and errno values. Where the loaded librte_eal
 * carries the seed, its own symbols are called; either way the registration
 * is published in Memscope's shared table (table.ts), which every process
 * attached to the target can read. Queries are lock-free reads.
 */
import { ErrorCode, MemscopeError } from '../../common/errors';
import type { MemConfig } from '../dpdk/memconfig';
import { startTime } from '../procfs';
import { stage } from '../stage';
import type { Session } from '../session';
import { checkRegisterArgs, checkWithinBuffer, type Errno, errnoName, type RegisterArgs } from './contract';
import { EalOps } from './eal-ops';
import { decodeLive, headerOk, type LiveEntry, TABLE_MEMZONE, TABLE_SIZE, writeHeader, writeSlot } from './table';

const ERRNO_CODE: Partial<Record<Errno, ErrorCode>> = {
  EINVAL: ErrorCode.RegisterInvalid,
  EEXIST: ErrorCode.RegisterExists,
  ENOSPC: ErrorCode.RegisterNoSpace,
  ENOENT: ErrorCode.NotRegistered,
  EBUSY: ErrorCode.RegisterBusy,
};

/** A failed call, carrying DPDK's errno by name. */
export class DmabufError extends MemscopeError {
  constructor(
    readonly errno: Errno | `E${number}`,
    message: string,
    readonly check?: string,
  ) {
    super(ERRNO_CODE[errno as Errno] ?? ErrorCode.RegisterFailed, `${errno}${check ? ` (${check})` : ''}: ${message}`);
  }
}

export interface Registration {
  mslIndex: number;
  socketId: number;
  heap: string | null;
  via: 'native' | 'extmem' | 'heap';
}

export interface Describe {
  kind: LiveEntry['kind'];
  exporter: string;
  size: number;
  inode: number;
}

export class Registry {
  readonly ops: EalOps;
  private table: { addr: bigint; view: DataView } | null = null;

  constructor(readonly session: Session) {
    if (session.access !== 'secondary' || !session.eal) {
      throw new MemscopeError(ErrorCode.NotAttached, 'registering memory needs an agent attached as a DPDK secondary: attach with --via secondary.');
    }
    this.ops = new EalOps(session.eal, session.L);
  }

  /** The shared table, reserving its memzone on first use. */
  private ensureTable(): { addr: bigint; view: DataView } {
    if (this.table) return this.table;
    stage('memzone-reserve');
    const mz = this.ops.memzone(TABLE_MEMZONE, TABLE_SIZE);
    if (!mz) throw new DmabufError(errnoName(this.ops.errno()), `cannot reserve the ${TABLE_SIZE}-byte memzone "${TABLE_MEMZONE}" for the shared table: free some memory in the target.`);
    const view = this.ops.view(mz.addr, TABLE_SIZE);
    const head = Buffer.from(view.buffer, view.byteOffset, 64);
    if (!headerOk(head)) {
      if (!mz.created && head.readUInt32LE(0) !== 0) {
        throw new MemscopeError(ErrorCode.RegisterFailed, `a memzone named "${TABLE_MEMZONE}" exists but is not a Memscope table of this version: another tool uses the name; unregister with that tool.`);
      }
      writeHeader(head);
    }
    this.table = { addr: mz.addr, view };
    return this.table;
  }

  private listAt(cfg: MemConfig, va: bigint, len: number) {
    return cfg.lists.find((l) => l.external && l.baseVa === va && l.len === len);
  }

  /**
   * rte_extmem_register_dmabuf's contract. With `heap`, the memory goes into
   * a named external malloc heap instead (rte_malloc_heap_create +
   * rte_malloc_heap_memory_add), whose list gets the same table entry.
   */
  registerDmabuf(a: RegisterArgs, describe: Describe, heap: string | null = null): Registration {
    const bad = checkRegisterArgs(a) ?? checkWithinBuffer(a, describe.size || null);
    if (bad) throw new DmabufError(bad.errno, bad.message, bad.check);
    const before = this.session.memConfig();
    if (this.listAt(before, a.va, a.len) || before.lists.some((l) => l.external && l.baseVa < a.va + BigInt(a.len) && a.va < l.baseVa + BigInt(l.len))) {
      throw new DmabufError('EEXIST', `memory at 0x${a.va.toString(16)} (${a.len} bytes) is already registered: unregister it first.`);
    }
    let via: Registration['via'];
    if (heap !== null) {
      stage('heap-create');
      const c = this.ops.heapCreate(heap);
      if (c.rc < 0) {
        const e = errnoName(c.errno);
        throw new DmabufError(e, e === 'EEXIST' ? `a malloc heap named "${heap}" already exists: pick another name.` : e === 'ENOSPC' ? 'no free malloc heap slot is left in the target (RTE_MAX_HEAPS): destroy a heap first.' : `rte_malloc_heap_create("${heap}") failed: check the name (at most 31 characters).`);
      }
      stage('heap-add');
      const r = this.ops.heapAdd(heap, a.va, a.len, a.iovaAddrs ? [...a.iovaAddrs] : null, a.nPages || a.len / a.pageSz, a.pageSz);
      if (r.rc < 0) {
        stage('heap-destroy');
        this.ops.heapDestroy(heap);
        throw this.regError(r.errno, a);
      }
      via = 'heap';
    } else if (this.ops.native) {
      stage('native-register');
      const rc = this.ops.native.register(a.va, a.len, a.dmabufFd, a.dmabufOffset, a.iovaAddrs ? [...a.iovaAddrs] : null, a.nPages, a.pageSz);
      if (rc < 0) throw this.regError(this.ops.errno(), a);
      via = 'native';
    } else {
      stage('extmem-register');
      const r = this.ops.extmemRegister(a.va, a.len, a.iovaAddrs ? [...a.iovaAddrs] : null, a.nPages, a.pageSz);
      if (r.rc < 0) throw this.regError(r.errno, a);
      via = 'extmem';
    }
    stage('registered');
    const list = this.listAt(this.session.memConfig(), a.va, a.len);
    if (!list) throw new MemscopeError(ErrorCode.RegisterFailed, `the registration at 0x${a.va.toString(16)} succeeded but no memseg list holds it: this DPDK build differs from the one Memscope knows.`);
    const { view } = this.ensureTable();
    stage('table-write');
    writeSlot(view, list.index, {
      mslIndex: list.index,
      fd: a.dmabufFd,
      baseVa: a.va,
      len: a.len,
      offset: a.dmabufOffset,
      ownerPid: process.pid,
      ownerStart: startTime(process.pid) ?? 0,
      kind: describe.kind,
      size: describe.size,
      inode: describe.inode,
      exporter: describe.exporter,
      pageSize: a.pageSz,
    });
    stage('published');
    return { mslIndex: list.index, socketId: list.socketId, heap, via };
  }

  private regError(errno: number, a: RegisterArgs): DmabufError {
    const e = errnoName(errno);
    switch (e) {
      case 'EEXIST':
        return new DmabufError(e, `memory at 0x${a.va.toString(16)} is already registered: unregister it first.`);
      case 'ENOSPC':
        return new DmabufError(e, 'the target has no free memseg list or socket id left for external memory: unregister something, or restart the primary.');
      case 'EINVAL':
        return new DmabufError(e, 'DPDK rejected the arguments: check address, length and page size alignment.');
      default:
        return new DmabufError(e, `DPDK failed to register the memory (rte_errno ${errno}): see the agent log.`);
    }
  }

  /** Undoes a registration: heap memory first (then the heap), else the external memory. */
  unregister(va: bigint, len: number, heap: string | null = null): void {
    const cfg = this.session.memConfig();
    const list = this.listAt(cfg, va, len);
    if (!list) throw new DmabufError('ENOENT', `nothing is registered at 0x${va.toString(16)} with ${len} bytes: check \`memscope snapshot\` for the address.`);
    if (heap !== null) {
      stage('heap-remove');
      const r = this.ops.heapRemove(heap, va, len);
      if (r.rc < 0) {
        const e = errnoName(r.errno);
        throw new DmabufError(e, e === 'EBUSY' ? `heap "${heap}" still has allocations in this memory: free them in the target first.` : `removing the memory from heap "${heap}" failed: see the agent log.`);
      }
      stage('heap-destroy');
      const d = this.ops.heapDestroy(heap);
      if (d.rc < 0) throw new DmabufError(errnoName(d.errno), `heap "${heap}" could not be destroyed after its memory was removed: it may still have memory added by another process.`);
    } else {
      stage('extmem-unregister');
      const r = this.ops.extmemUnregister(va, len);
      if (r.rc < 0) {
        const e = errnoName(r.errno);
        throw new DmabufError(e, e === 'EBUSY' ? 'another process is still attached to this memory: it must call rte_extmem_detach first.' : `rte_extmem_unregister failed: see the agent log.`);
      }
    }
    stage('unregistered');
    this.clearSlot(list.index);
  }

  clearSlot(index: number): void {
    const { view } = this.ensureTable();
    writeSlot(view, index, null);
  }

  /** Live table entries (lock-free copy), with whether each owner still lives. */
  entries(): Map<number, LiveEntry> {
    return readTable(this.session);
  }

  private mslValid(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.session.L.build.maxMemsegLists && this.session.memConfig().lists.some((l) => l.index === index);
  }

  /** The seed's rte_memseg_list_get_dmabuf_fd: the fd (in its owner), -1 if not dma-buf backed. */
  getDmabufFd(mslIndex: number): number {
    if (!this.mslValid(mslIndex)) throw new DmabufError('EINVAL', `memseg list ${mslIndex} is not one of the target's lists: pick an index from the snapshot.`);
    const e = this.entries().get(mslIndex);
    return e && e.ownerAlive ? e.fd : -1;
  }

  /** The seed's rte_memseg_list_get_dmabuf_offset. */
  getDmabufOffset(mslIndex: number): number {
    if (!this.mslValid(mslIndex)) throw new DmabufError('EINVAL', `memseg list ${mslIndex} is not one of the target's lists: pick an index from the snapshot.`);
    const e = this.entries().get(mslIndex);
    return e && e.ownerAlive ? e.offset : 0;
  }
}

/** Reads the shared table of any session (secondary or peek), without a lock. */
export function readTable(session: Session): Map<number, LiveEntry> {
  const out = new Map<number, LiveEntry>();
  const snap = session.memzoneAddr(TABLE_MEMZONE);
  if (snap === null) return out;
  const b = session.shared.read(snap, TABLE_SIZE);
  return b ? decodeLive(b) : out;
}

