/**
 * Preloaded into a child process (NODE_OPTIONS=--require …): when the child
 * exits, its peak resident memory (VmHWM from /proc/self/status, in KiB)
 * goes to the file named by MEMSCOPE_HWM_FILE. A zombie's /proc has no
 * memory figures left, so the child has to say it itself.
 */
import * as fs from 'node:fs';

const out = process.env.MEMSCOPE_HWM_FILE;
if (out) {
  process.on('exit', () => {
    try {
      const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      fs.writeFileSync(out, m ? m[1]! : '');
    } catch {
      /* the test then says the figure is missing */
    }
  });
}
