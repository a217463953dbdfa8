/**
 * `.memscope.json` files: one snapshot as JSON, what `memscope snapshot --out`
 * writes and the extension exports and imports. A file is untrusted input: it
 * is size-capped and validated field by field (the webview's own validator)
 * before anything looks at it.
 */
import * as fs from 'node:fs';
import { ErrorCode, MemscopeError } from './errors';
import type { Snapshot } from './snapshot';
import { validateSnapshot } from './webview-protocol';

/** Large enough for ten million elements. */
export const MAX_SNAPSHOT_FILE = 2 * 1024 ** 3 - 1;

export function parseSnapshotText(text: string, what: string): Snapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MemscopeError(ErrorCode.BadSnapshot, `${what} is not JSON (${(e as Error).message.slice(0, 80)}): pass a file written by \`memscope snapshot --out\` or Export Snapshot.`);
  }
  const snap = validateSnapshot(raw);
  if (!snap) {
    const schema = raw && typeof raw === 'object' ? (raw as { schema?: unknown }).schema : undefined;
    throw new MemscopeError(
      ErrorCode.BadSnapshot,
      typeof schema === 'string' && schema !== 'memscope.snapshot/1'
        ? `${what} is a "${schema.slice(0, 40)}" file, not a Memscope snapshot (memscope.snapshot/1): pass a snapshot file.`
        : `${what} is not a valid Memscope snapshot (a field is missing or malformed): pass a file written by \`memscope snapshot --out\` or Export Snapshot.`,
    );
  }
  return snap;
}

export function readSnapshotFile(file: string): Snapshot {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new MemscopeError(ErrorCode.BadSnapshot, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check the path.`);
  }
  if (!st.isFile()) throw new MemscopeError(ErrorCode.BadSnapshot, `${file} is not a regular file: pass a .memscope.json snapshot.`);
  if (st.size > MAX_SNAPSHOT_FILE) throw new MemscopeError(ErrorCode.BadSnapshot, `${file} is ${st.size} bytes, more than a snapshot can be (${MAX_SNAPSHOT_FILE}): pass a .memscope.json snapshot.`);
  return parseSnapshotText(fs.readFileSync(file, 'utf8'), file);
}
