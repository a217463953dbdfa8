/**
 * An oracle from DPDK itself, run as its own secondary process:
 * `node oracle.js PREFIX` attaches with rte_eal_init and prints, as JSON,
 * DPDK's own view: rte_malloc_dump_heaps (parsed), every heap's
 * rte_malloc_get_socket_stats, and every mempool's rte_mempool_in_use_count.
 * These calls take the target's locks: use only on quiescent test primaries
 * without external memory (dpdk-notes.md, hazard 5).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import koffi from 'koffi';
import { layouts } from '../../native-agent/dpdk/layout';
import { parseHeapDump } from '../../native-agent/locking-reader';
import { toPtr } from '../../native-agent/native/libc';
import { reexecIfReserveFailed } from './eal-retry';

function main(): void {
  const prefix = process.argv[2];
  const release = process.argv[3] ?? '22.11';
  if (!prefix) throw new Error('usage: oracle PREFIX [RELEASE]');
  // the release's libraries, from this root's library path (run in the target's root for another release)
  const L = layouts.find((l) => l.release === release);
  if (!L) throw new Error(`no data file for DPDK ${release}`);
  const eal = koffi.load(L.sonames.eal);
  const mempool = koffi.load(L.sonames.mempool);
  const libc = koffi.load('libc.so.6');
  const fopen = libc.func('void *fopen(const char *path, const char *mode)');
  const fclose = libc.func('int fclose(void *f)');
  const logFile = path.join(os.tmpdir(), `memscope-oracle-${process.pid}.log`);
  const logStream = fopen(logFile, 'w');
  libc.func('int setvbuf(void *f, void *buf, int mode, size_t size)')(logStream, null, 1 /* _IOLBF */, 0);
  eal.func('int rte_openlog_stream(void *f)')(logStream);
  const args = ['oracle', '--proc-type=secondary', `--file-prefix=${prefix}`, '--no-pci', `--lcores=126@(0-${os.cpus().length - 1})`, '--log-level=lib.eal:notice'];
  const rc = eal.func('int rte_eal_init(int argc, char **argv)')(args.length, args);
  if (rc < 0) reexecIfReserveFailed(logFile);
  if (rc < 0) throw new Error(`rte_eal_init failed: ${fs.readFileSync(logFile, 'utf8')}`);
  // give back what this secondary's own init allocated in the primary's heap
  // (the service tables), so the dump shows the target as it was
  eal.func('void rte_service_finalize()')();
  const dumpFile = path.join(os.tmpdir(), `memscope-oracle-${process.pid}.txt`);
  const f = fopen(dumpFile, 'w');
  eal.func('void rte_malloc_dump_heaps(void *f)')(f);
  fclose(f);
  const heaps = parseHeapDump(fs.readFileSync(dumpFile, 'utf8'));
  fs.unlinkSync(dumpFile);

  koffi.struct('rte_malloc_socket_stats', {
    heap_totalsz_bytes: 'size_t',
    heap_freesz_bytes: 'size_t',
    greatest_free_size: 'size_t',
    free_count: 'unsigned int',
    alloc_count: 'unsigned int',
    heap_allocsz_bytes: 'size_t',
  });
  const getStats = eal.func('int rte_malloc_get_socket_stats(int socket, _Out_ rte_malloc_socket_stats *stats)');
  const stats: Record<number, unknown> = {};
  for (const sock of [0, 1, 2, 3]) {
    const s = {};
    if (getStats(sock, s) === 0) stats[sock] = s;
  }

  const mempools: { name: string; inUse: number; avail: number }[] = [];
  koffi.proto('void mp_walk_cb(void *mp, void *arg)');
  const walk = mempool.func('void rte_mempool_walk(mp_walk_cb *cb, void *arg)');
  const inUse = mempool.func('unsigned int rte_mempool_in_use_count(void *mp)');
  const avail = mempool.func('unsigned int rte_mempool_avail_count(void *mp)');
  // 25.11 as Debian builds it: the ring mempool driver is no plugin, so a
  // secondary has no ops for the pool and its count calls crash (so does
  // that release's `dpdk-proc-info --show-mempool`); there, the pool's ring
  // as librte_ring dumps it (`used`) plus what the lcore caches hold
  const ringDump = release === '25.11' ? koffi.load(L.sonames.mempool.replace('mempool', 'ring')).func('void rte_ring_dump(void *f, void *r)') : null;
  const P = L.mempool;
  walk((mp: unknown) => {
    const name = String(koffi.decode(mp, 'char', P.nameLen) as unknown as string).replace(/\0.*$/s, '');
    if (!ringDump) return void mempools.push({ name, inUse: inUse(mp), avail: avail(mp) });
    const hdr = Buffer.from(koffi.view(mp as never, P.size));
    const ring = toPtr(hdr.readBigUInt64LE(P.poolData));
    const file = path.join(os.tmpdir(), `memscope-oracle-ring-${process.pid}.txt`);
    const rf = fopen(file, 'w');
    ringDump(rf, ring);
    fclose(rf);
    const used = Number(/^\s*used=(\d+)/m.exec(fs.readFileSync(file, 'utf8'))?.[1] ?? NaN);
    fs.unlinkSync(file);
    let cached = 0;
    const caches = hdr.readBigUInt64LE(P.localCache);
    if (hdr.readUInt32LE(P.cacheSize) > 0 && caches !== 0n) {
      const C = L.mempoolCache;
      const all = Buffer.from(koffi.view(toPtr(caches) as never, L.build.maxLcore * C.size));
      for (let i = 0; i < L.build.maxLcore; i++) cached += all.readUInt32LE(i * C.size + C.len);
    }
    const size = hdr.readUInt32LE(P.poolSize);
    mempools.push({ name, inUse: size - used - cached, avail: used + cached });
  }, null);
  process.stdout.write(JSON.stringify({ heaps, stats, mempools }) + '\n');
  fs.unlinkSync(logFile);
}

try {
  main();
  process.exitCode = 0;
} catch (e) {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exitCode = 1;
}
// detach = end the process, without EAL cleanup
koffi.load('libc.so.6').func('void _exit(int)')(process.exitCode ?? 0);
