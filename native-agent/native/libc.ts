/**
 * The few libc calls the agent needs, through koffi. Memory of the target is
 * only ever read through process_vm_readv, which reports EFAULT instead of
 * faulting: a page the primary unmaps under us cannot crash the agent.
 */
import * as fs from 'node:fs';
import koffi from 'koffi';

let lib: ReturnType<typeof bind> | undefined;

function bind() {
  const libc = koffi.load('libc.so.6');
  return {
    processVmReadv: libc.func(
      'long process_vm_readv(int pid, void *local, unsigned long liovcnt, void *remote, unsigned long riovcnt, unsigned long flags)',
    ),
    fcntlLock: libc.func('int fcntl(int fd, int cmd, void *lock)'),
    fcntlInt: libc.func('int fcntl(int fd, int cmd, int arg)'),
    flock: libc.func('int flock(int fd, int op)'),
    fopen: libc.func('void *fopen(const char *path, const char *mode)'),
    fclose: libc.func('int fclose(void *stream)'),
    setvbuf: libc.func('int setvbuf(void *stream, void *buf, int mode, size_t size)'),
    exit_: libc.func('void _exit(int status)'),
    execve: libc.func('int execve(const char *path, const char **argv, const char **envp)'),
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
    syscallInt: libc.func('long syscall(long nr, int a, unsigned int b)'),
    poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    mallopt: libc.func('int mallopt(int param, int value)'),
  };
}

/** Set once libc (and so possibly EAL) has been bound: the process must then end with hardExit. */
export const NATIVE_LOADED = Symbol.for('memscope.nativeLoaded');

export function libc() {
  if (!lib) {
    lib = bind();
    (globalThis as Record<symbol, unknown>)[NATIVE_LOADED] = true;
  }
  return lib;
}

export function errno(): number {
  return koffi.errno();
}

const F_GETLK = 5;
const F_WRLCK = 1;
const F_UNLCK = 2;

/**
 * Pid of the process holding a POSIX lock that conflicts with a write lock on
 * the whole file (DPDK's primary write-locks its `config`), or null.
 */
export function lockHolder(fd: number): number | null {
  // struct flock on x86-64: l_type@0 l_whence@2 l_start@8 l_len@16 l_pid@24
  const fl = Buffer.alloc(32);
  fl.writeInt16LE(F_WRLCK, 0);
  fl.writeInt16LE(0, 2);
  fl.writeBigInt64LE(0n, 8);
  fl.writeBigInt64LE(0n, 16);
  if (libc().fcntlLock(fd, F_GETLK, fl) !== 0) return null;
  if (fl.readInt16LE(0) === F_UNLCK) return null;
  return fl.readInt32LE(24);
}

/** lockHolder of the file at `file`, or null when it cannot be opened. */
export function lockHolderOf(file: string): number | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    return lockHolder(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const M_MMAP_THRESHOLD = -3;

/**
 * For a long-running agent: every malloc of 256 KiB or more (the buffers of
 * a snapshot's columns and of its replies) gets pages of its own, given
 * back to the kernel when freed. glibc would otherwise raise that threshold
 * after the first such free and serve them from its heap, which keeps the
 * freed memory resident. Returns false where mallopt refused.
 */
export function mmapLargeAllocations(): boolean {
  return libc().mallopt(M_MMAP_THRESHOLD, 256 * 1024) === 1;
}

/** Ends the process at once, skipping atexit handlers and library destructors. */
export function hardExit(code: number): never {
  libc().exit_(code);
  throw new Error('unreachable');
}

const PROT_NONE = 0;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const MAP_FIXED_NOREPLACE = 0x100000;

export function toPtr(addr: bigint): unknown {
  const cell = koffi.alloc('uint64_t', 1);
  koffi.encode(cell, 'uint64_t', addr);
  const p = koffi.decode(cell, 'void *');
  koffi.free(cell);
  return p;
}

/**
 * Holds [start, end) with an inaccessible placeholder so that nothing else in
 * this process (V8, glibc, a worker thread) maps there before EAL does.
 * Returns a release function, or null if the range is already taken.
 */
export function reserveRange(start: bigint, end: bigint): (() => void) | null {
  const len = Number(end - start);
  const want = toPtr(start);
  const got = libc().mmap(want, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  const at = got ? BigInt(koffi.address(got)) : -1n;
  if (at !== start) {
    if (at > 0n && at !== BigInt.asUintN(64, -1n)) libc().munmap(got, len);
    return null;
  }
  return () => {
    libc().munmap(got, len);
  };
}

/**
 * Replaces this process with a fresh run of the same command (same pid, same
 * stdio). Used before rte_eal_init only: a fresh process gets fresh random
 * addresses for V8's heap, which can land in the primary's ranges.
 */
export function reexec(env: Record<string, string>): never {
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const merged = { ...process.env, ...env };
  const envp = Object.entries(merged)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  // Node marks its stdio close-on-exec: the new image would get /dev/null.
  // fd 3 is a guardian's inherited buffer.
  const F_SETFD = 2;
  for (const fd of [0, 1, 2, 3]) libc().fcntlInt(fd, F_SETFD, 0);
  libc().execve(process.execPath, [...argv, null], [...envp, null]);
  throw new Error(`execve(${process.execPath}) failed with errno ${koffi.errno()}`);
}

/**
 * Takes a shared flock on a file without waiting; true when held. (Used to
 * keep EAL's runtime-dir cleanup off files it would otherwise delete.)
 */
export function flockShared(fd: number): boolean {
  const LOCK_SH = 1;
  const LOCK_NB = 4;
  return libc().flock(fd, LOCK_SH | LOCK_NB) === 0;
}

/**
 * Drops this open file's flock. Closing the descriptor is not enough while
 * the file is mapped: the mapping keeps the open file, and its lock, alive.
 */
export function unlockFlock(fd: number): boolean {
  const LOCK_UN = 8;
  return libc().flock(fd, LOCK_UN) === 0;
}

/**
 * Calls back as soon as process `pid` ends (a pidfd polled on a worker
 * thread: no polling interval, no pid-reuse race). Returns false when the
 * kernel has no pidfd_open (before 5.3); the caller then polls /proc.
 * The wait keeps the event loop alive: for processes that end by hardExit.
 */
export function onPidExit(pid: number, cb: () => void, stillRunning: (pid: number) => boolean): boolean {
  const SYS_pidfd_open = 434; // x86-64 and arm64 alike
  const fd = Number(libc().syscallInt(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(1 /* POLLIN */, 4);
  const wait = (): void =>
    libc().poll.async(pfd, 1, -1, () => {
      // a signal can cut the wait short (EINTR): only an ended process counts
      if (stillRunning(pid)) return wait();
      cb();
    });
  wait();
  return true;
}
