// A deliberately broken agent for the extension's tests: used as
// memscope.agent.launchPrefix, it starts the real agent (its argv is the rest
// of the command line) and passes the JSON-RPC stream through both ways,
// except that it breaks the params of the Nth `memscope/delta` notification
// (MEMSCOPE_BREAK_DELTA, default 2) the agent sends. Signals and the end of
// either stream pass through too.
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('broken-agent: give the agent command after the script\n');
  process.exit(2);
}
const breakAt = Number(process.env.MEMSCOPE_BREAK_DELTA ?? '2');
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin!);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

let buf = Buffer.alloc(0);
let deltas = 0;
child.stdout!.on('data', (d: Buffer) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const m = /Content-Length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('ascii'));
    if (!m) throw new Error('broken-agent: a frame without Content-Length');
    const len = Number(m[1]);
    if (buf.length < end + 4 + len) return;
    let body = buf.subarray(end + 4, end + 4 + len);
    buf = buf.subarray(end + 4 + len);
    if (body.includes('"memscope/delta"')) {
      const msg = JSON.parse(body.toString('utf8')) as { method?: string; params?: { delta?: unknown } };
      if (msg.method === 'memscope/delta' && ++deltas === breakAt) {
        msg.params!.delta = { heaps: 'not a delta' };
        body = Buffer.from(JSON.stringify(msg));
        process.stderr.write(`broken-agent: broke delta ${deltas}\n`);
      }
    }
    process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
    process.stdout.write(body);
  }
});
