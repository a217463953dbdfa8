// scripts/lib/child-env.cjs: the environment for an `npm install` nested in
// `npm test` (scripts/setup.mjs, scripts/setup-e2e.mjs) must be what that
// install would get when run by hand: nothing an outer npm adds (npm_config_*
// in any case, npm_package_*, npm_lifecycle_*, npm_execpath, INIT_CWD, NODE,
// COLOR, its node_modules/.bin and node-gyp-bin PATH entries), everything
// else kept, the caller's extra settings on top. Checked on a simulated outer
// npm's environment and on a real `npm run` (offline: running a script needs
// no registry).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

type Env = Record<string, string | undefined>;
const root = path.resolve(__dirname, '..', '..', '..');
const MODULE = path.join(root, 'scripts', 'lib', 'child-env.cjs');
const { cleanInstallEnv, isFromNpm } = require(MODULE) as { cleanInstallEnv: (env: Env, extra?: Record<string, string>) => Record<string, string>; isFromNpm: (name: string) => boolean };

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What npm 10/11 gives a script of /work/proj run from a shell (`npm test`), as seen by that script. */
function outerNpmEnv(): Env {
  return {
    // the user's own
    HOME: '/root',
    LANG: 'C.UTF-8',
    TERM: 'xterm',
    CI: 'true',
    EDITOR: 'vi',
    MEMSCOPE_FUZZ_SEED: '42',
    SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
    PATH: ['/work/proj/node_modules/.bin', '/work/node_modules/.bin', '/node_modules/.bin', '/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin', SYSTEM_PATH].join(':'),
    UNSET: undefined,
    // npm's
    npm_config_user_agent: 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false',
    npm_config_cache: '/root/.npm',
    npm_config_local_prefix: '/work/proj',
    npm_config_global_prefix: '/usr',
    npm_config_prefix: '/usr',
    npm_config_node_gyp: '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    npm_config_npm_version: '10.8.2',
    npm_config_userconfig: '/root/.npmrc',
    npm_config_globalconfig: '/usr/etc/npmrc',
    npm_config_init_module: '/root/.npm-init.js',
    npm_config_noproxy: '',
    npm_package_name: 'memscope',
    npm_package_version: '0.1.0',
    npm_package_json: '/work/proj/package.json',
    npm_lifecycle_event: 'test',
    npm_lifecycle_script: 'node scripts/setup.mjs && node scripts/run-tests.mjs',
    npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js',
    npm_node_execpath: '/usr/bin/node',
    npm_command: 'run-script',
    NODE: '/usr/bin/node',
    INIT_CWD: '/work/proj',
    COLOR: '0',
    // set by hand, in any case, and re-exported by npm: its configuration all the same
    NPM_CONFIG_LOGLEVEL: 'warn',
    Npm_Config_Fund: 'false',
    NPM_PACKAGE_NAME: 'x',
    NPM_LIFECYCLE_EVENT: 'x',
  };
}

test('what an outer npm adds goes, in any case; everything else stays as it was', () => {
  assert.deepEqual(cleanInstallEnv(outerNpmEnv()), {
    HOME: '/root',
    LANG: 'C.UTF-8',
    TERM: 'xterm',
    CI: 'true',
    EDITOR: 'vi',
    MEMSCOPE_FUZZ_SEED: '42',
    SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
    PATH: SYSTEM_PATH,
  });
});

test('the extra settings are put in after cleaning, and win', () => {
  const out = cleanInstallEnv(outerNpmEnv(), { PATH: `/var/cache/n24/bin:${SYSTEM_PATH}`, npm_config_nodedir: '/var/cache/n24', HOME: '/tmp/h' });
  assert.equal(out.PATH, `/var/cache/n24/bin:${SYSTEM_PATH}`);
  assert.equal(out.npm_config_nodedir, '/var/cache/n24', 'an explicit npm setting stays');
  assert.equal(out.HOME, '/tmp/h');
  assert.equal(out.npm_config_user_agent, undefined);
  // twice (as setup-e2e.mjs does: clean, then clean again with extras) is the same as once
  assert.deepEqual(cleanInstallEnv(cleanInstallEnv(outerNpmEnv()), { X: '1' }), { ...cleanInstallEnv(outerNpmEnv()), X: '1' });
});

test('PATH keeps every other dir, in order, duplicates included; only npm-added bin dirs go', () => {
  const keep = ['/opt/node24/bin', '/usr/bin', '/home/u/node_modules/bin', '/x/node_modules/.bin/sub', '/x/node_modules/.binx', '/usr/local/bin', '/usr/bin', '/bin'];
  const drop = ['/a/node_modules/.bin', '/node_modules/.bin', '/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin'];
  const mixed = [drop[0], keep[0], keep[1], drop[1], ...keep.slice(2, 5), drop[2], ...keep.slice(5)];
  assert.equal(cleanInstallEnv({ PATH: mixed.join(':') }).PATH, keep.join(':'));
  assert.deepEqual(cleanInstallEnv({ HOME: '/h' }), { HOME: '/h' }, 'no PATH is made up');
});

test('the input is not changed, and the output is a new object', () => {
  const env = outerNpmEnv();
  const before = structuredClone(env);
  Object.freeze(env);
  const out = cleanInstallEnv(env, { A: 'b' });
  assert.deepEqual(env, before);
  assert.notEqual(out, env);
  out.HOME = 'changed';
  assert.equal(env.HOME, '/root');
});

test('isFromNpm: npm\u2019s names in any case for the prefixes, exact for the others', () => {
  for (const k of ['npm_config_user_agent', 'NPM_CONFIG_REGISTRY', 'Npm_Config_X', 'npm_package_json', 'NPM_PACKAGE_NAME', 'npm_lifecycle_event', 'npm_execpath', 'npm_node_execpath', 'npm_command', 'INIT_CWD', 'NODE', 'COLOR']) assert.equal(isFromNpm(k), true, k);
  for (const k of ['PATH', 'HOME', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'npm', 'npmrc', 'EDITOR', 'CI', 'init_cwd', 'node']) assert.equal(isFromNpm(k), false, k);
});

test('end to end: a script that a real `npm run` starts, cleaned, sees what it sees run by hand', () => {
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
  assert.equal(npm.status, 0, `npm runs here: ${npm.error?.message ?? npm.stderr}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-child-env-'));
  try {
    const pkg = path.join(dir, 'pkg');
    fs.mkdirSync(path.join(pkg, 'node_modules', '.bin'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'child-env-probe', version: '1.0.0', private: true, scripts: { show: 'node show.js' } }));
    fs.writeFileSync(path.join(pkg, 'show.js'), `const { cleanInstallEnv } = require(${JSON.stringify(MODULE)});\nprocess.stdout.write(JSON.stringify({ raw: process.env, clean: cleanInstallEnv(process.env) }));\n`);
    // a shell's environment, without anything of the npm that may be running this test
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    const byHandEnv: Env = { PATH: `${path.dirname(process.execPath)}:${SYSTEM_PATH}`, HOME: home, LANG: 'C.UTF-8', MEMSCOPE_PROBE: 'kept' };
    const viaNpm = spawnSync('npm', ['run', '--silent', '--no-update-notifier', 'show'], { cwd: pkg, env: byHandEnv, encoding: 'utf8', timeout: 60_000 });
    assert.equal(viaNpm.status, 0, viaNpm.stderr);
    const { raw, clean } = JSON.parse(viaNpm.stdout) as { raw: Env; clean: Env };
    const byHand = spawnSync('sh', ['-c', 'node -e "process.stdout.write(JSON.stringify(process.env))"'], { cwd: pkg, env: byHandEnv, encoding: 'utf8' });
    assert.equal(byHand.status, 0, byHand.stderr);
    const hand = JSON.parse(byHand.stdout) as Env;

    // npm really added its own (else this proves nothing)
    assert.equal(raw.npm_lifecycle_event, 'show');
    assert.match(raw.npm_config_user_agent ?? '', /^npm\/\d+.* node\/v\d+/);
    assert.ok(raw.INIT_CWD && raw.npm_execpath, 'INIT_CWD and npm_execpath');
    assert.match(raw.PATH ?? '', /node_modules\/\.bin/);

    // and none of it is left
    assert.deepEqual(Object.keys(clean).filter((k) => /^npm_|^npx_/i.test(k) || ['INIT_CWD', 'NODE', 'COLOR'].includes(k)), []);
    assert.equal(clean.PATH, hand.PATH, 'PATH as by hand');
    // nothing but npm's default EDITOR (indistinguishable from a user's) that a shell would not have
    assert.deepEqual(Object.keys(clean).filter((k) => !(k in hand) && k !== 'EDITOR'), [], `by hand: ${Object.keys(hand).join(' ')}`);
    for (const [k, v] of Object.entries(hand)) {
      if (['PWD', 'OLDPWD', 'SHLVL', '_'].includes(k)) continue;
      assert.equal(clean[k], v, `${k} as by hand`);
    }
    assert.equal(clean.MEMSCOPE_PROBE, 'kept');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
