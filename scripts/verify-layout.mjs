#!/usr/bin/env node
// Checks a DPDK release's layout file against a live primary of that release,
// field by field (native-agent/verify-layout.ts says against what). Run it
// before a release file lands, and on a build you are unsure of.
//
//   node scripts/verify-layout.mjs --file-prefix PREFIX [--layout FILE.json] [--runtime-dir DIR] [--json]
//
// FILE defaults to the release file for the primary's version. The primary
// should be idle (nothing allocating while it is read) and hold no external
// memory. Needs `npm run build` (it loads out/native-agent). Exit status: 0
// every field checked and right, 1 a field wrong or unchecked, 2 bad
// arguments, 3 the target or its release cannot be read.
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const prefix = arg('--file-prefix');
if (!prefix) {
  console.error('verify-layout: give the primary with --file-prefix PREFIX.');
  process.exit(2);
}
let mod;
try {
  mod = require(path.join(root, 'out', 'native-agent', 'verify-layout.js'));
} catch {
  console.error('verify-layout: out/native-agent/verify-layout.js is missing: run `npm run build` first.');
  process.exit(3);
}
const { findTarget } = require(path.join(root, 'out', 'native-agent', 'discovery.js'));
const { tableFor } = require(path.join(root, 'out', 'native-agent', 'dpdk', 'layout.js'));
const runtimeDirs = arg('--runtime-dir') ? [arg('--runtime-dir')] : [];
let verdict;
try {
  const t = findTarget(prefix, { runtimeDirs });
  const file = arg('--layout');
  const L = file ? mod.readLayoutFile(file) : t.versionWord !== null ? tableFor(t.versionWord) : null;
  if (!L) throw new Error(`Memscope has no layout file for DPDK ${t.dpdkVersion ?? '?'}: give one with --layout`);
  verdict = mod.verifyLayoutFile(prefix, L, runtimeDirs);
} catch (e) {
  console.error(`verify-layout: ${e.message}.`);
  process.exit(3);
}
const wrong = verdict.results.filter((r) => !r.ok);
if (process.argv.includes('--json')) console.log(JSON.stringify(verdict));
else {
  for (const r of verdict.results) if (!r.ok) console.log(`WRONG  ${r.field}: ${r.why}`);
  for (const f of verdict.unchecked) console.log(`UNCHECKED  ${f}`);
  const fields = new Set(verdict.results.flatMap((r) => r.field.split(' ')));
  console.log(`DPDK ${verdict.release} layout: ${fields.size} fields in ${verdict.results.length} checks, ${wrong.length} checks wrong, ${verdict.unchecked.length} fields unchecked`);
}
process.exit(wrong.length || verdict.unchecked.length ? 1 : 0);
