/**
 * Reads the theme VS Code gives the page: the --vscode-* variables on
 * <html>'s style and the vscode-light / vscode-dark /
 * vscode-high-contrast class on <body>. VS Code changes both in place when
 * the user switches theme, so a MutationObserver re-reads them; a `theme`
 * message does the same on request.
 */
import { type Palette, resolvePalette, themeKindOf } from '../model/theme';

export function readPalette(): Palette {
  const root = getComputedStyle(document.documentElement);
  const body = getComputedStyle(document.body);
  const get = (name: string) => body.getPropertyValue(`--vscode-${name}`) || root.getPropertyValue(`--vscode-${name}`);
  return resolvePalette(get, themeKindOf(document.body.className));
}

/** Calls `changed` (at most once a frame) whenever the theme's classes or variables change. */
export function watchTheme(changed: () => void): void {
  let queued = false;
  const fire = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      changed();
    });
  };
  const mo = new MutationObserver(fire);
  mo.observe(document.body, { attributes: true, attributeFilter: ['class', 'style', 'data-vscode-theme-kind'] });
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ['class', 'style'] });
}
