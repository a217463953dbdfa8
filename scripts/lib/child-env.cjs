// The environment for a package install nested inside another npm run.
//
// `npm test` (or `npm run demo`) exports npm_config_*, npm_package_*,
// npm_lifecycle_* and friends to every child. A nested `npm install` reads
// them as its own configuration: code-server's postinstall, for one, reads the
// Node version from npm_config_user_agent ("node/v20" from the outer npm) and
// refuses to install under Node 24. A nested install must look exactly like
// one started by hand, so everything an outer npm (or npx) adds goes, and only
// the caller's explicit settings are put back.
'use strict';

// Names npm and npx set for the scripts they run (npm 7 to 11). COLOR is
// npm's own ("0" or "1", set for every script, over whatever the caller had).
const NPM_EXACT = new Set(['INIT_CWD', 'NODE', 'NODE_ENV_NPM', 'npm_execpath', 'npm_node_execpath', 'npm_command', 'npx_exec', 'COLOR']);
const NPM_PREFIXES = ['npm_config_', 'npm_package_', 'npm_lifecycle_'];

function isFromNpm(name) {
  const lower = name.toLowerCase();
  return NPM_EXACT.has(name) || NPM_PREFIXES.some((p) => lower.startsWith(p));
}

/**
 * @param {NodeJS.ProcessEnv} env the environment to start from (process.env)
 * @param {Record<string, string>} [extra] settings to add after cleaning
 * @returns {Record<string, string>} a fresh object; `env` is not changed
 */
function cleanInstallEnv(env, extra = {}) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || isFromNpm(k)) continue;
    out[k] = v;
  }
  // npm puts node_modules/.bin folders of the outer package first on PATH
  if (out.PATH) {
    out.PATH = out.PATH.split(':').filter((d) => d && !/[\\/]node_modules[\\/]\.bin$/.test(d) && !/[\\/]npm-lifecycle[\\/]node-gyp-bin$/.test(d) && !/[\\/]node-gyp-bin$/.test(d)).join(':');
  }
  for (const [k, v] of Object.entries(extra)) out[k] = v;
  return out;
}

module.exports = { cleanInstallEnv, isFromNpm };
