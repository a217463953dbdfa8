/**
 * The V8 flags `memscope serve` and its secondary helper run with (npm run
 * bench, agent memory, measures both at 100k elements).
 *
 * The agent holds little that lives long (two snapshots' columns and the
 * leak tracker's), but V8's default young generation lets 16 MB semi-spaces
 * fill before a scavenge, all resident: ~12 MB of its RSS. One MB
 * semi-spaces cost a few more scavenges of a mostly empty young generation.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/**
 * The helper runs a little JavaScript around rte_eal_init and then waits for
 * the end: without V8's compilers (jitless) it leaves ~8 MB of code and of
 * the node binary's compiler pages untouched.
 */
export const SECONDARY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--jitless'];
