// Missing prerequisites: skipped here, loud in CI.
//
// On a developer's machine a test that needs what this host lacks (hugepages,
// DPDK's tools, a C compiler and libdpdk-dev, Chromium, code-server, …) is
// skipped, the reason printed by the runner. In CI (CI set, as CI systems do:
// `CI=true bash .ci/run`) everything `npm test` installs must be there, so a
// missing prerequisite registers a failing test named for it, and the tests
// that need it are still skipped (they would only fail messily).
//
// The only skips CI allows are the host kernel's (`hostSkip`): no
// /dev/udmabuf, no /dev/dma_heap, which no install can provide.
//
//   const skip = loudSkip(whyNoDpdk({ cc: true }), 'DPDK');
//   test('…', { skip }, …);
//
//   test('…', async (t) => { if (why) return loudSkipHere(t, why, 'user nobody'); … });
import { test, type TestContext } from 'node:test';

export type Env = Readonly<Record<string, string | undefined>>;

/** True when the tests run in CI: CI is set to anything but "", "0", "false" or "no". */
export function isCi(env: Env = process.env): boolean {
  const v = (env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false' && v !== 'no';
}

export interface Verdict {
  /** the skip reason for the dependent tests (undefined: nothing is missing) */
  skip: string | undefined;
  /** in CI: the failing test to register instead of a quiet skip */
  failure?: { name: string; message: string };
}

/** What to do about `reason` (undefined, false or "": nothing is missing). Pure: the logic of loudSkip. */
export function verdict(reason: string | undefined | null | false, needs: string, env: Env = process.env): Verdict {
  if (!reason) return { skip: undefined };
  if (!isCi(env)) return { skip: reason };
  return {
    skip: reason,
    failure: {
      name: `prerequisite missing in CI: ${needs}: ${reason}`,
      message: `${needs} is missing: ${reason.replace(/[.\s]*$/, '.')} In CI (CI=${env.CI}) a missing prerequisite fails instead of skipping the tests that need it: install it (npm test's scripts/setup.mjs and scripts/setup-e2e.mjs should have), or run without CI set to skip them.`,
    },
  };
}

const registered = new Set<string>();

/**
 * The skip reason for tests that need `needs` (pass it as `{ skip }`), or
 * undefined when `reason` is empty. In CI it also registers, once per file, a
 * failing test named for what is missing. Call it at the top level of a test
 * file, where tests may be registered.
 */
export function loudSkip(reason: string | undefined | null | false, needs: string, env: Env = process.env): string | undefined {
  const v = verdict(reason, needs, env);
  if (v.failure && !registered.has(v.failure.name)) {
    registered.add(v.failure.name);
    const { name, message } = v.failure;
    test(name, () => {
      throw new Error(message);
    });
  }
  return v.skip;
}

/** Inside a running test: skips it outside CI, fails it (naming what is missing) in CI. */
export function loudSkipHere(t: TestContext, reason: string, needs: string, env: Env = process.env): void {
  const v = verdict(reason, needs, env);
  if (v.failure) throw new Error(v.failure.message);
  t.skip(reason);
}

/**
 * A skip CI allows too: the host kernel lacks a feature (CONFIG_UDMABUF,
 * CONFIG_DMABUF_HEAPS) that no package can install. Say which in `reason`.
 */
export function hostSkip(t: TestContext, reason: string): void {
  t.skip(`host kernel: ${reason}`);
}
