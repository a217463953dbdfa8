/**
 * Canvas colours from VS Code's theme. The webview reads --vscode-* CSS
 * variables (through a getter, so this stays pure); a variable a theme
 * leaves unset falls back to VS Code's own default for that theme kind.
 * Shades the theme has no variable for are mixes of its background and
 * foreground, so they follow any theme.
 */

export type ThemeKind = 'light' | 'dark' | 'hc-dark' | 'hc-light';

/** The theme kind from the body's classes (VS Code sets vscode-light, vscode-dark, vscode-high-contrast[-light]). */
export function themeKindOf(classes: string): ThemeKind {
  const c = ` ${classes} `;
  if (c.includes(' vscode-high-contrast-light ')) return 'hc-light';
  if (c.includes(' vscode-high-contrast ')) return 'hc-dark';
  if (c.includes(' vscode-light ')) return 'light';
  return 'dark';
}

export interface Palette {
  kind: ThemeKind;
  background: string;
  foreground: string;
  muted: string;
  laneBackground: string;
  grid: string;
  busy: string;
  free: string;
  pad: string;
  segment: string;
  external: string;
  hole: string;
  holeStroke: string;
  /** Alternating colours of IOVA-contiguous runs. */
  runs: [string, string];
  warning: string;
  warningFill: string;
  memzone: string;
  mempool: string;
  selection: string;
  hover: string;
  /** Outline for every bar (high contrast themes), or null. */
  contrast: string | null;
  font: string;
  monoFont: string;
}

type Defaults = Record<string, string>;

// VS Code's built-in defaults (Default Dark+/Light+ Modern, High Contrast)
const DEFAULTS: Record<ThemeKind, Defaults> = {
  dark: {
    'editor-background': '#1f1f1f',
    'editor-foreground': '#cccccc',
    descriptionForeground: '#9d9d9d',
    'charts-blue': '#3794ff',
    'charts-green': '#89d185',
    'charts-yellow': '#cca700',
    'charts-orange': '#d18616',
    'charts-purple': '#b180d7',
    'charts-red': '#f14c4c',
    'editorWarning-foreground': '#cca700',
    focusBorder: '#0078d4',
    contrastBorder: '',
  },
  light: {
    'editor-background': '#ffffff',
    'editor-foreground': '#3b3b3b',
    descriptionForeground: '#3b3b3b',
    'charts-blue': '#1a85ff',
    'charts-green': '#388a34',
    'charts-yellow': '#bf8803',
    'charts-orange': '#d18616',
    'charts-purple': '#652d90',
    'charts-red': '#e51400',
    'editorWarning-foreground': '#bf8803',
    focusBorder: '#005fb8',
    contrastBorder: '',
  },
  'hc-dark': {
    'editor-background': '#000000',
    'editor-foreground': '#ffffff',
    descriptionForeground: '#ffffff',
    'charts-blue': '#3794ff',
    'charts-green': '#89d185',
    'charts-yellow': '#ffd370',
    'charts-orange': '#d18616',
    'charts-purple': '#b180d7',
    'charts-red': '#f48771',
    'editorWarning-foreground': '#ffd370',
    focusBorder: '#f38518',
    contrastBorder: '#6fc3df',
  },
  'hc-light': {
    'editor-background': '#ffffff',
    'editor-foreground': '#292929',
    descriptionForeground: '#292929',
    'charts-blue': '#0f4a85',
    'charts-green': '#374e06',
    'charts-yellow': '#895503',
    'charts-orange': '#b5200d',
    'charts-purple': '#652d90',
    'charts-red': '#b5200d',
    'editorWarning-foreground': '#895503',
    focusBorder: '#006bbd',
    contrastBorder: '#0f4a85',
  },
};

const FONT = '-apple-system, BlinkMacSystemFont, "Segoe WPC", "Segoe UI", "Ubuntu", "Droid Sans", sans-serif';
const MONO = '"Droid Sans Mono", "monospace", monospace';

type Rgba = [number, number, number, number];

/** Parses #rgb, #rrggbb, #rrggbbaa and rgb()/rgba(); null otherwise. */
export function parseColor(s: string): Rgba | null {
  const t = s.trim().toLowerCase();
  let m = /^#([0-9a-f]{3,8})$/.exec(t);
  if (m) {
    const h = m[1]!;
    if (h.length === 3 || h.length === 4) {
      const v = [...h].map((c) => parseInt(c + c, 16));
      return [v[0]!, v[1]!, v[2]!, h.length === 4 ? v[3]! / 255 : 1];
    }
    if (h.length === 6 || h.length === 8) {
      const v = [0, 2, 4, 6].map((i) => parseInt(h.slice(i, i + 2), 16));
      return [v[0]!, v[1]!, v[2]!, h.length === 8 ? v[3]! / 255 : 1];
    }
    return null;
  }
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(t);
  if (m) {
    const a = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return [+m[1]!, +m[2]!, +m[3]!, a];
  }
  return null;
}

const css = ([r, g, b, a]: Rgba) => (a >= 1 ? `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})` : `rgba(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}, ${+a.toFixed(3)})`);

/** a mixed toward b by t (0: a, 1: b), opaque. */
export function mix(a: string, b: string, t: number): string {
  const x = parseColor(a);
  const y = parseColor(b);
  if (!x || !y) return t < 0.5 ? a : b;
  return css([x[0] + (y[0] - x[0]) * t, x[1] + (y[1] - x[1]) * t, x[2] + (y[2] - x[2]) * t, 1]);
}

/** Black or white, whichever reads better on the colour. */
export function textOn(c: string): string {
  const x = parseColor(c);
  if (!x) return '#000000';
  const lin = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const l = 0.2126 * lin(x[0]) + 0.7152 * lin(x[1]) + 0.0722 * lin(x[2]);
  return l > 0.18 ? '#000000' : '#ffffff';
}

const alphaMemo = new Map<string, string>();

/** The colour with alpha a (memoised: renders ask for the same few every frame). */
export function alpha(c: string, a: number): string {
  const key = `${c}|${a}`;
  let out = alphaMemo.get(key);
  if (out === undefined) {
    const x = parseColor(c);
    out = x ? css([x[0], x[1], x[2], a * x[3]]) : c;
    if (alphaMemo.size > 512) alphaMemo.clear();
    alphaMemo.set(key, out);
  }
  return out;
}

/**
 * The palette for a theme. `get(name)` returns the value of
 * `--vscode-${name}` ('' when unset).
 */
export function resolvePalette(get: (name: string) => string, kind: ThemeKind): Palette {
  const d = DEFAULTS[kind];
  const v = (name: string, ...alts: string[]): string => {
    for (const n of [name, ...alts]) {
      const x = get(n).trim();
      if (x && parseColor(x)) return x;
    }
    return d[name] ?? '';
  };
  const bg = v('editor-background');
  const fg = v('editor-foreground', 'foreground');
  const hc = kind === 'hc-dark' || kind === 'hc-light';
  const contrast = v('contrastBorder');
  const warning = v('editorWarning-foreground');
  return {
    kind,
    background: bg,
    foreground: fg,
    muted: v('descriptionForeground'),
    laneBackground: mix(bg, fg, hc ? 0 : 0.045),
    grid: mix(bg, fg, hc ? 0.3 : 0.14),
    busy: v('charts-blue'),
    free: v('charts-green'),
    pad: mix(bg, fg, 0.45),
    segment: mix(bg, fg, hc ? 0.7 : 0.4),
    external: v('charts-purple'),
    hole: mix(bg, fg, hc ? 0 : 0.07),
    holeStroke: mix(bg, fg, hc ? 0.45 : 0.16),
    runs: [v('charts-orange'), mix(v('charts-orange'), bg, 0.5)],
    warning,
    warningFill: alpha(warning, hc ? 0.35 : 0.2),
    memzone: v('charts-orange'),
    mempool: v('charts-yellow'),
    selection: v('focusBorder'),
    hover: fg,
    contrast: hc && contrast ? contrast : null,
    font: get('font-family').trim() || FONT,
    monoFont: get('editor-font-family').trim() || MONO,
  };
}
