#!/usr/bin/env node
// Bundles the memscope CLI (native-agent/cli.ts and everything it imports)
// into ONE file with esbuild: out/cli/cli.js by default, or `--out FILE`
// (scripts/package.mjs makes the .vsix's out/agent/cli.js with it;
// `--no-minify` keeps names, for profiles). koffi, the only native
// dependency, stays beside the file (node_modules/koffi and its
// @koromix/koffi-linux-x64 binary); `memscope install` copies both.
//
// The file holds two self-contained builds of the same CLI as string
// constants and compiles only the one the command needs: `serve` (the
// JSON-RPC server, with vscode-languageserver; brotli-packed) and all the
// others (no JSON-RPC code at all). Modules a command does not import are
// not run (esbuild keeps `await import()` lazy), so `--help`, `list` and
// `diff` load no koffi either. Where the time of a cold `memscope snapshot`
// went, and what each plugin below takes off it, is in README ("The CLI").
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The stand-in for native-agent/server.ts in the build that never serves. */
const NO_SERVER = `export async function serve() { throw new Error('internal error: this build of the CLI has no JSON-RPC server (the launcher compiles the full one for "serve").'); }`;

let esbuild;

/**
 * What `import koffi from 'koffi'` gets in the bundle: koffi's native binary,
 * required straight from beside the file (node_modules/@koromix/
 * koffi-linux-x64, where `memscope install` and the .vsix put it), so a cold
 * run skips koffi's JS loader (package resolution, an ELF read of node to
 * tell glibc from musl, wrappers for deprecated calls: ~7 ms here). Anywhere
 * else (a checkout's out/cli), or a binary of another koffi version, goes
 * through koffi itself.
 */
const koffiShim = (version) => `
const path = require('node:path');
let k = null;
try { k = require(path.join(__dirname, 'node_modules', '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node')); } catch {}
module.exports = k && k.version === ${JSON.stringify(version)} ? k : require('koffi');
`;

/**
 * node:child_process, for Memscope's own modules: its functions require the
 * real module when first called. Node's child_process pulls in net, stream
 * and friends (~8 ms of a cold start here), and only a secondary attach,
 * registration or install starts a child; a peek snapshot never does.
 */
const LAZY_CHILD_PROCESS = ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'fork', 'exec', 'execSync']
  .map((f) => `export function ${f}(...a) { return require('node:child_process').${f}(...a); }`)
  .join('\n');

/**
 * node:fs, node:path and node:os for Memscope's own modules, through one ESM
 * module each: esbuild gives every `import * as fs from 'node:fs'` of a CJS
 * module its own copy of fs's ~100 properties (__toESM), some 35 copies a
 * run; one shared namespace costs one.
 */
const sharedBuiltins = {
  name: 'shared-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:(fs|path|os)$/ }, (a) =>
      a.namespace === 'file' && !a.importer.includes(`${path.sep}node_modules${path.sep}`) ? { path: a.path, namespace: 'shared-builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'shared-builtin' }, (a) => ({ contents: `export * from '${a.path}';`, loader: 'js' }));
  },
};

async function bundle(withServer, version, koffiVersion, minify) {
  const lazyChildProcess = {
    name: 'lazy-child-process',
    setup(b) {
      b.onResolve({ filter: /^(node:)?child_process$/ }, (a) =>
        a.namespace === 'file' && !a.importer.includes(`${path.sep}node_modules${path.sep}`) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({ contents: LAZY_CHILD_PROCESS, loader: 'js' }));
    },
  };
  const koffiDirect = {
    name: 'koffi-direct',
    setup(b) {
      b.onResolve({ filter: /^koffi$/ }, (a) => (a.namespace === 'koffi-direct' ? { path: 'koffi', external: true } : { path: 'koffi', namespace: 'koffi-direct' }));
      b.onLoad({ filter: /.*/, namespace: 'koffi-direct' }, () => ({ contents: koffiShim(koffiVersion), loader: 'js', resolveDir: root }));
    },
  };
  const noServer = {
    name: 'no-server',
    setup(b) {
      b.onResolve({ filter: /^\.\/server$/ }, (a) => (a.importer.endsWith(path.join('native-agent', 'cli.ts')) ? { path: 'server', namespace: 'no-server' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'no-server' }, () => ({ contents: NO_SERVER, loader: 'ts' }));
    },
  };
  const r = await esbuild.build({
    entryPoints: [path.join(root, 'native-agent', 'cli.ts')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify,
    legalComments: 'none',
    define: { __MEMSCOPE_VERSION__: JSON.stringify(version) },
    plugins: withServer ? [koffiDirect, lazyChildProcess, sharedBuiltins] : [koffiDirect, lazyChildProcess, sharedBuiltins, noServer],
    metafile: true,
    logLevel: 'warning',
  });
  const rpc = Object.keys(r.metafile.inputs).filter((f) => /vscode-(jsonrpc|languageserver)/.test(f));
  if (!withServer && rpc.length) throw new Error(`the build without the server still takes in ${rpc[0]}`);
  // the launcher carries the shebang; the builds are bodies of one module
  return r.outputFiles[0].text.replace(/^#!.*\n/, '');
}

/**
 * The launcher: runs one of the builds (`src`, named `tag`) as the body of
 * this very module, so __filename, require and `require.main === module` are
 * the file's own. It is written into the file as source (launch.toString()).
 *
 * Compiling the build is most of a cold start that has nothing to wait for:
 * V8 pre-parses all ~160 KB on every run. So compiled code is cached, in the
 * user's own cache directory only ($XDG_CACHE_HOME or ~/.cache, /memscope;
 * skipped unless this user owns it and nobody else can write it: the cache is
 * code): Node >= 22.1 has a compile cache (module.enableCompileCache), used
 * as it is; Node 20 has none, so there the launcher keeps V8's code cache
 * itself (vm.Script cachedData, rejected by V8 when Node, V8 flags or the
 * build differ). It is written when missing or rejected, and once more after
 * the first run that read a target (the snapshot code compiled too). The CLI
 * calls globalThis[Symbol.for('memscope.beforeExit')] before it _exits.
 */
function launch(module, require, filename, dirname, tag, src, version) {
  const fs = require('node:fs');
  const path = require('node:path');
  const Module = require('node:module');
  const euid = process.geteuid();
  const own = (p) => {
    const st = fs.statSync(p);
    return st.uid === euid && (st.mode & 0o022) === 0;
  };
  let dir = null;
  try {
    const xdg = process.env.XDG_CACHE_HOME;
    const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(require('node:os').homedir(), '.cache');
    if (fs.existsSync(base) ? own(base) : own(path.dirname(base))) {
      dir = path.join(base, 'memscope');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!own(dir)) dir = null;
    }
  } catch {
    dir = null;
  }
  const hook = Symbol.for('memscope.beforeExit');
  if (Module.enableCompileCache) {
    if (dir) Module.enableCompileCache(dir);
    globalThis[hook] = () => Module.flushCompileCache?.();
    module._compile(src, filename);
    return;
  }
  const vm = require('node:vm');
  const key = dir && path.join(dir, `v8-${process.version}-${process.arch}-memscope-${version}-${tag}-${src.length}`);
  let cached;
  let from = null;
  for (const f of key ? [`${key}.read`, key] : []) {
    try {
      const fd = fs.openSync(f, 'r');
      try {
        const st = fs.fstatSync(fd);
        if (st.uid === euid && (st.mode & 0o022) === 0) {
          cached = fs.readFileSync(fd);
          from = f;
        }
      } finally {
        fs.closeSync(fd);
      }
      if (cached) break;
    } catch {
      /* none yet */
    }
  }
  const script = new vm.Script(Module.wrap(src), { filename, cachedData: cached });
  let done = !key;
  globalThis[hook] = () => {
    if (done) return;
    done = true;
    // a run that read a target compiled the snapshot code: keep that too, once
    const read = !!globalThis[Symbol.for('memscope.nativeLoaded')];
    const to = !cached || script.cachedDataRejected ? (read ? `${key}.read` : key) : read && from !== `${key}.read` ? `${key}.read` : null;
    if (!to) return;
    try {
      const tmp = `${to}.${process.pid}`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, to);
    } catch {
      /* a cache is only a cache */
    }
  };
  process.once('exit', () => globalThis[hook]());
  script.runInThisContext().call(module.exports, module.exports, require, module, filename, dirname);
}

/**
 * Writes the one-file CLI to `outfile` (mode 0755). Returns its size in bytes.
 */
export async function buildCli(outfile, { minify = true } = {}) {
  try {
    esbuild ??= await import('esbuild');
  } catch {
    throw Object.assign(new Error('esbuild is not installed'), { sentence: 'esbuild is not installed in this checkout: run npm ci (or npm run setup as root) first, then this again.' });
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const koffiVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'koffi', 'package.json'), 'utf8')).version;
  const [core, full] = await Promise.all([bundle(false, pkg.version, koffiVersion, minify), bundle(true, pkg.version, koffiVersion, minify)]);
  for (const [name, code] of [['core', core], ['full', full]]) {
    // vm.Script code has no module loader: a dynamic import() in it would throw
    if (/\bimport\(/.test(code)) throw new Error(`the ${name} build has a dynamic import(): use require() for it`);
  }
  const shebang = fs.readFileSync(path.join(root, 'native-agent', 'cli.ts'), 'utf8').split('\n')[0];
  if (!shebang.startsWith('#!')) throw new Error('native-agent/cli.ts lost its shebang line');
  const launcher = [
    shebang,
    `// memscope ${pkg.version}: the CLI in one file, built by scripts/build-cli.mjs from native-agent/cli.ts.`,
    '// The shebang drops NODE_EXTRA_CA_CERTS (Node would parse that certificate file at start, ~90 ms; memscope makes no TLS connection).',
    '// Two builds of the CLI follow as strings; only the one this command needs is compiled: "serve" (JSON-RPC) or any other.',
    '// Compiled code is cached in ~/.cache/memscope (Node >= 22.1: its compile cache; Node 20: V8 code cache kept by the launcher below).',
    "'use strict';",
    `const CORE=${JSON.stringify(core)};`,
    // brotli and base64: a third of the bytes to read and scan on every run; unpacked for `serve` only
    `const FULL=${JSON.stringify(zlib.brotliCompressSync(full, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).toString('base64'))};`,
    `(${launch.toString()})(module, require, __filename, __dirname, ...(process.argv[2] === 'serve' ? ['serve', require('node:zlib').brotliDecompressSync(Buffer.from(FULL, 'base64')).toString()] : ['cli', CORE]), ${JSON.stringify(pkg.version)});`,
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  const tmp = `${outfile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, launcher, { mode: 0o755 });
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, outfile);
  return launcher.length;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const at = process.argv.indexOf('--out');
  const outfile = path.resolve(at > 0 && process.argv[at + 1] ? process.argv[at + 1] : path.join(root, 'out', 'cli', 'cli.js'));
  try {
    await buildCli(outfile, { minify: !process.argv.includes('--no-minify') });
  } catch (e) {
    console.error(`build-cli: ${e.sentence ?? `bundling the CLI failed (${String(e.message).split('\n')[0]}): fix the errors above.`}`);
    process.exit(1);
  }
}
