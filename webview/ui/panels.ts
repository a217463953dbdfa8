/**
 * The DOM around the canvas: lane headers (with the data-* attributes tests
 * and assistive tech read), the tooltip, the details pane, the legend and
 * the status line. Text from snapshots goes in with textContent only.
 */
import type { StatusLevel } from '../../common/webview-protocol';
import type { Description, LaneLabel } from '../model/describe';
import type { LaneGeom } from '../model/layout';
import type { Palette } from '../model/theme';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function byId<T extends HTMLElement | SVGElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as unknown as T;
}

/** What each header shows now: rewriting the DOM only where it changed keeps a delta cheap. */
const shown = new WeakMap<HTMLElement, { sig: string; tip: string; title: string; sub: string; ext: string }>();

/** The newest onSelect per header root: a header made for an earlier layout must not call that layout's. */
const selectFor = new WeakMap<HTMLElement, (lane: number) => void>();

/** One header per lane, absolutely placed beside the canvas row it names. */
export function renderHeaders(root: HTMLElement, lanes: readonly LaneGeom[], labels: readonly LaneLabel[], height: number, onSelect: (lane: number) => void): void {
  selectFor.set(root, onSelect);
  root.style.height = `${height}px`;
  while (root.children.length > lanes.length) root.lastElementChild!.remove();
  lanes.forEach((g, i) => {
    let h = root.children[i] as HTMLDivElement | undefined;
    if (!h) {
      h = el('div', 'lane-header');
      h.setAttribute('role', 'button');
      h.tabIndex = -1;
      h.append(el('div', 'lane-title'), el('div', 'lane-sub'), el('div', 'lane-ext'));
      h.addEventListener('click', () => selectFor.get(root)?.(Number(h!.dataset.lane)));
      root.append(h);
    }
    const label = labels[i]!;
    const prev = shown.get(h);
    // the geometry and identity, then each text on its own: a delta usually changes one subtitle
    const sig = `${i}|${g.kind}|${g.key}|${g.y}|${g.h}|${label.state}|${!!label.external}`;
    if (prev?.sig !== sig) {
      h.dataset.lane = String(i);
      h.dataset.kind = g.kind;
      h.dataset.index = String(g.key);
      h.dataset.state = label.state;
      h.dataset.external = String(!!label.external);
      h.className = `lane-header lane-${g.kind}${label.state === 'ok' ? '' : ' warning'}`;
      h.style.top = `${g.y}px`;
      h.style.height = `${g.h}px`;
    }
    const tip = [label.title, label.subtitle, label.external, label.free, label.warning].filter(Boolean).join('\n');
    if (prev?.tip !== tip) h.title = tip;
    const [title, sub, ext] = Array.from(h.children) as HTMLElement[];
    const titleSig = `${label.title}|${label.state}`;
    if (prev?.title !== titleSig) {
      title!.textContent = label.title;
      if (label.state !== 'ok') title!.append(el('span', 'badge', label.state));
    }
    if (prev?.sub !== label.subtitle) sub!.textContent = label.subtitle;
    const extText = label.external ?? (label.warning && g.kind === 'heap' ? 'elements unavailable' : (label.free ?? ''));
    if (prev?.ext !== extText) ext!.textContent = extText;
    shown.set(h, { sig, tip, title: titleSig, sub: label.subtitle, ext: extText });
  });
}

function rows(dl: HTMLElement, d: Description, max = Infinity): void {
  dl.replaceChildren();
  for (const [k, v] of d.rows.slice(0, max)) dl.append(el('dt', undefined, k), el('dd', undefined, v));
}

export class Tooltip {
  constructor(private readonly root: HTMLElement) {}

  /** Shows descriptions (the item, and the bin it is merged into) near (x, y) client px. */
  show(x: number, y: number, parts: Description[]): void {
    const r = this.root;
    r.replaceChildren();
    for (const d of parts) {
      r.append(el('div', 'tip-title', d.title));
      const dl = el('dl', 'tip-rows');
      rows(dl, d, 7);
      r.append(dl);
      if (d.warning) r.append(el('div', 'tip-warning', d.warning));
    }
    r.hidden = false;
    const w = r.offsetWidth;
    const h = r.offsetHeight;
    const left = x + 14 + w > window.innerWidth ? Math.max(4, x - 14 - w) : x + 14;
    const top = y + 16 + h > window.innerHeight ? Math.max(4, y - 12 - h) : y + 16;
    r.style.left = `${left}px`;
    r.style.top = `${top}px`;
  }

  hide(): void {
    this.root.hidden = true;
  }

  text(): string {
    return this.root.hidden ? '' : (this.root.textContent ?? '');
  }
}

export class Details {
  private readonly title = byId('details-title');
  private readonly warning = byId('details-warning');
  private readonly rows = byId('details-rows');

  constructor(private readonly root: HTMLElement, onClose: () => void) {
    byId('details-close').addEventListener('click', onClose);
  }

  show(d: Description): void {
    this.title.textContent = d.title;
    this.warning.textContent = d.warning ?? '';
    this.warning.hidden = !d.warning;
    rows(this.rows, d);
    this.root.hidden = false;
  }

  hide(): void {
    this.root.hidden = true;
  }

  get open(): boolean {
    return !this.root.hidden;
  }
}

/** The legend: what each colour and pattern means, in the theme's colours. */
export function renderLegend(root: HTMLElement, p: Palette): void {
  const items: [string, string, string?][] = [
    ['busy', p.busy],
    ['free', p.free],
    ['pad', p.pad],
    ['segment', p.segment],
    ['external', p.external, 'stripes'],
    ['unallocated', p.hole, 'hatch'],
    ['IOVA run', p.runs[0]],
    ['memzone', p.memzone],
    ['mempool', p.mempool],
    ['orphaned', p.warning, 'hatch'],
  ];
  root.replaceChildren(
    ...items.map(([name, color, pattern]) => {
      const li = el('li', 'legend-item');
      const sw = el('span', `swatch${pattern ? ` swatch-${pattern}` : ''}`);
      sw.style.backgroundColor = color;
      if (pattern === 'hatch') sw.style.borderColor = name === 'orphaned' ? p.warning : p.holeStroke;
      li.append(sw, document.createTextNode(name));
      return li;
    }),
  );
}

export function setStatus(root: HTMLElement, text: string, level: StatusLevel): void {
  root.textContent = text;
  root.dataset.level = level;
}
