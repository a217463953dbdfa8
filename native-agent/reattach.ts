/**
 * V8 places its heap at random addresses, which now and then fall inside the
 * primary's memseg ranges; a fresh process draws new ones. EAL has not been
 * touched when that AddressConflict is raised, so a process that owns its
 * whole life (the CLI, a holder, a guardian; not the agent server, whose
 * client holds a request open) starts over as a fresh image of itself.
 */
import { ErrorCode, MemscopeError } from '../common/errors';

const MAX_REEXEC = 4;

export async function attachWithRetry<T>(attach: () => Promise<T>): Promise<T> {
  try {
    return await attach();
  } catch (e) {
    const attempt = Number(process.env.MEMSCOPE_ATTACH_ATTEMPT ?? '0');
    if (e instanceof MemscopeError && e.code === ErrorCode.AddressConflict && attempt < MAX_REEXEC) {
      const { reexec } = await import('./native/libc');
      reexec({ MEMSCOPE_ATTACH_ATTEMPT: String(attempt + 1) });
    }
    throw e;
  }
}
