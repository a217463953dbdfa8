/**
 * Makes the hazard of dpdk-notes.md #2/#3 on purpose: a secondary that
 * registers external memory (rte_extmem_register) and then dies without
 * unregistering it, leaving an orphaned memseg list in the target.
 * `node orphan-maker.js PREFIX SIZE` prints {"va": "0x…", "len": N} once
 * registered, then waits to be SIGKILLed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { reexecIfReserveFailed } from './eal-retry';
import * as path from 'node:path';
import koffi from 'koffi';
import { layouts } from '../../native-agent/dpdk/layout';

const prefix = process.argv[2]!;
const len = Number(process.argv[3] ?? 2 * 1024 * 1024);
// the release's librte_eal (argv[4], default 22.11) from this root's library path
const release = process.argv[4] ?? '22.11';
const eal = koffi.load(layouts.find((l) => l.release === release)?.sonames.eal ?? `no data file for DPDK ${release}`);
const libc = koffi.load('libc.so.6');
const fopen = libc.func('void *fopen(const char *path, const char *mode)');
const logPath = path.join(os.tmpdir(), `memscope-orphan-${process.pid}.log`);
const logStream = fopen(logPath, 'w');
libc.func('int setvbuf(void *f, void *buf, int mode, size_t size)')(logStream, null, 1 /* _IOLBF */, 0);
eal.func('int rte_openlog_stream(void *f)')(logStream);
process.on('exit', () => fs.rmSync(logPath, { force: true }));
const args = ['orphan', '--proc-type=secondary', `--file-prefix=${prefix}`, '--no-pci', `--lcores=125@(0-${os.cpus().length - 1})`];
if (eal.func('int rte_eal_init(int argc, char **argv)')(args.length, args) < 0) {
  reexecIfReserveFailed(logPath);
  process.stderr.write('rte_eal_init failed\n');
  process.exit(1);
}
eal.func('void rte_service_finalize()')();
const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
const mem = mmap(null, len, 3 /* RW */, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
const register = eal.func('int rte_extmem_register(void *va, size_t len, void *iovas, unsigned int n, size_t page_sz)');
if (register(mem, len, null, 0, 4096) !== 0) {
  process.stderr.write('rte_extmem_register failed\n');
  process.exit(1);
}
process.stdout.write(JSON.stringify({ va: '0x' + BigInt(koffi.address(mem)).toString(16), len }) + '\n');
setInterval(() => undefined, 1000);
