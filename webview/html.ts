/**
 * The Memory Map page's HTML, for the extension (and the browser tests) to
 * serve. Its Content-Security-Policy allows only the bundle and stylesheet
 * named here (through the webview's cspSource) and the one nonce: no inline
 * script, no inline handler, no eval. The markup is static; everything
 * taken from a snapshot is put in later with textContent.
 */
import type { MapViewState } from '../common/webview-protocol';

export interface HtmlOptions {
  /** webview.cspSource: the origin the webview loads local resources from. */
  cspSource: string;
  /** A fresh random nonce per page (see newNonce). */
  nonce: string;
  scriptUri: string;
  styleUri: string;
  /** View state to start from when the webview has none saved (layout, zoom, selection). */
  initialState?: MapViewState | null;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** JSON that cannot end its <script> element or break out of it. */
function inertJson(x: unknown): string {
  return JSON.stringify(x)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** 128 random bits, base64url: a nonce for one page load. */
export function newNonce(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The page around `body`: the CSP, the stylesheet, the bundle. */
function page(o: HtmlOptions, title: string, body: string): string {
  // a nonce that could carry a quote or space would widen the policy
  if (!/^[A-Za-z0-9+/_=-]{16,}$/.test(o.nonce)) throw new Error('renderHtml: the nonce must be 16 or more base64 characters.');
  // VS Code's cspSource may list several sources separated by spaces (code-server does)
  if (/[;,\n\r]/.test(o.cspSource)) throw new Error('renderHtml: cspSource must be source expressions, without semicolons or line breaks.');
  if (/'(unsafe-|strict-dynamic|nonce-|sha\d)/i.test(o.cspSource)) throw new Error('renderHtml: cspSource must name sources, not keywords that widen the policy.');
  const n = o.nonce;
  const csp = [`default-src 'none'`, `img-src ${o.cspSource} data:`, `style-src ${o.cspSource} 'nonce-${n}'`, `script-src 'nonce-${n}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(o.styleUri)}" nonce="${n}">
<title>${title}</title>
</head>
<body>
${body}<script nonce="${n}" src="${attr(o.scriptUri)}"></script>
</body>
</html>
`;
}

export function renderHtml(o: HtmlOptions): string {
  const initial = o.initialState ? `\n<script type="application/json" id="memscope-initial-state">${inertJson(o.initialState)}</script>` : '';
  return page(
    o,
    'Memory Map',
    `<div id="app" class="app">
  <header class="toolbar">
    <div class="target">
      <span id="target-title" class="target-title">Memory Map</span>
      <span id="target-meta" class="target-meta"></span>
    </div>
    <div class="layout-switch" role="radiogroup" aria-label="Layout">
      <button type="button" role="radio" aria-checked="true" data-layout="folded" title="By address, every lane on one axis; address space that holds nothing folds to a break that says its size">Folded</button>
      <button type="button" role="radio" aria-checked="false" data-layout="linear" title="By address at true scale across DPDK's reserved address space; only space outside every memseg list folds">Linear</button>
      <button type="button" role="radio" aria-checked="false" data-layout="compact" title="Each lane over the whole width by bytes: free space keeps its share">Compact</button>
      <button type="button" role="radio" aria-checked="false" data-layout="index" title="Each lane over the whole width by element number: every item the same width">By index</button>
    </div>
    <button type="button" id="reset-zoom" class="tool" title="Show everything (Home)">Reset zoom</button>
    <ul id="legend" class="legend" aria-label="Legend"></ul>
  </header>
  <main class="body">
    <section id="lanes-scroll" class="lanes-scroll" aria-label="Memory map">
      <div class="rulers">
        <div class="ruler"><div id="range-label" class="ruler-corner"></div><svg id="overview" class="overview" aria-hidden="true"></svg></div>
        <div class="ruler"><div id="axis-label" class="ruler-corner"></div><svg id="axis" class="axis" aria-hidden="true"></svg></div>
      </div>
      <div class="lanes">
        <div id="lane-headers" class="lane-headers"></div>
        <div id="plot" class="plot" tabindex="0" role="application" aria-roledescription="memory map" aria-label="Memory map. Arrow keys move the selection, plus and minus zoom, Home shows everything." aria-describedby="details-title">
          <canvas id="canvas"></canvas>
          <svg id="plot-overlay" class="plot-overlay" aria-hidden="true"></svg>
          <div id="empty" class="empty">Waiting for a snapshot…</div>
        </div>
      </div>
    </section>
    <aside id="details" class="details" aria-live="polite" hidden>
      <header class="details-head">
        <h2 id="details-title"></h2>
        <button type="button" id="details-close" class="icon" aria-label="Close details" title="Close (Escape)">×</button>
      </header>
      <p id="details-warning" class="details-warning" hidden></p>
      <dl id="details-rows" class="details-rows"></dl>
    </aside>
  </main>
  <footer class="statusbar">
    <span id="status" class="status" role="status"></span>
    <span id="stats" class="stats"></span>
  </footer>
</div>
<div id="tooltip" class="tooltip" role="tooltip" hidden></div>${initial}
`,
  );
}

/** The Leaks panel: timeline, snapshots, diff, suspected leaks (webview/leaks/). */
export function renderLeaksHtml(o: HtmlOptions): string {
  return page(o, 'Leaks', LEAKS_BODY);
}

const LEAKS_BODY = `<div id="leaks" class="leaks-app">
  <header class="toolbar">
    <div class="target">
      <span id="target-title" class="target-title">Leaks</span>
      <span id="target-meta" class="target-meta"></span>
    </div>
    <button type="button" id="take-snapshot" class="tool" title="Save the live state as a named snapshot">Take Snapshot</button>
    <button type="button" id="reset-baseline" class="tool" title="Start leak hunting from now: what exists now is not suspected">Reset Baseline</button>
  </header>
  <main class="leaks-body">
    <section class="leaks-section" aria-labelledby="h-timeline">
      <h2 id="h-timeline">Timeline</h2>
      <p class="hint">Drag across a chart to compare two moments: the metrics change at once, and the snapshots taken in between are compared element by element.</p>
      <div id="charts" class="charts"></div>
      <p id="span-summary" class="span-summary" role="status"></p>
    </section>
    <section class="leaks-section" aria-labelledby="h-suspects">
      <h2 id="h-suspects">Suspected leaks</h2>
      <p id="suspects-summary" class="hint"></p>
      <button type="button" id="refresh-suspects" class="tool">Refresh</button>
      <table id="suspects" class="grid" aria-labelledby="h-suspects"><thead></thead><tbody></tbody></table>
      <table id="suspect-pools" class="grid" aria-label="Suspected mempools"><thead></thead><tbody></tbody></table>
    </section>
    <section class="leaks-section" aria-labelledby="h-snapshots">
      <h2 id="h-snapshots">Snapshots</h2>
      <table id="snapshots" class="grid" aria-labelledby="h-snapshots"><thead></thead><tbody></tbody></table>
      <button type="button" id="compare" class="tool" disabled>Compare the two checked</button>
    </section>
    <section class="leaks-section" aria-labelledby="h-diff">
      <h2 id="h-diff">Diff</h2>
      <p id="diff-summary" class="hint">Compare two snapshots to see what was allocated and freed between them.</p>
      <div class="diff-tools">
        <input id="diff-filter" type="search" placeholder="Filter: heap, owner, address, size class…" aria-label="Filter the diff">
        <button type="button" id="export-md" class="tool" disabled>Export Markdown</button>
        <button type="button" id="export-csv" class="tool" disabled>Export CSV</button>
      </div>
      <table id="diff" class="grid" aria-labelledby="h-diff"><thead></thead><tbody></tbody></table>
      <p id="diff-more" class="hint"></p>
    </section>
  </main>
  <footer class="statusbar">
    <span id="status" class="status" role="status"></span>
  </footer>
</div>
<div id="tooltip" class="tooltip" role="tooltip" hidden></div>
`;
