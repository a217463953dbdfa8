#!/usr/bin/env node
// `npm run demo`: starts the project's demo DPDK primary with a little of
// everything (rte_malloc elements, a memzone, mempools with objects taken out,
// external memory on memfd with its own malloc heap, a registered test
// buffer), prints its memory map with the memscope CLI, then opens the
// extension attached to it: desktop VS Code when `code` is on PATH, else
// code-server, whose URL is printed. `--cli` stops after the printout.
// `--prefix NAME` picks the primary's file prefix (default memscope-demo).
// Ctrl-C stops everything; the primary's hugepage files and runtime dir go.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { DemoPrimary, stopAll } = require(path.join(root, 'out', 'test', 'helpers', 'primaries.js'));
const cli = path.join(root, 'out', 'native-agent', 'cli.js');
const cliOnly = process.argv.includes('--cli');
const prefixAt = process.argv.indexOf('--prefix');
const prefix = prefixAt > 0 ? process.argv[prefixAt + 1] : 'memscope-demo';
if (!prefix || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
  console.error('demo: --prefix takes a file prefix of letters, digits, "_", "." or "-": pick another.');
  process.exit(2);
}
const onPath = (cmd) => (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, cmd)));

function memscope(args) {
  console.log(`\n$ memscope ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', timeout: 60_000 });
  return r.status;
}

// Ctrl-C at any moment ends the demo the clean way (the finally below)
let stop;
const stopped = new Promise((resolve) => (stop = resolve));
const onSignal = () => stop();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);

let primary;
try {
  primary = await DemoPrimary.start({ prefix, memMb: 256 });
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
  memscope(['register', '--file-prefix', primary.prefix, '--size', '16M', '--backing', 'auto', '--yes']);
  memscope(['list']);
  const code = memscope(['snapshot', '--file-prefix', primary.prefix]);
  if (code !== 0 && code !== 15) process.exitCode = code ?? 1;
  if (!cliOnly) {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-demo-ws-'));
    fs.writeFileSync(path.join(ws, '.memscope-attach.json'), JSON.stringify({ prefix: primary.prefix }) + '\n');
    let stopEditor = async () => undefined;
    if (onPath('code')) {
      console.log('\nOpening VS Code with the extension attached to the demo primary…');
      spawnSync('code', ['--new-window', `--extensionDevelopmentPath=${root}`, ws], { stdio: 'inherit' });
    } else {
      // code-server loads the checkout as an extension development host
      const { startCodeServer, payloadUrl } = require(path.join(root, 'out', 'test', 'e2e', 'code-server.js'));
      const server = await startCodeServer({ folder: ws });
      // the e2e harness makes signals end the process at once (its exit hook
      // still stops code-server); the demo wants Ctrl-C to undo its work first
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
        process.removeAllListeners(sig);
        process.on(sig, onSignal);
      }
      stopEditor = () => server.stop();
      const url = payloadUrl(server.base, ws, { extensionDevelopmentPath: root });
      console.log(`\nVS Code (code-server) with the extension attached to the demo primary: ${url}`);
      console.log('(on a remote machine, forward the port: ssh -L <port>:127.0.0.1:<port> …)');
    }
    // the CLI as a user runs it: by name once installed, else how to install it
    const watch = `memscope watch --file-prefix ${primary.prefix}`;
    console.log(
      onPath('memscope')
        ? `Also try: ${watch}   — Ctrl-C stops the demo.`
        : `Also try: ${watch}, once memscope is on PATH (npm run install-cli; until then node ${path.relative(process.cwd(), path.join(root, 'out', 'cli', 'cli.js'))} watch …)   — Ctrl-C stops the demo.`,
    );
    const keepAlive = setInterval(() => undefined, 1 << 30); // the children are unref'd
    await stopped;
    console.log('stopping the demo…');
    clearInterval(keepAlive);
    await stopEditor();
    fs.rmSync(ws, { recursive: true, force: true });
  }
  // undo the test buffer before the primary goes
  for (const l of JSON.parse(spawnSync(process.execPath, [cli, 'snapshot', '--file-prefix', primary.prefix, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout || '{"memsegLists":[]}').memsegLists) {
    if (l.registration?.ownerAlive) spawnSync(process.execPath, [cli, 'unregister', '--file-prefix', primary.prefix, '--va', l.baseVa], { stdio: 'inherit', timeout: 30_000 });
  }
} catch (e) {
  console.error(`demo: ${e.message}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
