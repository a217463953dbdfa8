/**
 * Runs the seed's contract against a real EAL: `node dmabuf-child.js PREFIX`
 * attaches as a secondary, maps a memfd buffer, and tries every contract row
 * with Registry.registerDmabuf (undoing the valid ones), then EEXIST,
 * ENOENT and an offset past the buffer. After each failure it checks that no
 * external list was left behind. Prints one JSON line of results.
 */
import { attachWithRetry } from '../../native-agent/reattach';
import { Session } from '../../native-agent/session';
import { createBuffer, releaseBuffer } from '../../native-agent/dmabuf/buffers';
import type { RegisterArgs } from '../../native-agent/dmabuf/contract';
import { DmabufError, Registry } from '../../native-agent/dmabuf/registry';
import { hardExit } from '../../native-agent/native/libc';
import { CONTRACT_ROWS } from './contract-rows';

interface Result {
  name: string;
  ok: boolean;
  errno: string | null;
  check: string | null;
  code: string | null;
  message: string | null;
  externalListsAfter: number;
  fdQuery?: number;
  offsetQuery?: number;
}

async function main(): Promise<void> {
  const prefix = process.argv[2]!;
  const session = await attachWithRetry(() => Session.attach({ prefix, via: 'secondary', inProcess: true }));
  const reg = new Registry(session);
  const buf = createBuffer(8 * 4096, 4096, 'memfd', 0);
  const base: RegisterArgs = { va: buf.va, len: buf.len, dmabufFd: buf.fd, dmabufOffset: 0, iovaAddrs: null, nPages: 0, pageSz: 4096 };
  const describe = { kind: 'memfd' as const, exporter: '', size: buf.size, inode: buf.inode };
  const externals = () => session.memConfig().lists.filter((l) => l.external).length;
  const results: Result[] = [];
  const attempt = (name: string, args: RegisterArgs, size = buf.size, then?: (r: Result, msl: number) => void) => {
    const r: Result = { name, ok: false, errno: null, check: null, code: null, message: null, externalListsAfter: 0 };
    try {
      const done = reg.registerDmabuf(args, { ...describe, size });
      r.ok = true;
      then?.(r, done.mslIndex);
      reg.unregister(args.va, args.len);
    } catch (e) {
      if (e instanceof DmabufError) {
        r.errno = e.errno;
        r.check = e.check ?? null;
        r.code = e.code;
        r.message = e.message;
      } else r.message = String(e);
    }
    r.externalListsAfter = externals();
    results.push(r);
  };
  for (const row of CONTRACT_ROWS) attempt(row.name, { ...base, ...row.args(base) });
  // the queries while registered, then EEXIST on the same range
  attempt('query while registered', { ...base, dmabufOffset: 0 }, buf.size, (r, msl) => {
    r.fdQuery = reg.getDmabufFd(msl);
    r.offsetQuery = reg.getDmabufOffset(msl);
    try {
      reg.registerDmabuf(base, describe);
    } catch (e) {
      r.errno = (e as DmabufError).errno;
      r.message = (e as Error).message;
    }
  });
  attempt('offset past the end of the buffer', { ...base, dmabufOffset: 4096 }, buf.size);
  // ENOENT: unregistering what was never registered
  const r: Result = { name: 'unregister never registered', ok: false, errno: null, check: null, code: null, message: null, externalListsAfter: 0 };
  try {
    reg.unregister(base.va, base.len);
    r.ok = true;
  } catch (e) {
    r.errno = (e as DmabufError).errno ?? null;
    r.code = (e as DmabufError).code;
    r.message = (e as Error).message;
  }
  r.externalListsAfter = externals();
  results.push(r);
  // EINVAL for a list index that is not one of the target's
  let badQuery: string | null = null;
  try {
    reg.getDmabufFd(127);
  } catch (e) {
    badQuery = (e as DmabufError).errno;
  }
  // ENOSPC: register one-page buffers until the target runs out of memseg lists
  const many: { b: ReturnType<typeof createBuffer> }[] = [];
  let enospc: string | null = null;
  let enospcMessage = '';
  const before = externals();
  for (let i = 0; i < 140 && enospc === null; i++) {
    const b = createBuffer(4096, 4096, 'memfd', 0);
    try {
      reg.registerDmabuf({ ...base, va: b.va, len: 4096, dmabufFd: b.fd }, { ...describe, size: 4096 });
      many.push({ b });
    } catch (e) {
      enospc = (e as DmabufError).errno;
      enospcMessage = (e as Error).message;
      releaseBuffer(b);
    }
  }
  const registeredBeforeFull = many.length;
  for (const { b } of many) {
    reg.unregister(b.va, 4096);
    releaseBuffer(b);
  }
  releaseBuffer(buf);
  process.stdout.write(
    JSON.stringify({ results, badQuery, native: reg.ops.native !== null, enospc, enospcMessage, registeredBeforeFull, listsBefore: before, listsAfter: externals() }) + '\n',
  );
}

main().then(
  () => hardExit(0),
  (e) => {
    process.stderr.write(String((e as Error).stack ?? e) + '\n');
    hardExit(1);
  },
);
