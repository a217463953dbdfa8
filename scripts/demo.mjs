#!/usr/bin/env node
// `npm run demo`: starts the project's demo DPDK primary with a little of
// everything (rte_malloc elements, a memzone, mempools with objects taken out,
// external memory on memfd with its own malloc heap), then attaches with the
// memscope CLI and prints the primary's memory map. The primary is stopped and
// its hugepage files and runtime dir removed afterwards, unless --keep is
// given, in which case it runs until Ctrl-C so you can try the CLI on it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { DemoPrimary, stopAll } = require(path.join(root, 'out', 'test', 'helpers', 'primaries.js'));
const cli = path.join(root, 'out', 'native-agent', 'cli.js');
const keep = process.argv.includes('--keep');

function memscope(args) {
  console.log(`\n$ memscope ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', timeout: 60_000 });
  return r.status;
}

let primary;
try {
  primary = await DemoPrimary.start({ prefix: 'memscope-demo', memMb: 256 });
  console.log(`demo primary running: pid ${primary.pid}, file prefix "${primary.prefix}"`);
  await primary.command('fill 2000 256 demo_table');
  await primary.command('malloc demo_big 1048576');
  await primary.command('memzone_reserve demo_ring_area 262144');
  await primary.command('mempool_create demo_pool 4095 512 32');
  await primary.command('mempool_get demo_pool 300');
  await primary.command('mempool_create demo_mbufs 2047 2048 64 mbuf');
  await primary.command('mempool_get demo_mbufs 64');
  const ext = await primary.command('extmem demo_ext 16777216 memfd');
  await primary.command('malloc on_ext 65536 0 heap:demo_ext');
  console.log(`external memory: 16 MiB on memfd at ${ext.va}, malloc heap "demo_ext" (socket ${ext.socket})`);
  memscope(['list']);
  const code = memscope(['snapshot', '--file-prefix', primary.prefix]);
  if (code !== 0) process.exitCode = code ?? 1;
  if (keep) {
    console.log(`\nThe demo primary keeps running (prefix "${primary.prefix}"): try \`node ${path.relative(process.cwd(), cli)} watch --file-prefix ${primary.prefix}\` in another terminal. Ctrl-C stops it.`);
    await new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
} catch (e) {
  console.error(`demo: ${e.message}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
