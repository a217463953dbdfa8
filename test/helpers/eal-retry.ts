import * as fs from 'node:fs';
import { reexec } from '../../native-agent/native/libc';

/**
 * After a failed rte_eal_init in a test helper: when EAL could not reserve
 * the primary's ranges (V8 may sit in them), a fresh image of this process
 * draws new addresses; it returns only when that is not the cause or the
 * tries are used up.
 */
export function reexecIfReserveFailed(logPath: string): void {
  const attempt = Number(process.env.MEMSCOPE_ATTACH_ATTEMPT ?? '0');
  if (attempt < 4 && /Cannot reserve|base-virtaddr/.test(fs.readFileSync(logPath, 'utf8'))) reexec({ MEMSCOPE_ATTACH_ATTEMPT: String(attempt + 1) });
}
