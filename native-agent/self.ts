/**
 * The memscope script this process runs: holders and guardians are started
 * from it. In a bundle (the .vsix) every module lives in that one file.
 */
import * as path from 'node:path';

export function selfScript(): string {
  const main = process.argv[1] ?? '';
  return /cli\.js$/.test(main) ? main : path.join(__dirname, __dirname.endsWith('dmabuf') ? '..' : '.', 'cli.js');
}
