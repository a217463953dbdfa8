/**
 * `memscope list`: what DPDK processes this machine holds, from their runtime
 * dirs. File reads (and an F_GETLK query) only: listing never attaches, never
 * takes a DPDK lock and never writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkInputs, inputMessage, inputProblem, PREFIX_RE } from '../common/checks';
import { ErrorCode, MemscopeError } from '../common/errors';
import { cstr, decodeMemConfig, fbarrayMask, type MemConfig, usedIndexes } from './dpdk/memconfig';
import { decodeVersion, type Layout, layoutFor, MEMCONFIG_MAGIC, supportedReleases, tableFor } from './dpdk/layout';
import { devName, isAlive, listPids, parseMaps, posixLockHolder, readCmdline, readLocks } from './procfs';
import { type ForeignRoot, foreignRoots, pathInRoot, rootOf, runtimeRootsIn } from './roots';

/** The root a runtime dir given as /proc/<pid>/root/... belongs to. */
function rootOfPath(dir: string): ForeignRoot | null {
  const m = /^\/proc\/(\d+)\/root\//.exec(dir);
  return m ? rootOf(Number(m[1])) : null;
}

export type TargetMode = 'hugepages' | 'in-memory' | 'no-huge' | 'unknown';

export interface TargetSummary {
  filePrefix: string;
  runtimeDir: string;
  pid: number | null;
  alive: boolean;
  dpdkVersion: string | null;
  versionWord: number | null;
  mode: TargetMode;
  hugepageBytes: number;
  memsegLists: number;
  /** The librte_eal the primary has mapped (the path its own root gives it), when its maps are readable. */
  ealLibrary: string | null;
  /** The primary's root when it is not this process's (a chroot, a container); runtimeDir is then reached through it. */
  root: ForeignRoot | null;
  /** The runtime dir as the primary sees it (differs from runtimeDir for a target in another root). */
  runtimeDirInRoot: string;
  /** The data file Memscope reads this release with: "24.11", or null when none is. */
  layout: string | null;
  attachable: boolean;
  /** Why not, as one sentence with the way out. */
  reason?: string;
  reasonCode?: ErrorCode;
}

/** Flags of primaries that keep no runtime config for others to attach to. */
const SHARES_NOTHING = ['--in-memory', '--no-shconf'];

/**
 * A file prefix becomes a path component: reject anything that could escape
 * (the rules are common/checks.ts's, shared with the CLI, the agent server
 * and the extension, which check first).
 */
export function validatePrefix(prefix: unknown): string {
  const problem = inputProblem('filePrefix', prefix);
  if (problem) throw new MemscopeError(ErrorCode.BadArguments, inputMessage('filePrefix', 'cli', prefix, problem));
  return prefix as string;
}

const euid = (): number => process.geteuid?.() ?? 0;

/**
 * The one sentence for a target of another user: Memscope never elevates by
 * itself, the user says how (VS Code: memscope.agent.launchPrefix).
 */
export function otherUser(cause: string): string {
  return `${cause}, and Memscope never elevates by itself: in VS Code set memscope.agent.launchPrefix (e.g. ["sudo","-n"]), in a terminal run memscope as the primary's user or root.`;
}

/** Roots that exist but this user may not read (their targets go unlisted). */
export function unreadableRoots(extra: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const r of runtimeRoots(extra)) {
    try {
      fs.readdirSync(r);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') out.push(r);
    }
  }
  return out;
}

export function runtimeRoots(extra: readonly string[] = []): string[] {
  const roots = ['/var/run/dpdk'];
  if (process.env.XDG_RUNTIME_DIR) roots.push(path.join(process.env.XDG_RUNTIME_DIR, 'dpdk'));
  checkInputs('cli', { runtimeDir: [...extra] });
  roots.push(...extra);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of roots) {
    let real = r;
    try {
      real = fs.realpathSync(r);
    } catch {
      /* absent roots are kept, they just list nothing */
    }
    if (!seen.has(real)) {
      seen.add(real);
      out.push(r);
    }
  }
  return out;
}

/**
 * Pids of would-be primaries whose command line names this file prefix (for
 * primaries without a config file): not this process, not secondaries (a
 * `memscope snapshot --file-prefix P` or dpdk-proc-info names it too), and,
 * when `flags` is given, only those run with one of them.
 */
export function pidsByPrefix(prefix: string, flags?: readonly string[]): number[] {
  const out: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const argv = readCmdline(pid);
    if (!argv || argv.includes('--proc-type=secondary') || argv.includes('secondary')) continue;
    if (flags && !argv.some((a) => flags.includes(a))) continue;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === `--file-prefix=${prefix}` || (a === '--file-prefix' && argv[i + 1] === prefix)) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

export function cmdlineMode(argv: string[] | null): TargetMode | null {
  if (!argv) return null;
  if (argv.includes('--in-memory')) return 'in-memory';
  if (argv.includes('--no-huge')) return 'no-huge';
  return null;
}

export function readConfig(configPath: string): { buf: Buffer; cfg: MemConfig | null; L: Layout | null; versionWord: number; magic: number } {
  const fd = fs.openSync(configPath, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const b = buf.subarray(0, n);
    if (n < 8) return { buf: b, cfg: null, L: null, versionWord: 0, magic: 0 };
    const magic = b.readUInt32LE(0);
    const versionWord = b.readUInt32LE(4);
    const L = layoutFor(versionWord);
    // DPDK sizes the file to its struct rte_mem_config: a build with other
    // constants (RTE_MAX_MEMSEG_LISTS, RTE_MAX_HEAPS, RTE_MAX_TAILQ) has
    // another size and other offsets, which the release's table would misread
    const cfg = L && n === L.memConfig.size && magic === MEMCONFIG_MAGIC ? decodeMemConfig(L, b) : null;
    return { buf: b, cfg, L: cfg ? L : null, versionWord, magic };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Which build constant makes a config of `size` bytes, told by where the
 * arrays after it start: one more or fewer memseg list, tailq or heap slot
 * moves what follows by that struct's size. A hypothesis counts only when
 * the names are found where it puts them (tailq names "RTE_…", the first
 * heap "socket_…"); else the three are named as candidates.
 */
export function otherConstants(L: Layout, b: Buffer, size: number): string {
  const C = L.memConfig;
  const d = size - C.size;
  const align = (n: number) => Math.ceil(n / L.build.cacheLine) * L.build.cacheLine;
  const tailqAt = (off: number) => off + L.tailqHead.name + 4 <= b.length && cstr(b, off + L.tailqHead.name, L.tailqHead.nameLen).startsWith('RTE_');
  const heapAt = (off: number) => off + L.heap.name + 7 <= b.length && /^socket_\d+$/.test(cstr(b, off + L.heap.name, L.heap.nameLen));
  const found: string[] = [];
  if (d % L.memsegList.size === 0 && tailqAt(C.tailqHead + d) && heapAt(align(C.mallocHeaps + d))) {
    found.push(`RTE_MAX_MEMSEG_LISTS ${L.build.maxMemsegLists + d / L.memsegList.size}, where the ${L.release} table has ${L.build.maxMemsegLists}`);
  }
  if (!found.length && d % L.tailqHead.size === 0 && tailqAt(C.tailqHead) && heapAt(align(C.mallocHeaps + d))) {
    found.push(`RTE_MAX_TAILQ ${L.build.maxTailq + d / L.tailqHead.size}, where the ${L.release} table has ${L.build.maxTailq}`);
  }
  if (!found.length && d % L.heap.size === 0 && tailqAt(C.tailqHead) && heapAt(C.mallocHeaps)) {
    found.push(`RTE_MAX_HEAPS ${L.build.maxHeaps + d / L.heap.size}, where the ${L.release} table has ${L.build.maxHeaps}`);
  }
  return found[0] ?? 'RTE_MAX_MEMSEG_LISTS, RTE_MAX_HEAPS or RTE_MAX_TAILQ differ';
}

/** Bytes of hugepage memory the target's memseg lists hold, from their fbarray files. */
function hugepageBytes(L: Layout, runtimeDir: string, cfg: MemConfig): number {
  let total = 0;
  for (const l of cfg.lists) {
    if (l.external) continue;
    const file = path.join(runtimeDir, `fbarray_${l.arr.name}`);
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const { offset, bytes } = fbarrayMask(L, l.arr);
        const mask = Buffer.alloc(bytes);
        fs.readSync(fd, mask, 0, mask.length, offset);
        total += usedIndexes(L, mask, l.arr.len).length * l.pageSz;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      total += l.arr.count * l.pageSz;
    }
  }
  return total;
}

function ealLibraryOf(pid: number): string | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return null;
  }
  // a primary maps hundreds of ranges (a line per hugepage): parse only the lines that can be it
  for (let at = text.indexOf('/librte_eal.so'); at >= 0; at = text.indexOf('/librte_eal.so', at + 1)) {
    const start = text.lastIndexOf('\n', at) + 1;
    const end = text.indexOf('\n', at);
    const m = parseMaps(text.slice(start, end < 0 ? undefined : end)).find((r) => /\/librte_eal\.so[.\d]*( \(deleted\))?$/.test(r.path));
    if (m) return m.path;
  }
  return null;
}

export interface ListOptions {
  runtimeDirs?: readonly string[];
  /** The version word of the librte_eal the agent would load (trying the release's soname), when known. */
  agentVersionWord?: (soname: string) => number | null;
  /**
   * Who holds a POSIX lock on `file` (F_GETLK through koffi, for a caller
   * that loads koffi anyway); else /proc/locks is read, which needs no native
   * code but costs a first read of 5-20 ms on some kernels.
   */
  lockHolder?: (file: string) => number | null;
}

export function inspectTarget(runtimeDir: string, filePrefix: string, opts: ListOptions = {}, root: ForeignRoot | null = rootOfPath(runtimeDir)): TargetSummary {
  const t: TargetSummary = {
    filePrefix,
    runtimeDir,
    pid: null,
    alive: false,
    dpdkVersion: null,
    versionWord: null,
    mode: 'unknown',
    hugepageBytes: 0,
    memsegLists: 0,
    ealLibrary: null,
    root,
    runtimeDirInRoot: root && runtimeDir.startsWith(root.path + '/') ? runtimeDir.slice(root.path.length) : runtimeDir,
    layout: null,
    attachable: false,
  };
  const fail = (code: ErrorCode, reason: string) => {
    t.attachable = false;
    t.reasonCode = code;
    t.reason = reason;
    return t;
  };
  const configPath = path.join(runtimeDir, 'config');
  let st: fs.Stats;
  try {
    st = fs.statSync(configPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') {
      return fail(ErrorCode.Permission, otherUser(`${runtimeDir} is not readable by uid ${euid()}`));
    }
    const pids = pidsByPrefix(filePrefix, SHARES_NOTHING).filter(isAlive);
    t.pid = pids[0] ?? null;
    t.alive = t.pid !== null;
    const mode = t.pid !== null ? cmdlineMode(readCmdline(t.pid)) : null;
    t.mode = mode ?? (t.alive ? 'in-memory' : 'unknown');
    if (t.alive) {
      return fail(ErrorCode.NotAttachable, `prefix "${filePrefix}" (pid ${t.pid}) runs with --in-memory, which shares no memory with other processes: restart it without --in-memory to inspect it.`);
    }
    return fail(ErrorCode.NoTarget, `${runtimeDir} has no config file and no live process uses prefix "${filePrefix}": it is a leftover, remove it (rm -r ${runtimeDir}).`);
  }
  // another user's primary: its files and memory are not this agent's to read
  // (DPDK makes them 0600/0700); the agent never elevates by itself
  if (euid() !== 0 && st.uid !== euid()) {
    return fail(ErrorCode.Permission, otherUser(`${runtimeDir} belongs to uid ${st.uid}, not to this agent's uid ${euid()}`));
  }
  let cfgRead: ReturnType<typeof readConfig>;
  try {
    cfgRead = readConfig(configPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return fail(ErrorCode.Permission, otherUser(`cannot read ${configPath} (owned by uid ${st.uid})`));
    }
    throw e;
  }
  const { cfg, L: decodedWith, versionWord, magic } = cfgRead;
  // the primary's write lock on its config (from /proc/locks unless told: no koffi for `memscope list`)
  t.pid = opts.lockHolder ? opts.lockHolder(configPath) : posixLockHolder(readLocks(), devName(BigInt(st.dev)), st.ino);
  t.alive = t.pid !== null && isAlive(t.pid);
  if (t.pid === null) {
    // a primary that is still starting has not locked its config yet
    t.pid = pidsByPrefix(filePrefix).filter(isAlive)[0] ?? null;
  }
  if (magic !== MEMCONFIG_MAGIC) {
    t.alive = t.pid !== null;
    return fail(
      ErrorCode.NotAttachable,
      t.alive
        ? `the primary of "${filePrefix}" (pid ${t.pid}) has not finished initialising its shared config: try again in a moment.`
        : `${configPath} is not a DPDK shared config (bad magic 0x${magic.toString(16)}): remove the leftover runtime dir ${runtimeDir}.`,
    );
  }
  t.versionWord = versionWord;
  t.dpdkVersion = decodeVersion(versionWord).text;
  if (t.alive && t.pid !== null) {
    t.mode = cmdlineMode(readCmdline(t.pid)) ?? 'hugepages';
    const lib = ealLibraryOf(t.pid);
    // a path in the primary's root: what a helper started in that root loads
    t.ealLibrary = lib && root ? pathInRoot(root, lib) : lib;
    // reach the root through the primary itself from now on (the process it was found by may end first)
    if (root && t.pid !== root.pid) {
      const own = rootOf(t.pid);
      if (own && fs.statSync(own.path).ino === fs.statSync(root.path).ino) {
        t.root = own;
        t.runtimeDir = path.join(own.path, t.runtimeDirInRoot);
      }
    }
  }
  if (cfg && decodedWith) {
    t.memsegLists = cfg.lists.length;
    if (t.mode === 'unknown') {
      t.mode = cfg.lists.some((l) => l.arr.name.startsWith('nohugemem')) ? 'no-huge' : 'hugepages';
    } else if (cfg.lists.some((l) => l.arr.name.startsWith('nohugemem'))) {
      t.mode = 'no-huge';
    }
    t.hugepageBytes = t.mode === 'hugepages' ? hugepageBytes(decodedWith, runtimeDir, cfg) : 0;
  }
  if (t.mode === 'no-huge') {
    return fail(ErrorCode.NotAttachable, `prefix "${filePrefix}" (pid ${t.pid}) runs with --no-huge, whose memory is private to it: restart it with hugepages to inspect it.`);
  }
  if (t.mode === 'in-memory') {
    return fail(ErrorCode.NotAttachable, `prefix "${filePrefix}" (pid ${t.pid}) runs with --in-memory, which shares no memory with other processes: restart it without --in-memory to inspect it.`);
  }
  const table = tableFor(versionWord);
  const L = table?.status === 'supported' ? table : null;
  if (!table) {
    return fail(ErrorCode.VersionMismatch, `prefix "${filePrefix}" runs DPDK ${t.dpdkVersion}, whose private memory layout Memscope does not know (it reads DPDK ${supportedReleases()}): use a Memscope release that supports it.`);
  }
  if (!L) {
    return fail(
      ErrorCode.LayoutUnverified,
      `prefix "${filePrefix}" runs DPDK ${t.dpdkVersion}, whose layout table Memscope has from DPDK's sources but has never checked against a live ${table.release} primary, so it will not read it (it reads DPDK ${supportedReleases()}): check the table with scripts/verify-layout.mjs and report it.`,
    );
  }
  t.layout = L.release;
  // the agent loads a live primary's own librte_eal: versions match by
  // construction. A target in another root is never loaded here: peeking
  // needs no library, and a helper in that root loads the root's own (and
  // says so itself when it cannot)
  let agentWord: number | null = t.root ? versionWord : null;
  if (!t.root && t.alive && t.ealLibrary && !t.ealLibrary.endsWith(' (deleted)')) {
    try {
      fs.accessSync(t.ealLibrary, fs.constants.R_OK);
      agentWord = versionWord;
    } catch {
      /* fall back to the system library */
    }
  }
  agentWord ??= opts.agentVersionWord?.(L.sonames.eal) ?? null;
  if (agentWord === null) {
    return fail(ErrorCode.NoDpdkLibrary, `no ${L.sonames.eal} (DPDK ${L.release}'s librte_eal) could be loaded to attach to "${filePrefix}": install that release's DPDK libraries or set memscope.dpdkLibraryPath (--dpdk-lib).`);
  }
  if (agentWord !== versionWord) {
    return fail(
      ErrorCode.VersionMismatch,
      `prefix "${filePrefix}" runs DPDK ${t.dpdkVersion} but the agent's librte_eal is DPDK ${decodeVersion(agentWord).text}: point memscope.dpdkLibraryPath (--dpdk-lib) at the primary's librte_eal.so.`,
    );
  }
  if (!t.alive) {
    return fail(
      ErrorCode.PrimaryDead,
      `the primary of "${filePrefix}" is not running (no process holds ${configPath}); its runtime dir was left behind: restart the primary, or remove ${runtimeDir} and its hugepage files (/dev/hugepages/${filePrefix}map_*).`,
    );
  }
  if (st.size !== L.memConfig.size) {
    return fail(
      ErrorCode.LayoutUnverified,
      `prefix "${filePrefix}" (pid ${t.pid}) runs a DPDK ${t.dpdkVersion} built with constants Memscope does not know: its shared config is ${st.size} bytes, not the ${L.memConfig.size} of the ${L.release} build Memscope reads (${otherConstants(L, cfgRead.buf, st.size)}), so Memscope will not read it; build DPDK with its default constants to inspect it.`,
    );
  }
  t.attachable = true;
  return t;
}

/** Every runtime-dir root: this process's own (and the user's), then those of other roots (chroots, containers). */
function allRuntimeRoots(extra: readonly string[] = []): { dir: string; root: ForeignRoot | null }[] {
  const out: { dir: string; root: ForeignRoot | null }[] = [];
  const seen = new Set<string>();
  const add = (dir: string, root: ForeignRoot | null) => {
    let k = dir;
    try {
      const st = fs.statSync(dir);
      k = `${st.dev}:${st.ino}`;
    } catch {
      /* absent: listed by path */
    }
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ dir, root: root ?? rootOfPath(dir) });
  };
  for (const r of runtimeRoots(extra)) add(r, null);
  for (const fr of foreignRoots()) for (const r of runtimeRootsIn(fr)) if (fs.existsSync(r)) add(r, fr);
  return out;
}

export function listTargets(opts: ListOptions = {}): TargetSummary[] {
  const out: TargetSummary[] = [];
  for (const { dir: root, root: fr } of allRuntimeRoots(opts.runtimeDirs)) {
    let names: string[];
    try {
      names = fs.readdirSync(root);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const dir = path.join(root, name);
      try {
        if (!fs.statSync(dir).isDirectory()) continue;
      } catch {
        continue;
      }
      // names Memscope refuses as prefixes (see PREFIX_RE) are not listed
      if (!PREFIX_RE.test(name) || name.includes('..')) continue;
      out.push(inspectTarget(dir, name, opts, fr));
    }
  }
  return out;
}

/** Finds one prefix's runtime dir, or says why there is none. */
export function findTarget(prefix: string, opts: ListOptions = {}): TargetSummary {
  validatePrefix(prefix);
  // a root this user may not search (root's /var/run/dpdk, 0700) may hold the
  // prefix, but so may the next one (this user's own $XDG_RUNTIME_DIR/dpdk)
  const unreadable: string[] = [];
  for (const root of runtimeRoots(opts.runtimeDirs)) {
    const dir = path.join(root, prefix);
    let isDir = false;
    try {
      isDir = fs.statSync(dir).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') unreadable.push(root);
    }
    if (isDir) return inspectTarget(dir, prefix, opts);
  }
  // a primary in a chroot or a container: its root's runtime dirs
  for (const fr of foreignRoots()) {
    for (const r of runtimeRootsIn(fr)) {
      const dir = path.join(r, prefix);
      try {
        if (fs.statSync(dir).isDirectory()) return inspectTarget(dir, prefix, opts, fr);
      } catch {
        /* not in this root */
      }
    }
  }
  if (unreadable.length) {
    throw new MemscopeError(ErrorCode.Permission, otherUser(`${unreadable.join(' and ')} is not readable by uid ${euid()}, so prefix "${prefix}" may be there unseen`));
  }
  const pids = pidsByPrefix(prefix, SHARES_NOTHING).filter(isAlive);
  if (pids.length) {
    throw new MemscopeError(ErrorCode.NotAttachable, `prefix "${prefix}" (pid ${pids[0]}) has no runtime dir: it runs with --in-memory or --no-shconf, which share no memory with other processes; restart it without them.`);
  }
  throw new MemscopeError(
    ErrorCode.NoTarget,
    `no DPDK process uses file prefix "${prefix}" (looked in ${runtimeRoots(opts.runtimeDirs).join(', ')}): check the prefix with \`memscope list\`.`,
  );
}
