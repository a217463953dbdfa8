// Drives the code-server workbench with Debian's Chromium through
// playwright-core (see shared/docs/real-vscode-e2e.md).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Frame, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { atExit, e2ePaths, e2eTmpDir } from './code-server';

/** Page console lines that are expected on these offline machines. */
export const HARMLESS_CONSOLE: RegExp[] = [
  /ENOTFOUND open-vsx\.org/,
  /open-vsx\.org/,
  /github[^\n]*(auth|session)[^\n]*(timed? ?out|timeout)/i,
  /(auth|session)[^\n]*github[^\n]*(timed? ?out|timeout)/i,
  /Timed out waiting for authentication provider 'github'/i,
  /\[AgentHost\] No signed-in session resolved for resource: https:\/\/api\.github\.com/,
  /\[ChatModelSelection\] event=no-model/,
  /Failed to load resource: net::ERR_NAME_NOT_RESOLVED/,
];
export const isHarmless = (text: string) => HARMLESS_CONSOLE.some((r) => r.test(text));

export interface OpenOptions {
  /** every console message; called before the harmless-noise filter */
  onConsole?: (msg: ConsoleMessage) => void;
  /** how long to wait for the workbench to render */
  timeoutMs: number;
  /** write the page console to stdout (default true; noise filtered) */
  forwardConsole?: boolean;
  /** wait for the workbench before returning (default true) */
  waitForWorkbench?: boolean;
}

export interface Workbench {
  page: Page;
  context: BrowserContext;
  /** the exit code the extension development host reports (codeAutomationExit) */
  exitCode: Promise<number>;
  /** milliseconds from goto to a rendered workbench (NaN when not waited for) */
  readyMs: number;
  close(): Promise<void>;
}

/** Opens `url` (a code-server workbench) in a fresh headless Chromium profile. */
export async function openWorkbench(url: string, opts: OpenOptions): Promise<Workbench> {
  // playwright kills the browsers it launched when this process ends; the
  // profile is ours to remove, at exit too: kill the browser first, or it
  // writes into the profile again after it was removed
  const profile = e2eTmpDir('chromium');
  const userDataDir = profile.dir;
  const cancelKill = atExit(() => killChromiumUsing(userDataDir));
  let context: BrowserContext | undefined;
  const close = async () => {
    try {
      await context?.close();
    } catch {
      /* already gone */
    }
    cancelKill();
    killChromiumUsing(userDataDir); // normally none left after close()
    profile.remove();
  };
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: e2ePaths().chromium,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const forward = opts.forwardConsole ?? true;
    page.on('console', (msg) => {
      opts.onConsole?.(msg);
      // the workbench logs as console.log('%c INFO', 'color: #33f', text)
      const text = msg.text().replace(/^%c\s*([A-Z]+)\s+color:\s*#[0-9a-fA-F]+\s*/, '$1 ');
      if (forward && !isHarmless(text)) process.stdout.write(`[workbench ${msg.type()}] ${text}\n`);
    });
    page.on('pageerror', (err) => {
      if (forward && !isHarmless(String(err))) process.stdout.write(`[workbench pageerror] ${err.message}\n`);
    });
    let resolveExit!: (code: number) => void;
    const exitCode = new Promise<number>((r) => (resolveExit = r));
    // must exist before the workbench loads: the test run's exit code arrives here
    await page.exposeFunction('codeAutomationExit', (code: unknown) => {
      resolveExit(typeof code === 'number' ? code : Number(code) || 1);
    });
    const t0 = Date.now();
    await page.goto(url, { timeout: opts.timeoutMs });
    let readyMs = NaN;
    if (opts.waitForWorkbench ?? true) {
      await waitForWorkbench(page, opts.timeoutMs);
      readyMs = Date.now() - t0;
    }
    return { page, context, exitCode, readyMs, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * SIGKILLs every Chromium process running with this profile folder: the
 * browser's whole process group (playwright starts it as a group leader),
 * and any of its helpers found by their command line (they rewrite it with
 * spaces instead of NULs).
 */
function killChromiumUsing(userDataDir: string): void {
  const flag = `--user-data-dir=${userDataDir}`;
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return;
  }
  for (const pid of pids) {
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const at = cmdline.indexOf(flag);
    const next = cmdline.charAt(at + flag.length);
    if (at < 0 || !(next === '' || next === '\0' || next === ' ')) continue;
    const n = Number(pid);
    for (const target of cmdline.includes('--type=') ? [n] : [-n, n]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Waits until the workbench has rendered its status bar (~7 s on a cold server). */
export async function waitForWorkbench(page: Page, timeoutMs: number): Promise<void> {
  try {
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new Error(`the VS Code workbench did not render within ${Math.round(timeoutMs / 1000)} s.`);
  }
}

/**
 * Runs a command from the command palette: F1, type `title`, wait until the
 * focused row is that command, Enter. The palette lists an extension's
 * commands only once the extension host has registered them, and a palette
 * opened before that does not refresh: so it is closed and opened again
 * until the command shows up (or `timeoutMs` passes).
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  // a row whose label is exactly the title (not one that merely contains it)
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(…|\\s|$)`);
  const row = widget.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact }) }).first();
  const deadline = Date.now() + timeoutMs;
  let opened = false;
  for (let attempt = 1; ; attempt++) {
    if (await input.isVisible()) await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 3000 });
      opened = true;
      await input.fill(`>${title}`);
      await row.waitFor({ state: 'visible', timeout: Math.min(3000 * attempt, 10_000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        if (!opened) throw new Error(`the command palette did not open (F1) within ${Math.round(timeoutMs / 1000)} s.`);
        const seen = await widget.locator('.monaco-list-row').allInnerTexts().catch(() => []);
        await page.keyboard.press('Escape');
        throw new Error(`the command palette has no command "${title}" after ${Math.round(timeoutMs / 1000)} s (it lists: ${seen.slice(0, 5).join(' | ') || 'nothing'}).`);
      }
    }
  }
  // the palette may focus another row first (a longer title that sorts ahead)
  if ((await row.getAttribute('class'))?.includes('focused')) await page.keyboard.press('Enter');
  else await row.click();
  await widget.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/** The active webview's content frame. */
/** The first frame of the page where `probe` is true (webviews live in nested frames). */
export async function waitForFrame(page: Page, probe: () => boolean, timeoutMs: number): Promise<Frame> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) if (await f.evaluate(probe).catch(() => false)) return f;
    if (Date.now() > end) throw new Error(`no frame of the workbench became ready within ${timeoutMs / 1000} s`);
    await page.waitForTimeout(250);
  }
}

export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview').frameLocator('#active-frame');
}

/** The notification toast that contains `text`, once it has faded in completely. */
export function notification(page: Page, text: string | RegExp) {
  return page.locator('.notifications-toasts .notification-toast.notification-fade-in-done', { hasText: text });
}

/**
 * Waits until a notification containing `text` is visible and returns it.
 * With `--vscode-option enable-smoke-test-driver` (which startCodeServer
 * passes by default, for the test payload) the workbench shows no toasts:
 * notifications only go to the notifications center. So when no toast shows
 * up within a moment, this opens the center and finds it there.
 */
export async function showNotification(page: Page, text: string | RegExp, timeoutMs = 30_000): Promise<Locator> {
  const toast = notification(page, text).first();
  try {
    await toast.waitFor({ state: 'visible', timeout: 2000 });
    return toast;
  } catch {
    /* no toast: look in the center */
  }
  const item = page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
  if (!(await item.isVisible())) await runCommand(page, 'Notifications: Show Notifications', timeoutMs);
  try {
    await item.waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    const seen = await page.locator('.notifications-center .notification-list-item').allInnerTexts().catch(() => []);
    throw new Error(`no notification "${text}" appeared within ${Math.round(timeoutMs / 1000)} s (the center lists: ${seen.join(' | ') || 'nothing'}).`);
  }
  return item;
}

/** Saves a screenshot of the whole page, creating the folder. */
export async function screenshot(page: Page, file: string): Promise<string> {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  await page.screenshot({ path: file });
  return path.resolve(file);
}
