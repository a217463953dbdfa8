/**
 * Loading librte_eal and attaching as a secondary. rte_eal_init runs on one
 * of koffi's worker threads, so the event loop stays free to time it out:
 * EAL can spin forever (a config whose magic is unset) or wait on a lock held
 * by a process that died, and rte_eal_init can be tried once per process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import koffi from 'koffi';
import { ErrorCode, MemscopeError } from '../common/errors';
import { encodeVersion, layouts } from './dpdk/layout';
import { libc } from './native/libc';
import { defaultEalLog } from './secondary';

/** The sonames of every release Memscope reads, newest first: what the system's loader may find. */
const systemEals = (): string[] => [...new Set(layouts.filter((l) => l.status === 'supported').map((l) => l.sonames.eal))].reverse();

export interface EalLib {
  path: string;
  version: string;
  versionWord: number;
  init(args: string[]): Promise<number>;
  lib: ReturnType<typeof koffi.load>;
}

let loaded: EalLib | null = null;

/**
 * Loads librte_eal: `preferred` (the primary's own, or the user's), else
 * MEMSCOPE_DPDK_LIB, else `sonames` (the target's release's) or every
 * supported release's from the system's library path.
 */
export function loadEal(preferred?: string | null, sonames?: readonly string[]): EalLib {
  if (loaded) {
    return loaded;
  }
  const candidates = [preferred, process.env.MEMSCOPE_DPDK_LIB, ...(sonames ?? systemEals())].filter((p): p is string => !!p);
  let lastErr: unknown;
  for (const p of candidates) {
    try {
      const lib = koffi.load(p);
      const rteVersion = lib.func('const char *rte_version()');
      const version = String(rteVersion()).replace(/^DPDK\s*/, '');
      const word = encodeVersion(version);
      if (word === null) throw new Error(`unexpected rte_version() "${version}"`);
      const initFn = lib.func('int rte_eal_init(int argc, char **argv)');
      loaded = {
        path: p,
        version,
        versionWord: word,
        lib,
        init: (args) =>
          new Promise((resolve, reject) => {
            initFn.async(args.length, args, (err: unknown, res: number) => (err ? reject(err) : resolve(res)));
          }),
      };
      return loaded;
    } catch (e) {
      lastErr = e;
    }
  }
  throw new MemscopeError(
    ErrorCode.NoDpdkLibrary,
    `no librte_eal could be loaded (tried ${candidates.join(', ')}): install Debian's dpdk package (apt-get install dpdk) or set memscope.dpdkLibraryPath (--dpdk-lib).`,
    String(lastErr),
  );
}

/** The version of the library loadEal would load, without attaching to anything. */
export function agentVersionWord(preferred?: string | null, sonames?: readonly string[]): number | null {
  try {
    return loadEal(preferred, sonames).versionWord;
  } catch {
    return null;
  }
}

export interface EalLog {
  path: string;
  tail(lines?: number): string;
  /** The last line EAL logged as an error, if any. */
  lastError(): string | null;
  dispose(): void;
}

/**
 * Sends EAL's log to a file (never to stdout, which may carry JSON-RPC or
 * JSON output). Must be called before rte_eal_init.
 */
export function redirectEalLog(eal: EalLib, file?: string): EalLog {
  const own = !file;
  const p = file ?? defaultEalLog(process.pid);
  const c = libc();
  const stream = c.fopen(p, 'w');
  if (!stream) throw new MemscopeError(ErrorCode.Internal, `cannot open the EAL log file ${p}: check that ${path.dirname(p)} is writable.`);
  c.setvbuf(stream, null, 1 /* _IOLBF */, 0);
  const openlog = eal.lib.func('int rte_openlog_stream(void *f)');
  openlog(stream);
  const read = () => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    path: p,
    tail(lines = 20) {
      return read().trimEnd().split('\n').slice(-lines).join('\n');
    },
    lastError() {
      const lines = read()
        .split('\n')
        .filter((l) => /error|cannot|fail|mismatch|panic/i.test(l));
      return lines.length ? lines[lines.length - 1]!.trim() : null;
    },
    dispose() {
      if (own) {
        try {
          fs.unlinkSync(p);
        } catch {
          /* already gone */
        }
      }
    },
  };
}

/**
 * Warms the dynamic loader while the agent does its pre-flight: rte_eal_init
 * of a shared DPDK build dlopens every driver in its plugin directory (half
 * of a cold attach here), and a library already loaded costs nothing the
 * second time. Loading them first, on a worker thread, is what a statically
 * linked DPDK application gets for free (its constructors run before main).
 * Correctness never depends on it: EAL loads them itself all the same.
 */
export function preloadPlugins(ealPath: string | null): Promise<void> {
  let dir: string | null = null;
  const multiarch = `/usr/lib/${os.arch() === 'x64' ? 'x86_64' : os.arch()}-linux-gnu`;
  for (const p of ealPath && path.isAbsolute(ealPath) ? [ealPath] : systemEals().map((s) => path.join(multiarch, s))) {
    try {
      const real = fs.realpathSync(p);
      // Debian's plugin folder of that release (RTE_EAL_PMD_PATH), beside the library
      const l = layouts.find((x) => path.basename(real).startsWith(x.sonames.eal));
      if (l) dir = path.join(path.dirname(real), l.sonames.pmds);
      break;
    } catch {
      /* not this one */
    }
  }
  if (!dir) return Promise.resolve();
  let files: string[] = [];
  try {
    files = fs
      .readdirSync(dir!)
      .filter((f) => f.endsWith('.so'))
      .map((f) => path.join(dir!, f));
  } catch {
    return Promise.resolve();
  }
  const libdl = koffi.load('libc.so.6');
  const dlopen = libdl.func('void *dlopen(const char *file, int flags)');
  const RTLD_NOW = 2;
  return new Promise((resolve) => {
    let i = 0;
    const next = () => {
      if (i >= files.length) return resolve();
      dlopen.async(files[i++]!, RTLD_NOW, next);
    };
    next();
  });
}
