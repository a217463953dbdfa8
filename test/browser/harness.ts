/**
 * The Memory Map in a real headless Chromium, for the browser tests and the
 * benchmark: a tiny node:http server on 127.0.0.1 serves out/webview and a
 * page made by renderHtml (with its CSP and a fresh nonce), and playwright
 * opens it in a persistent context in a temp dir. `close()` removes all
 * three, and is safe to call twice or after a failed start.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { MapViewState } from '../../common/webview-protocol';
import type {} from '../../webview/api';
import { newNonce, renderHtml, renderLeaksHtml } from '../../webview/html';
import type {} from '../../webview/leaks/app';

export const ROOT = path.join(__dirname, '..', '..', '..');
const BUNDLE_DIR = path.join(ROOT, 'out', 'webview');
export const CHROMIUM = process.env.MEMSCOPE_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export type ThemeName = 'light' | 'dark' | 'hc';

export interface MapPage {
  page: Page;
  context: BrowserContext;
  origin: string;
  /** Console errors, uncaught exceptions and CSP violations seen so far. */
  problems: string[];
  close(): Promise<void>;
}

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the bundle when it is missing or older than its sources, so a test never runs a stale one. */
export function ensureBundle(): void {
  const bundle = path.join(BUNDLE_DIR, 'main.js');
  const leaks = path.join(BUNDLE_DIR, 'leaks.js');
  const css = path.join(BUNDLE_DIR, 'style.css');
  const src = Math.max(newest(path.join(ROOT, 'webview')), newest(path.join(ROOT, 'common')));
  if ([bundle, leaks, css].every((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs >= src)) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-webview.mjs'), '--no-check'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the webview failed: ${(r.stderr || r.stdout).trim()}`);
}

function serve(initialState?: MapViewState, which: 'map' | 'leaks' = 'map'): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer((req, res) => {
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const url = new URL(req.url ?? '/', origin);
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') {
      const html =
        which === 'leaks'
          ? renderLeaksHtml({ cspSource: origin, nonce: newNonce(), scriptUri: `${origin}/leaks.js`, styleUri: `${origin}/style.css` })
          : renderHtml({ cspSource: origin, nonce: newNonce(), scriptUri: `${origin}/main.js`, styleUri: `${origin}/style.css`, initialState: initialState ?? null });
      return send(200, 'text/html; charset=utf-8', html);
    }
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    const file = { '/main.js': 'main.js', '/leaks.js': 'leaks.js', '/style.css': 'style.css' }[url.pathname];
    if (!file) return send(404, 'text/plain', 'not found');
    send(200, file.endsWith('.js') ? 'text/javascript' : 'text/css', fs.readFileSync(path.join(BUNDLE_DIR, file)));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

/**
 * `bypassCsp`: only for the end-to-end benchmark, whose stand-in for VS Code's
 * message channel fetches the message's bytes from a local server (the page's
 * CSP allows no connection; VS Code's channel is outside the page's CSP too).
 */
export async function openMap(opts: { width?: number; height?: number; initialState?: MapViewState; page?: 'map' | 'leaks'; bypassCsp?: boolean } = {}): Promise<MapPage> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium) or set MEMSCOPE_CHROMIUM.`);
  ensureBundle();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memscope-map-'));
  let server: http.Server | undefined;
  let context: BrowserContext | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await context?.close().catch(() => undefined);
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server?.closeAllConnections();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const s = await serve(opts.initialState, opts.page ?? 'map');
    server = s.server;
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: opts.width ?? 1440, height: opts.height ?? 860 },
      deviceScaleFactor: 1,
      bypassCSP: opts.bypassCsp ?? false,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(s.origin + '/');
    await page.evaluate(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { cspViolations: string[] }).cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
      (window as unknown as { cspViolations: string[] }).cspViolations = [];
    });
    if (opts.page === 'leaks') await page.waitForFunction(() => !!window.memscopeLeaks);
    else await page.waitForFunction(() => !!window.memscopeMap);
    return { page, context, origin: s.origin, problems, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Posts a message the way the extension's webview.postMessage arrives: a window message event. */
export async function post(page: Page, message: unknown): Promise<void> {
  await page.evaluate((m) => window.postMessage(m, '*'), message);
}

/** Posts a snapshot (sent as JSON text, parsed in the page) and waits until it is drawn. */
export async function postSnapshot(page: Page, json: string): Promise<void> {
  const before = await page.evaluate(() => window.memscopeMap!.stats().snapshots);
  await page.evaluate((text) => window.postMessage({ type: 'snapshot', snapshot: JSON.parse(text) }, '*'), json);
  await page.waitForFunction((n) => window.memscopeMap!.stats().snapshots > n, before);
}

// VS Code's own values for the variables the map reads (Dark Modern, Light
// Modern, High Contrast), set the way VS Code sets them: on <html>'s style,
// with the theme's class on <body>.
const COMMON = {
  'font-family': '-apple-system, BlinkMacSystemFont, "Segoe WPC", "Segoe UI", "Ubuntu", "Droid Sans", sans-serif',
  'font-size': '13px',
  'font-weight': 'normal',
  'editor-font-family': '"Droid Sans Mono", "monospace", monospace',
};
export const THEMES: Record<ThemeName, { cls: string; vars: Record<string, string> }> = {
  dark: {
    cls: 'vscode-dark',
    vars: {
      foreground: '#cccccc',
      descriptionForeground: '#9d9d9d',
      'editor-background': '#1f1f1f',
      'editor-foreground': '#cccccc',
      'sideBar-background': '#181818',
      'panel-border': '#2b2b2b',
      'widget-border': '#313131',
      focusBorder: '#0078d4',
      'button-background': '#0078d4',
      'button-foreground': '#ffffff',
      'button-border': 'rgba(255, 255, 255, 0.07)',
      'button-secondaryBackground': '#313131',
      'button-secondaryForeground': '#cccccc',
      'button-secondaryHoverBackground': '#3c3c3c',
      'charts-foreground': '#cccccc',
      'charts-blue': '#3794ff',
      'charts-green': '#89d185',
      'charts-yellow': '#cca700',
      'charts-orange': '#d18616',
      'charts-purple': '#b180d7',
      'charts-red': '#f14c4c',
      'editorWarning-foreground': '#cca700',
      errorForeground: '#f85149',
      'inputValidation-warningBackground': '#352a05',
      'inputValidation-warningBorder': '#b89500',
      'editorHoverWidget-background': '#202020',
      'editorHoverWidget-foreground': '#cccccc',
      'editorHoverWidget-border': '#454545',
      'widget-shadow': 'rgba(0, 0, 0, 0.36)',
      'list-hoverBackground': '#2a2d2e',
    },
  },
  light: {
    cls: 'vscode-light',
    vars: {
      foreground: '#3b3b3b',
      descriptionForeground: '#717171',
      'editor-background': '#ffffff',
      'editor-foreground': '#3b3b3b',
      'sideBar-background': '#f8f8f8',
      'panel-border': '#e5e5e5',
      'widget-border': '#e5e5e5',
      focusBorder: '#005fb8',
      'button-background': '#005fb8',
      'button-foreground': '#ffffff',
      'button-border': 'rgba(0, 0, 0, 0.1)',
      'button-secondaryBackground': '#e5e5e5',
      'button-secondaryForeground': '#3b3b3b',
      'button-secondaryHoverBackground': '#cccccc',
      'charts-foreground': '#616161',
      'charts-blue': '#1a85ff',
      'charts-green': '#388a34',
      'charts-yellow': '#bf8803',
      'charts-orange': '#d18616',
      'charts-purple': '#652d90',
      'charts-red': '#e51400',
      'editorWarning-foreground': '#bf8803',
      errorForeground: '#f85149',
      'inputValidation-warningBackground': '#f6f5d2',
      'inputValidation-warningBorder': '#b89500',
      'editorHoverWidget-background': '#f8f8f8',
      'editorHoverWidget-foreground': '#3b3b3b',
      'editorHoverWidget-border': '#c8c8c8',
      'widget-shadow': 'rgba(0, 0, 0, 0.16)',
      'list-hoverBackground': '#f2f2f2',
    },
  },
  hc: {
    cls: 'vscode-high-contrast',
    vars: {
      foreground: '#ffffff',
      descriptionForeground: '#ffffff',
      'editor-background': '#000000',
      'editor-foreground': '#ffffff',
      'sideBar-background': '#000000',
      'panel-border': '#6fc3df',
      'widget-border': '#6fc3df',
      contrastBorder: '#6fc3df',
      contrastActiveBorder: '#f38518',
      focusBorder: '#f38518',
      'button-background': '#000000',
      'button-foreground': '#ffffff',
      'button-border': '#6fc3df',
      'button-secondaryBackground': '#000000',
      'button-secondaryForeground': '#ffffff',
      'charts-foreground': '#ffffff',
      'charts-blue': '#3794ff',
      'charts-green': '#89d185',
      'charts-yellow': '#ffd370',
      'charts-orange': '#d18616',
      'charts-purple': '#b180d7',
      'charts-red': '#f48771',
      'editorWarning-foreground': '#ffd370',
      errorForeground: '#f48771',
      'inputValidation-warningBackground': '#000000',
      'inputValidation-warningBorder': '#ffd370',
      'editorHoverWidget-background': '#0c141f',
      'editorHoverWidget-foreground': '#ffffff',
      'editorHoverWidget-border': '#6fc3df',
      'widget-shadow': 'transparent',
      'list-hoverBackground': 'transparent',
    },
  },
};

/** Switches the page to a theme in place, as VS Code does, and waits for the map to redraw. */
export async function applyTheme(page: Page, name: ThemeName): Promise<void> {
  const t = THEMES[name];
  const vars = { ...COMMON, ...t.vars };
  // the Leaks page has no map to wait for
  const before = await page.evaluate(() => window.memscopeMap?.stats() ?? { snapshots: 0, renders: 0 });
  await page.evaluate(
    ([cls, v]) => {
      const html = document.documentElement;
      html.removeAttribute('style');
      for (const [k, x] of Object.entries(v)) html.style.setProperty(`--vscode-${k}`, x);
      document.body.className = cls;
      document.body.dataset.vscodeThemeKind = cls;
    },
    [t.cls, vars] as const,
  );
  // with nothing drawn yet there is no redraw to wait for
  if (before.snapshots) await page.waitForFunction((n) => window.memscopeMap!.stats().renders > n, before.renders);
}
