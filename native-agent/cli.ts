#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node --v8-pool-size=0
/**
 * memscope: the agent core for terminals, SSH sessions, CI and tests.
 *   memscope list [--json] [--runtime-dir D]…
 *   memscope snapshot --file-prefix P [--json] [--out FILE] [--allow-locking-reads] [--dpdk-lib PATH] [--timeout MS]
 *   memscope watch --file-prefix P [--interval MS] [--count N] [--json]
 *   memscope serve [--file-prefix P]   JSON-RPC over stdio, for the VS Code extension
 *   memscope install [--prefix DIR]    (the one-file build) put memscope on PATH
 * Every failure is one sentence on stderr and a distinct exit status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { checkInputs, shown } from '../common/checks';
import { asMemscopeError, ErrorCode, MemscopeError } from '../common/errors';
import { attachWithRetry } from './reattach';
import type { Snapshot } from '../common/snapshot';

const USAGE = `usage:
  memscope list [--json] [--runtime-dir DIR]...
  memscope snapshot --file-prefix PREFIX [--json] [--out FILE] [--allow-locking-reads]
                    [--dpdk-lib PATH] [--timeout MS] [--runtime-dir DIR]... [--eal-log FILE]
                    [--read-method lock-free|locking]   (locking takes the target's locks)
                    [--name NAME] [--trace DIR]   (DIR: the primary's --trace-dir; elements get their rte_malloc type)
                    [--via auto|peek|secondary]
        peek: read the live primary's memory directly (process_vm_readv), no attach;
        secondary: attach as a DPDK secondary (rte_eal_init); auto (default): peek if allowed
  memscope watch --file-prefix PREFIX [--interval MS] [--count N] [--json]
                    a line per change (a JSON delta per snapshot with --json)
  memscope register --file-prefix PREFIX --size 64M [--page-size 4K|2M|1G]
                    [--backing auto|udmabuf|dma-heap|memfd] [--dmabuf-offset N] [--heap NAME]
                    [--hold] [--json] --yes
  memscope unregister --file-prefix PREFIX --va ADDRESS
  memscope repair --file-prefix PREFIX --yes
  memscope diff OLDER.memscope.json NEWER.memscope.json [--json | --markdown | --csv] [--trace DIR]
  memscope leaks --file-prefix PREFIX [--duration 60s] [--interval 1s] [--min-age 30s] [--json] [--trace DIR]
                    (samples for the duration, then lists suspected leaks)
  memscope serve [--file-prefix PREFIX] [--runtime-dir DIR]...   (JSON-RPC over stdio; used by the VS Code extension; a prefix given here has its address ranges held from the start)
  memscope install [--prefix DIR]   copy this CLI and koffi to DIR/lib/memscope, link DIR/bin/memscope
                    (DIR: /usr/local for root, ~/.local otherwise; from the one-file build: npm run install-cli)
exit status: 0 ok, 2 bad arguments, 10 no such target, 11 primary dead, 12 version mismatch,
  13 not attachable (--in-memory/--no-huge), 14 permission, 15 orphaned external memory,
  16 attach timed out, 17 attach failed, 18 address conflict, 19 layout unverified,
  20 no librte_eal, 24 not a snapshot file, 30 EINVAL, 31 EEXIST, 32 ENOSPC, 33 not registered,
  34 confirmation required (--yes, or "y" at a terminal), 35 backing unavailable, 36 EBUSY, 37 registration failed,
  70 internal error`;

/** Set by scripts/build-cli.mjs in the one-file build; undeclared in the tsc build. */
declare const __MEMSCOPE_VERSION__: string | undefined;
const BUNDLED = typeof __MEMSCOPE_VERSION__ === 'string';

/** Memscope's version: built into the one-file CLI, else from the package.json above this script. */
function version(): string {
  if (typeof __MEMSCOPE_VERSION__ === 'string') return __MEMSCOPE_VERSION__;
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'memscope') return pkg.version ?? '?';
    } catch {
      /* keep looking */
    }
  }
  return '?';
}

/** Writes synchronously: the process may end with _exit right after. */
function out(text: string): void {
  let buf = Buffer.from(text);
  while (buf.length) {
    try {
      const n = fs.writeSync(1, buf);
      buf = buf.subarray(n);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
      throw e;
    }
  }
}

function err(text: string): void {
  try {
    fs.writeSync(2, text.endsWith('\n') ? text : text + '\n');
  } catch {
    /* nothing left to tell */
  }
}

/**
 * Ends the process. After rte_eal_init, detaching is ending the process: no
 * rte_eal_cleanup (it takes the hot-plug write lock), no library destructors.
 */
function finish(code: number): never {
  // `memscope list` and usage errors never load koffi; anything that may
  // have attached ends without library destructors
  if ((globalThis as Record<symbol, unknown>)[Symbol.for('memscope.nativeLoaded')]) {
    (require('./session') as typeof import('./session')).removeOwnSecondaryFiles();
    // the one-file build's code cache (scripts/build-cli.mjs): _exit skips exit handlers
    ((globalThis as Record<symbol, unknown>)[Symbol.for('memscope.beforeExit')] as (() => void) | undefined)?.();
    const { hardExit } = require('./native/libc') as typeof import('./native/libc');
    hardExit(code);
  }
  process.exit(code);
}

function usage(msg?: string): never {
  // parseArgs quotes what it refused: no control character reaches the terminal
  if (msg) err(`memscope: ${msg.replace(/[\x00-\x1f\x7f]/g, '?')}`);
  err(USAGE);
  finish(2);
}

/**
 * A change to the target goes ahead only when confirmed: `--yes`, or "y" typed
 * at a terminal. Without a terminal (scripts, CI, the extension's agent) it
 * refuses with `refusal` (exit status 34).
 */
async function confirm(question: string, refusal: string): Promise<void> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new MemscopeError(ErrorCode.ConfirmationRequired, refusal);
  // require, not import(): the one-file CLI runs its code through vm.Script, which has no module loader
  const readline = require('node:readline') as typeof import('node:readline');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => {
    rl.question(`${question} [y/N] `, resolve);
    rl.on('close', () => resolve(''));
  });
  rl.close();
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new MemscopeError(ErrorCode.ConfirmationRequired, `not confirmed, nothing was changed: answer "y" to go ahead, or pass --yes.`);
}

type Opts = { [k: string]: string | boolean | string[] | undefined };

async function attachFromArgs(o: Opts, runtimeDirs: string[]) {
  const prefix = o['file-prefix'] as string | undefined;
  if (!prefix) usage('this command needs --file-prefix PREFIX (see `memscope list`).');
  if (o['read-method'] !== undefined && o['read-method'] !== 'lock-free' && o['read-method'] !== 'locking') usage('--read-method is lock-free (the default) or locking.');
  const via = (o.via as string | undefined) ?? 'auto';
  if (via !== 'auto' && via !== 'peek' && via !== 'secondary') usage('--via is auto (the default), peek or secondary.');
  let timeoutMs = 15000;
  if (o.timeout !== undefined) {
    timeoutMs = Number(o.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600000) usage('--timeout takes milliseconds from 100 to 600000.');
  }
  // look the target up and start warming the loader before loading the rest
  const { findTarget } = await import('./discovery');
  const { preloadPlugins, agentVersionWord } = await import('./eal');
  // koffi is loaded for the snapshot anyway: F_GETLK costs less than reading /proc/locks
  const { lockHolderOf } = await import('./native/libc');
  const dpdkLib = (o['dpdk-lib'] as string | undefined) ?? null;
  const found = findTarget(prefix, { runtimeDirs, agentVersionWord: (so) => agentVersionWord(dpdkLib, [so]), lockHolder: lockHolderOf });
  const lib = dpdkLib ?? (found.ealLibrary && !found.ealLibrary.endsWith(' (deleted)') ? found.ealLibrary : null);
  // peeking needs no EAL; warming its loader would only cost time
  const warm = found.attachable && via === 'secondary' && !found.root ? preloadPlugins(lib) : undefined;
  const { Session } = await import('./session');
  return attachWithRetry(() =>
    Session.attach({
      prefix,
      found,
      ...(warm ? { warm } : {}),
      runtimeDirs,
      dpdkLib,
      timeoutMs,
      allowLockingReads: !!o['allow-locking-reads'],
      readMethod: o['read-method'] === 'locking' ? 'locking' : 'auto',
      via,
      ...(o['eal-log'] ? { ealLogFile: o['eal-log'] as string } : {}),
    }),
  );
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  if (cmd === '--version') {
    out(`memscope ${version()}\n`);
    return 0;
  }
  if (cmd === '__secondary') return (await import('./secondary-main')).runSecondary(argv[1] ?? '{}');
  if (cmd === '__hold' || cmd === '__guard') {
    // internal: the spec is one JSON argument; its prefix and runtime dirs are checked like any other
    let spec: { prefix?: unknown; runtimeDirs?: unknown };
    try {
      spec = JSON.parse(argv[1] ?? '{}') as typeof spec;
    } catch {
      usage(`${cmd} takes one JSON argument.`);
    }
    checkInputs('cli', { filePrefix: spec?.prefix ?? '', runtimeDir: Array.isArray(spec?.runtimeDirs) ? spec.runtimeDirs : [] });
    const run = cmd === '__hold' ? (await import('./dmabuf/commands')).runHolder : (await import('./dmabuf/holder')).runGuardian;
    return run(argv[1] ?? '{}');
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(1),
      options: {
        json: { type: 'boolean' },
        out: { type: 'string' },
        'file-prefix': { type: 'string' },
        'runtime-dir': { type: 'string', multiple: true },
        'allow-locking-reads': { type: 'boolean' },
        'dpdk-lib': { type: 'string' },
        timeout: { type: 'string' },
        'eal-log': { type: 'string' },
        interval: { type: 'string' },
        'read-method': { type: 'string' },
        via: { type: 'string' },
        size: { type: 'string' },
        'page-size': { type: 'string' },
        backing: { type: 'string' },
        'dmabuf-offset': { type: 'string' },
        heap: { type: 'string' },
        hold: { type: 'boolean' },
        yes: { type: 'boolean' },
        va: { type: 'string' },
        // vscode-languageclient appends these when it starts `memscope serve`
        stdio: { type: 'boolean' },
        clientProcessId: { type: 'string' },
        count: { type: 'string' },
        name: { type: 'string' },
        markdown: { type: 'boolean' },
        csv: { type: 'boolean' },
        duration: { type: 'string' },
        trace: { type: 'string' },
        'min-age': { type: 'string' },
        prefix: { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const o = parsed.values;
  const runtimeDirs = o['runtime-dir'] ?? [];
  if (cmd !== 'diff' && parsed.positionals.length) usage(`unexpected argument "${shown(parsed.positionals[0])}".`);
  if (o.prefix !== undefined && cmd !== 'install') usage('--prefix is for `memscope install`; a target is named with --file-prefix.');
  // every prefix, path and name, before any file is touched (common/checks.ts)
  checkInputs('cli', {
    filePrefix: o['file-prefix'],
    runtimeDir: runtimeDirs,
    outFile: o.out,
    traceDir: o.trace,
    ealLog: o['eal-log'],
    dpdkLib: o['dpdk-lib'],
    snapshotName: o.name,
    snapshotFile: cmd === 'diff' ? parsed.positionals : undefined,
  });
  switch (cmd) {
    case 'list': {
      const { listTargets } = await import('./discovery');
      // librte_eal (through koffi) only for a target whose own library is gone
      const agentVersionWord = (so: string) => (require('./eal') as typeof import('./eal')).agentVersionWord(o['dpdk-lib'] as string | undefined, [so]);
      const targets = listTargets({ runtimeDirs, agentVersionWord });
      const { otherUser, unreadableRoots } = await import('./discovery');
      for (const r of unreadableRoots(runtimeDirs)) err(`memscope: ${otherUser(`the DPDK processes in ${r} are not listed because it is not readable by uid ${process.geteuid?.()}`)}`);
      if (o.json) out(JSON.stringify(targets, null, 2) + '\n');
      else {
        const { formatTargets } = await import('./format');
        out(formatTargets(targets) + '\n');
      }
      return 0;
    }
    case 'snapshot': {
      const session = await attachFromArgs(o, runtimeDirs);
      const snap = session.snapshot();
      if (o.name !== undefined) snap.name = o.name;
      if (o.trace !== undefined) {
        const { nameElements, readTrace } = await import('./trace');
        const t = readTrace(o.trace, snap.target.filePrefix);
        err(`memscope: named ${nameElements(snap, t)} elements by their rte_malloc type from the trace in ${t.dir}`);
      }
      const json = o.json || o.out ? JSON.stringify(snap) : '';
      if (o.out) {
        fs.writeFileSync(o.out, json + '\n');
        err(`memscope: snapshot of "${snap.target.filePrefix}" written to ${o.out}`);
      }
      if (o.json) out(json + '\n');
      else {
        const { formatSnapshot } = await import('./format');
        out(formatSnapshot(snap));
      }
      session.dispose();
      const orphan = snap.memsegLists.find((l) => l.state === 'orphaned');
      if (orphan) {
        err(`memscope: ${orphan.warning ?? 'an external memseg list is orphaned.'}`);
        return new MemscopeError(ErrorCode.OrphanedList, '').exitCode;
      }
      return 0;
    }
    case 'watch': {
      let intervalMs = 1000;
      if (o.interval !== undefined) {
        intervalMs = Number(o.interval);
        if (!Number.isInteger(intervalMs) || intervalMs < 10 || intervalMs > 3_600_000) usage('--interval takes milliseconds from 10 to 3600000.');
      }
      const count = o.count !== undefined ? Number(o.count) : Infinity;
      if (Number.isNaN(count) || count < 1) usage('--count takes a positive number of snapshots.');
      const session = await attachFromArgs(o, runtimeDirs);
      const { diffSnapshots, isEmptyDelta } = await import('../common/delta');
      const { diffHeapColumns } = await import('./elements');
      const { summarizeDelta } = await import('./format');
      let last = session.snapshot();
      let spare: typeof last | undefined;
      let n = 1;
      out(o.json ? JSON.stringify({ seq: 0, snapshot: last }) + '\n' : `${last.takenAt} attached to "${last.target.filePrefix}" (pid ${last.target.pid}): ${last.heaps.reduce((a, h) => a + h.elements.length, 0)} heap elements\n`);
      return await new Promise<number>((resolve) => {
        let ended = false;
        session.onPrimaryExit((why) => {
          if (ended) return;
          ended = true;
          err(`memscope: ${why}`);
          resolve(new MemscopeError(ErrorCode.PrimaryDead, why).exitCode);
        });
        session.onPrimaryState((_stopped, why) => err(`memscope: ${why}`));
        const timer = setInterval(() => {
          let next: typeof last;
          try {
            next = session.snapshot(spare);
          } catch (e) {
            clearInterval(timer);
            if (ended) return;
            ended = true;
            const me = e instanceof MemscopeError ? e : new MemscopeError(ErrorCode.Internal, (e as Error).message);
            err(`memscope: ${me.message}`);
            return resolve(me.exitCode);
          }
          const delta = diffSnapshots(last, next, diffHeapColumns);
          spare = last;
          last = next;
          if (o.json) out(JSON.stringify({ seq: n, delta }) + '\n');
          else if (!isEmptyDelta(delta)) out(summarizeDelta(delta) + '\n');
          if (++n >= count) {
            clearInterval(timer);
            resolve(0);
          }
        }, intervalMs);
        process.on('SIGINT', () => resolve(0));
        process.on('SIGTERM', () => resolve(0));
      });
    }
    case 'diff': {
      if (parsed.positionals.length !== 2) usage('diff takes two snapshot files: memscope diff OLDER.memscope.json NEWER.memscope.json.');
      if ([o.json, o.markdown, o.csv].filter(Boolean).length > 1) usage('diff prints one format: --json, --markdown or --csv.');
      const { readSnapshotFile } = await import('../common/snapshot-file');
      const { diffForLeaks, diffToCsv, diffToMarkdown, diffToText } = await import('../common/leaks');
      const [a, b] = parsed.positionals.map((f) => readSnapshotFile(f)) as [Snapshot, Snapshot];
      if (o.trace !== undefined) {
        const { nameElements, readTrace } = await import('./trace');
        const t = readTrace(o.trace, b.target.filePrefix);
        nameElements(a, t);
        nameElements(b, t);
      }
      const d = diffForLeaks(a, b);
      out(o.json ? JSON.stringify(d) + '\n' : o.markdown ? diffToMarkdown(d) : o.csv ? diffToCsv(d) : diffToText(d) + '\n');
      return 0;
    }
    case 'leaks': {
      const ms = (v: string | undefined, def: number, what: string, min: number, max: number) => {
        if (v === undefined) return def;
        const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
        const n = m ? Number(m[1]) * (m[2] === 'm' ? 60000 : m[2] === 's' ? 1000 : m[2] === 'ms' ? 1 : 1000) : NaN;
        if (!Number.isFinite(n) || n < min || n > max) usage(`${what} takes a time such as 500ms, 30s or 5m (from ${min} ms to ${max / 1000} s).`);
        return Math.round(n);
      };
      const durationMs = ms(o.duration as string | undefined, 60_000, '--duration', 100, 24 * 3600_000);
      const intervalMs = ms(o.interval as string | undefined, 1000, '--interval', 10, 3600_000);
      const minAgeMs = ms(o['min-age'] as string | undefined, Math.round(durationMs / 2), '--min-age', 0, 24 * 3600_000);
      const session = await attachFromArgs(o, runtimeDirs);
      const { LeakTracker } = await import('../common/leak-tracker');
      const { formatSuspects } = await import('./format');
      const { ownColumns } = await import('./elements');
      const tracker = new LeakTracker({ maxSamples: Math.ceil(durationMs / intervalMs) + 2, columns: ownColumns });
      const first = session.snapshot();
      tracker.add(first);
      err(`memscope: baseline of "${first.target.filePrefix}" at ${first.takenAt}; sampling every ${intervalMs} ms for ${durationMs} ms`);
      const end = Date.now() + durationMs;
      const code = await new Promise<number>((resolve) => {
        let stopped = false;
        let ended = false;
        session.onPrimaryExit((why) => {
          if (ended) return;
          ended = true;
          err(`memscope: ${why}`);
          resolve(new MemscopeError(ErrorCode.PrimaryDead, why).exitCode);
        });
        session.onPrimaryState((_stopped, why) => err(`memscope: ${why}`));
        const timer = setInterval(() => {
          tracker.add(session.snapshot());
          if (Date.now() >= end || stopped) {
            clearInterval(timer);
            resolve(0);
          }
        }, intervalMs);
        const stop = () => {
          stopped = true;
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      if (code !== 0) return code;
      const s = tracker.suspects({ minAgeMs });
      if (o.trace !== undefined) {
        const { readTrace, typeIn } = await import('./trace');
        const t = readTrace(o.trace, first.target.filePrefix);
        for (const e of s.elements) {
          const type = e.owner === null ? typeIn(t, BigInt(e.addr), e.len) : null;
          if (type !== null) e.owner = `rte_malloc:${type}`;
        }
      }
      out(o.json ? JSON.stringify(s) + '\n' : formatSuspects(s, minAgeMs) + '\n');
      return 0;
    }
    case 'register': {
      const prefix = o['file-prefix'];
      if (!prefix) usage('register needs --file-prefix PREFIX.');
      const { holdSpecFrom, REGISTER_WARNING, registerInBackground, runHolder } = await import('./dmabuf/commands');
      const spec = holdSpecFrom({ prefix, size: o.size, pageSize: o['page-size'], backing: o.backing, dmabufOffset: o['dmabuf-offset'], heap: o.heap, runtimeDirs });
      if (!o.yes) {
        err(`memscope: ${REGISTER_WARNING(prefix)}`);
        await confirm(`Register ${o.size} in "${prefix}"?`, 'registering changes the target: read the above, then run the same command with --yes.');
      }
      const show = (info: import('./dmabuf/holder').HoldInfo) => {
        if (o.json) out(JSON.stringify(info) + '\n');
        else
          out(
            `registered ${info.len} bytes at ${info.va} in "${info.prefix}": memseg list ${info.mslIndex} (socket ${info.socketId}), fd ${info.fd} in pid ${info.holderPid}, offset ${info.offset}, backing ${info.backing}${info.heap ? `, malloc heap "${info.heap}"` : ''}; guardian pid ${info.guardianPid}\n` +
              (o.hold ? 'holding it until Ctrl-C\n' : `undo with: memscope unregister --file-prefix ${info.prefix} --va ${info.va}\n`),
          );
      };
      if (o.hold) return runHolder(JSON.stringify(spec), show);
      show(await registerInBackground(spec));
      return 0;
    }
    case 'unregister': {
      const prefix = o['file-prefix'];
      if (!prefix || !o.va) usage('unregister needs --file-prefix PREFIX and --va ADDRESS.');
      if (!/^0x[0-9a-fA-F]{1,16}$/.test(o.va)) usage(`--va "${o.va}" is not a hex address.`);
      const { unregister } = await import('./dmabuf/commands');
      const r = await unregister(prefix, BigInt(o.va), runtimeDirs);
      out(`unregistered ${o.va} from "${prefix}" (its holder, pid ${r.ownerPid}, has let go)\n`);
      return 0;
    }
    case 'repair': {
      const prefix = o['file-prefix'];
      if (!prefix) usage('repair needs --file-prefix PREFIX.');
      if (!o.yes) {
        const what = `repair attaches to "${prefix}" and unregisters external memory whose owner is gone`;
        await confirm(`${what[0]!.toUpperCase()}${what.slice(1)}: go ahead?`, `${what}: run it again with --yes.`);
      }
      const { repair } = await import('./dmabuf/commands');
      const r = await repair(prefix, runtimeDirs);
      if (o.json) out(JSON.stringify(r) + '\n');
      else {
        for (const x of r.repaired) out(`removed orphaned memseg list ${x.index} at ${x.baseVa}\n`);
        for (const x of r.unrepairable) out(`cannot remove memseg list ${x.index} at ${x.baseVa}: ${x.why}\n`);
        for (const i of r.staleEntries) out(`cleared the table entry of memseg list ${i} (its owner is gone)\n`);
        if (!r.repaired.length && !r.unrepairable.length && !r.staleEntries.length) out(`nothing to repair in "${prefix}"\n`);
      }
      return r.unrepairable.length ? new MemscopeError(ErrorCode.OrphanedList, '').exitCode : 0;
    }
    case 'serve': {
      // started for one target (as the extension does): hold its ranges now,
      // before this process has run long enough for V8 to map pages there
      if (o['file-prefix']) (await import('./early-reserve')).reserveEarly(o['file-prefix'], runtimeDirs);
      const { serve } = await import('./server');
      const client = Number(o.clientProcessId);
      await serve(Number.isInteger(client) && client > 0 ? client : null);
      return -1; // the server ends the process itself
    }
    case 'install': {
      if (!BUNDLED) throw new MemscopeError(ErrorCode.BadArguments, 'install copies the one-file CLI, and this is the tsc build: run `npm run install-cli` in the checkout (it builds out/cli/cli.js and installs that).');
      const { install } = await import('./install');
      const r = install(fs.realpathSync(__filename), version(), o.prefix);
      out(
        `installed memscope ${r.version}: ${r.link} -> ${r.script} (koffi beside it), run by ${r.node} (Node ${r.nodeVersion})\n` +
          (r.onPath ? '' : `${path.dirname(r.link)} is not on PATH: add it (export PATH=${path.dirname(r.link)}:$PATH) to run \`memscope\` by name\n`) +
          `remove it with: rm -r ${r.link} ${path.dirname(r.script)}\n`,
      );
      return 0;
    }
    default:
      usage(`unknown command "${cmd}".`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) finish(code);
    },
    (e) => {
      const me = asMemscopeError(e);
      err(`memscope: ${me.message}`);
      if (process.env.MEMSCOPE_DEBUG && me.detail) err(me.detail);
      finish(me.exitCode);
    },
  );
}
