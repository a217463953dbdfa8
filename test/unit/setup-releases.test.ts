// scripts/setup-releases.mjs: the mirror it debootstraps from is the one apt
// already uses, in either format, and Debian's own when none is found.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const SCRIPT = path.join(__dirname, '..', '..', '..', 'scripts', 'setup-releases.mjs');

function mirror(sources: string[]): string {
  const code = `import { debianMirror } from ${JSON.stringify(SCRIPT)}; process.stdout.write(debianMirror(${JSON.stringify(sources)}));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('setup-releases: the Debian mirror comes from a deb822 source, a one-line source, else Debian itself', () => {
  const deb822 = 'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n';
  const security = 'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n';
  assert.equal(mirror([security, deb822]), 'http://mirror.example/debian', 'the security archive is not the mirror');
  assert.equal(mirror(['deb [arch=amd64 signed-by=/k.gpg] http://ftp.example.org/debian bookworm main\n']), 'http://ftp.example.org/debian');
  assert.equal(mirror(['deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n']), 'http://deb.debian.org/debian');
  assert.equal(mirror([]), 'http://deb.debian.org/debian');
});
