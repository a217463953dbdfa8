// Which files of a runtime dir a secondary left, by pid (native-agent/secondary.ts):
// 22.11's `fbarray_<name>_<pid>` and 24.11's `fbarray_<name>_<pid>_<tsc>`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeSecondaryFiles, secondaryFilePid } from '../../native-agent/secondary';

const primary = ['config', 'fbarray_memzone', 'fbarray_memseg-2048k-0-0', 'fbarray_memseg-2048k-0-1', 'mp_socket', 'hugepage_info'];

test('secondaryFilePid reads the pid of both releases\' names, and never a primary file', () => {
  const names = new Set([...primary, 'fbarray_memseg-2048k-0-0_11141_1e46c3f65d2f', 'fbarray_memseg-2048k-0-1_812', 'mp_socket_11141_1e46c3c90f1d']);
  assert.equal(secondaryFilePid('fbarray_memseg-2048k-0-0_11141_1e46c3f65d2f', names), 11141);
  assert.equal(secondaryFilePid('fbarray_memseg-2048k-0-1_812', names), 812);
  assert.equal(secondaryFilePid('mp_socket_11141_1e46c3c90f1d', names), 11141);
  // a tsc spelled with digits only is still the tsc: the primary's file tells where the name ends
  assert.equal(secondaryFilePid('fbarray_memseg-2048k-0-0_4242_1234567', names), 4242);
  for (const p of primary) assert.equal(secondaryFilePid(p, names), null, p);
  // a name whose base is no primary fbarray is not a secondary's copy
  assert.equal(secondaryFilePid('fbarray_other_77', names), null);
});

test('removeSecondaryFiles deletes only the files of that pid', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-secfiles-'));
  try {
    const mine = ['fbarray_memseg-2048k-0-0_4242_1e46c3f65d2f', 'fbarray_memseg-2048k-0-1_4242_99', 'mp_socket_4242_abc'];
    // another secondary whose tsc ends in our pid's digits
    const theirs = ['fbarray_memseg-2048k-0-0_77_4242', 'fbarray_memseg-2048k-0-1_77', 'mp_socket_77_4242'];
    for (const n of [...primary, ...mine, ...theirs]) fs.writeFileSync(path.join(dir, n), '');
    assert.deepEqual(removeSecondaryFiles(dir, 4242).sort(), [...mine].sort());
    assert.deepEqual(fs.readdirSync(dir).sort(), [...primary, ...theirs].sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
