// Paths inside another root (native-agent/roots.ts): symlinks resolved in the
// root, never through this process's own (Debian's /var/run -> /run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathInRoot, resolveInRoot, runtimeRootsIn } from '../../native-agent/roots';

function fakeRoot(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-root-'));
  fs.mkdirSync(path.join(r, 'run', 'dpdk', 'p1'), { recursive: true });
  fs.mkdirSync(path.join(r, 'var'));
  fs.symlinkSync('/run', path.join(r, 'var', 'run')); // absolute, as Debian has it
  fs.mkdirSync(path.join(r, 'usr', 'lib'), { recursive: true });
  fs.symlinkSync('usr/lib', path.join(r, 'lib')); // relative
  fs.writeFileSync(path.join(r, 'usr', 'lib', 'librte_eal.so.25.0'), '');
  fs.symlinkSync('loop-b', path.join(r, 'loop-a'));
  fs.symlinkSync('loop-a', path.join(r, 'loop-b'));
  return r;
}

test('resolveInRoot follows absolute links inside the root, relative ones beside them, and stops on loops', () => {
  const r = fakeRoot();
  try {
    assert.equal(resolveInRoot(r, '/var/run/dpdk/p1'), path.join(r, 'run/dpdk/p1'));
    assert.equal(resolveInRoot(r, '/lib/librte_eal.so.25.0'), path.join(r, 'usr/lib/librte_eal.so.25.0'));
    assert.equal(resolveInRoot(r, '/run/../run/dpdk'), path.join(r, 'run/dpdk'));
    assert.equal(resolveInRoot(r, '/var/run/missing'), null);
    assert.equal(resolveInRoot(r, '/loop-a/x'), null);
    // `..` never climbs above the root
    assert.equal(resolveInRoot(r, '/../../run/dpdk'), path.join(r, 'run/dpdk'));
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
});

test('runtimeRootsIn gives the root\u2019s /run/dpdk once, however /var/run reaches it', () => {
  const r = fakeRoot();
  try {
    assert.deepEqual(runtimeRootsIn({ path: r, pid: 1, otherMountNs: false, label: 'x' }), [path.join(r, 'run/dpdk')]);
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
});

test('pathInRoot turns a chroot\u2019s maps path into the root\u2019s own view; a container\u2019s is left as it is', () => {
  // a chroot: /proc/<pid>/root links to the folder, maps paths carry it
  const self = { path: `/proc/${process.pid}/root`, pid: process.pid, otherMountNs: false, label: 'chroot /' };
  assert.equal(pathInRoot(self, '/usr/lib/x86_64-linux-gnu/librte_eal.so.25.0'), '/usr/lib/x86_64-linux-gnu/librte_eal.so.25.0');
  const container = { path: '/proc/1/root', pid: 1, otherMountNs: true, label: 'container pid 1' };
  assert.equal(pathInRoot(container, '/srv/x/usr/lib/librte_eal.so.25'), '/srv/x/usr/lib/librte_eal.so.25');
});
