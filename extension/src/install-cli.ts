/**
 * "DPDK Memscope: Install CLI on PATH": the one-file CLI this extension
 * carries (out/agent/cli.js in the .vsix, out/cli/cli.js in a checkout) runs
 * `memscope install` in a terminal of its own, started as an argument vector
 * (no shell), where sudo can ask for a password. No vscode import: the unit
 * tests run this very code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The one-file CLI beside this extension, or null when it was never built. */
export function cliBundle(extensionPath: string): string | null {
  for (const p of [path.join(extensionPath, 'out', 'agent', 'cli.js'), path.join(extensionPath, 'out', 'cli', 'cli.js')]) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** The first executable `node` on `pathVar`, or null: the installed CLI runs that one. */
export function nodeOnPath(pathVar: string): string | null {
  for (const dir of pathVar.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = path.join(dir, 'node');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export interface InstallChoice {
  label: string;
  detail: string;
  /** The program and its arguments, as execve gets them. */
  command: string;
  args: string[];
}

/** Where the CLI can go: /usr/local (root, or through sudo) and, for anyone else, ~/.local. */
export function installChoices(bundle: string, node: string, uid: number, home: string): InstallChoice[] {
  const install = (prefix: string) => [bundle, 'install', '--prefix', prefix];
  if (uid === 0) {
    return [{ label: '/usr/local', detail: '/usr/local/bin/memscope, for every user', command: node, args: install('/usr/local') }];
  }
  const local = path.join(home, '.local');
  return [
    { label: '/usr/local (with sudo)', detail: '/usr/local/bin/memscope, for every user and for `sudo memscope`', command: 'sudo', args: [node, ...install('/usr/local')] },
    { label: local, detail: `${local}/bin/memscope, for you only`, command: node, args: install(local) },
  ];
}
