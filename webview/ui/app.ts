/**
 * The Memory Map page: takes validated messages, keeps the model and the
 * view (layout, shared d3-zoom transform, selection), and redraws on the
 * next animation frame when anything changes. Snapshots and deltas are
 * drawn at once, so their cost is measured as one piece.
 */
import { type D3ZoomEvent, select, type Selection, zoom, type ZoomBehavior, zoomIdentity, type ZoomTransform } from 'd3';
import type { ColumnDelta } from '../../common/delta';
import type { CompactColumns } from '../../common/columns';
import type { Snapshot } from '../../common/snapshot';
import { MAP_LAYOUTS, type MapLayoutKind, VIEW_STATE_VERSION, type MapViewState, type SelectKind, type StatusLevel, explainToWebview, validateToWebview } from '../../common/webview-protocol';
import { describe, describeBin, type Description, laneLabel } from '../model/describe';
import { fmtCount, fmtTime, hexOf } from '../model/format';
import { hitTest, type Hit, type Item, itemAtAddress, itemRange, laneOf, resolveKey, selectKey, stepItem, stepLane } from '../model/items';
import { addrToWorld, byAddress, computeLayout, type Layout, LayoutCache, worldToAddr } from '../model/layout';
import type { View } from '../model/lod';
import { applyModelDelta, buildModel, type MapModel } from '../model/map';
import type { Palette } from '../model/theme';
import { Axis, Overview } from './axis';
import { connectHost, type Host } from './host';
import { byId, Details, renderHeaders, renderLegend, setStatus, Tooltip } from './panels';
import { warmMapPath } from './warm';
import { type DrawStats, Renderer } from './render';
import { readPalette, watchTheme } from './theme';

export interface MapStats extends DrawStats {
  renders: number;
  /** The last render (axis, lanes, overview), ms. */
  lastRenderMs: number;
  /** Message received → snapshot validated, modelled, laid out and drawn, ms. */
  snapshotMs: number;
  /** Message received → delta validated, applied and drawn, ms. */
  lastDeltaMs: number;
  /** The part of lastDeltaMs before drawing: validation, model, layout. */
  lastDeltaApplyMs: number;
  snapshots: number;
  deltas: number;
  dropped: number;
  layout: MapLayoutKind;
  /** The view's ends: addresses (linear) or world units (compact). */
  view: { from: string; to: string; w0: number; w1: number };
  /** d3-zoom's transform of the x axis. */
  k: number;
  x: number;
}

/** What hitTest reports to tests: plain data. */
export interface HitInfo {
  lane: { kind: string; index: number; title: string };
  kind: string | null;
  key: string | null;
  title: string;
  text: string;
  rows: Record<string, string>;
  bin?: { count: number; busy: number; free: number; pad: number };
}

export interface LaneInfo {
  kind: 'memseg' | 'heap';
  /** The list's index or the heap's id. */
  index: number;
  title: string;
  state: string;
  external: string | null;
  warning: string | null;
  items: number;
  /** Heaps: free bytes / total bytes, from the snapshot; null for lists. */
  freeShare: number | null;
  visible: number;
  bars: number;
  bins: number;
  /** Client px of the lane's plot area and of its bars. */
  left: number;
  width: number;
  top: number;
  height: number;
  barTop: number;
  barHeight: number;
}

const FRAME_HISTORY = 600;

export class MapApp {
  private model: MapModel | null = null;
  private layout: Layout | null = null;
  private layoutKind: MapLayoutKind = 'folded';
  private readonly cache = new LayoutCache();
  private transform: ZoomTransform = zoomIdentity;
  private selected: Item | null = null;
  private selectedKey: { kind: SelectKind; key: string } | null = null;
  private hovered: Item | null = null;
  private flashItem: Item | null = null;
  private flashTimer = 0;
  private seq: number | null = null;
  private palette: Palette;
  private px = 0;
  private raf = 0;
  private saveTimer = 0;
  private restored: MapViewState | null;
  private readonly frameTimes: number[] = [];
  private readonly st: MapStats;

  private readonly host: Host;
  private readonly plot = byId<HTMLDivElement>('plot');
  private readonly scroller = byId('lanes-scroll');
  private readonly headers = byId('lane-headers');
  private readonly renderer = new Renderer(byId<HTMLCanvasElement>('canvas'));
  private readonly axis = new Axis(byId<SVGSVGElement>('axis'));
  private readonly overview: Overview;
  private readonly flash: Selection<SVGRectElement, unknown, null, undefined>;
  private readonly tooltip = new Tooltip(byId('tooltip'));
  private readonly details: Details;
  private readonly zoomer: ZoomBehavior<HTMLDivElement, unknown>;
  private readonly plotSel: Selection<HTMLDivElement, unknown, null, undefined>;

  constructor() {
    this.host = connectHost();
    this.restored = this.host.loadState();
    if (this.restored) this.layoutKind = this.restored.layout;
    this.palette = readPalette();
    this.st = { lanes: 0, bars: 0, bins: 0, spans: 0, visible: 0, renders: 0, lastRenderMs: 0, snapshotMs: 0, lastDeltaMs: 0, lastDeltaApplyMs: 0, snapshots: 0, deltas: 0, dropped: 0, layout: this.layoutKind, view: { from: '', to: '', w0: 0, w1: 0 }, k: 1, x: 0 };
    this.overview = new Overview(
      byId<SVGSVGElement>('overview'),
      (w0, w1) => this.setView(w0, w1),
      (w) => {
        const v = this.view();
        this.setView(w - (v.w1 - v.w0) / 2, w + (v.w1 - v.w0) / 2);
      },
    );
    this.flash = select(byId<SVGSVGElement>('plot-overlay')).append('rect').attr('class', 'flash').attr('rx', 3);
    this.details = new Details(byId('details'), () => this.select(null));
    this.plotSel = select(this.plot);
    this.zoomer = zoom<HTMLDivElement, unknown>()
      .scaleExtent([1, 1])
      // a sideways wheel pans (below); everything else is d3-zoom's
      .filter((ev: Event) => {
        if (ev.type === 'wheel') {
          const w = ev as WheelEvent;
          return Math.abs(w.deltaY) >= Math.abs(w.deltaX);
        }
        return !(ev as MouseEvent).ctrlKey && !(ev as MouseEvent).button;
      })
      .on('zoom', (ev: D3ZoomEvent<HTMLDivElement, unknown>) => {
        this.transform = ev.transform;
        this.requestRender();
        this.saveSoon();
      });
    this.plotSel.call(this.zoomer).on('dblclick.zoom', null);
    this.wire();
    renderLegend(byId('legend'), this.palette);
    this.syncLayoutButtons();
    this.warmText();
    this.host.post({ type: 'ready' });
    // while the extension reads the first snapshot (unless it came first)
    requestIdleCallback(() => {
      if (!this.model) warmMapPath(this.layoutKind, Math.max(1, this.plot.clientWidth), this.palette);
    }, { timeout: 200 });
  }

  /** Sets up canvas text while the page waits for its first snapshot (the first fillText costs ~10 ms). */
  private warmText(): void {
    const c = document.createElement('canvas').getContext('2d');
    if (!c) return;
    for (const px of [10, 11, 12]) {
      c.font = `${px}px ${this.palette.font}`;
      c.fillText('0x7f2a40000000 – memzone ◀ ▶ …', 0, 10);
    }
  }

  // ----------------------------------------------------------- messages

  private wire(): void {
    window.addEventListener('message', (ev: MessageEvent) => this.onMessage(ev.data));
    watchTheme(() => this.applyTheme());
    new ResizeObserver(() => this.onResize()).observe(this.plot);
    this.plot.addEventListener('mousemove', (ev) => this.onHover(ev));
    this.plot.addEventListener('mouseleave', () => this.setHover(null));
    this.plot.addEventListener('click', (ev) => this.onClick(ev));
    this.plot.addEventListener('keydown', (ev) => this.onKey(ev));
    this.plot.addEventListener(
      'wheel',
      (ev) => {
        if (Math.abs(ev.deltaX) <= Math.abs(ev.deltaY)) return;
        ev.preventDefault();
        this.zoomer.translateBy(this.plotSel, -ev.deltaX / this.transform.k, 0);
      },
      { passive: false },
    );
    byId('reset-zoom').addEventListener('click', () => this.resetZoom());
    for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-layout]'))) {
      const kind = MAP_LAYOUTS.find((k) => k === b.dataset.layout);
      if (kind) b.addEventListener('click', () => this.setLayout(kind));
    }
  }

  onMessage(data: unknown): void {
    const t0 = performance.now();
    const msg = validateToWebview(data);
    if (!msg) {
      this.st.dropped++;
      this.host.log('warn', `dropped an invalid message (${explainToWebview(data) ?? 'invalid'})`);
      return;
    }
    switch (msg.type) {
      case 'snapshot':
        return this.setSnapshot(msg.snapshot, t0, msg.columns);
      case 'delta':
        return this.applyDelta(msg.seq, msg.delta, t0);
      case 'reveal':
        return this.reveal(msg.address);
      case 'status':
        return this.status(msg.text, msg.level);
      case 'theme':
        return this.applyTheme();
    }
  }

  private status(text: string, level: StatusLevel): void {
    setStatus(byId('status'), text, level);
  }

  private setSnapshot(s: Snapshot, t0: number, columns?: readonly CompactColumns[]): void {
    const firstOne = !this.model;
    this.model = buildModel(s, columns);
    this.seq = null;
    this.relayout();
    if (firstOne && this.restored) {
      const r = this.restored;
      this.restored = null;
      this.zoomer.transform(this.plotSel, zoomIdentity.translate(r.zoom.x, 0).scale(r.zoom.k));
      this.selectedKey = r.selected;
    }
    this.reselect();
    this.showTarget();
    byId('empty').hidden = true;
    this.renderNow();
    this.st.snapshots++;
    this.st.snapshotMs = performance.now() - t0;
  }

  private applyDelta(seq: number, d: ColumnDelta, t0: number): void {
    if (!this.model) {
      this.host.post({ type: 'ready' });
      return;
    }
    if (this.seq !== null && seq <= this.seq) return; // a late duplicate
    if (this.seq !== null && seq !== this.seq + 1) {
      // a delta went missing: the model no longer matches the target
      this.host.log('warn', `delta ${this.seq + 1} is missing (got ${seq}): asking for a snapshot`);
      this.seq = null;
      this.host.post({ type: 'ready' });
      return;
    }
    this.seq = seq;
    const anchor = this.viewAddresses();
    const change = applyModelDelta(this.model, d);
    if (change.lanes) {
      this.relayout();
      // keep the same addresses in view when the pieces moved
      if (anchor) this.setView(addrToWorld(this.layout!, anchor[0]), addrToWorld(this.layout!, anchor[1]));
    } else {
      this.layout = computeLayout(this.model, this.layoutKind, this.cache, this.px);
      this.updateHeaders();
    }
    this.hovered = null;
    this.reselect();
    this.showTarget();
    this.st.lastDeltaApplyMs = performance.now() - t0;
    this.renderNow();
    this.st.deltas++;
    this.st.lastDeltaMs = performance.now() - t0;
  }

  private viewAddresses(): [number, number] | null {
    if (!this.layout || !byAddress(this.layout.kind)) return null;
    const v = this.view();
    // the whole map in view stays the whole map
    if (v.w0 <= 0 && v.w1 >= this.layout.width) return null;
    const a = worldToAddr(this.layout, v.w0);
    const b = worldToAddr(this.layout, v.w1);
    return a !== null && b !== null ? [a, b] : null;
  }

  private showTarget(): void {
    const s = this.model!.snapshot;
    const t = s.target;
    setText('target-title', `${t.filePrefix}${t.pid !== null ? ` · pid ${t.pid}` : ''}${t.alive ? '' : ' (exited)'}`);
    const meta = byId('target-meta');
    const taken = new Date(s.takenAt);
    const time = Number.isNaN(taken.getTime()) ? s.takenAt : fmtTime(taken);
    // the release, the table it is read with, and where the primary lives when not here
    const how = `DPDK ${t.dpdkVersion}${t.layout ? ` (${t.layout})` : ''}${t.root ? ` · ${t.root}` : ''}`;
    setText('target-meta', `${how} · ${time}${s.warnings.length ? ` · ${s.warnings.length} warning${s.warnings.length > 1 ? 's' : ''}` : ''}`);
    const tip = s.warnings.join('\n');
    if (meta.title !== tip) meta.title = tip;
    if (meta.classList.contains('has-warnings') !== s.warnings.length > 0) meta.classList.toggle('has-warnings', s.warnings.length > 0);
  }

  // ------------------------------------------------------------- layout

  private relayout(): void {
    if (!this.model) return;
    this.px = Math.max(1, this.plot.clientWidth);
    this.layout = computeLayout(this.model, this.layoutKind, this.cache, this.px);
    const h = this.layout.height;
    this.plot.style.height = `${h}px`;
    this.renderer.resize(this.px, h);
    select(byId<SVGSVGElement>('plot-overlay')).attr('width', this.px).attr('height', h);
    this.zoomer
      .scaleExtent([1, Math.max(1, this.layout.width / this.layout.minSpan)])
      .extent([
        [0, 0],
        [this.px, h],
      ])
      .translateExtent([
        [0, 0],
        [this.px, h],
      ]);
    this.overview.setLayout(this.layout, this.px);
    this.updateHeaders();
    this.st.layout = this.layoutKind;
  }

  private updateHeaders(): void {
    const m = this.model!;
    const l = this.layout!;
    renderHeaders(
      this.headers,
      l.lanes,
      l.lanes.map((g) => laneLabel(m, g)),
      l.height,
      (lane) => {
        const g = l.lanes[lane];
        if (g) this.select(g.kind === 'memseg' ? { kind: 'memsegList', list: g.ref } : { kind: 'heap', heap: g.ref });
      },
    );
  }

  setLayout(kind: MapLayoutKind): void {
    if (kind === this.layoutKind) return;
    this.layoutKind = kind;
    this.syncLayoutButtons();
    if (!this.model) return;
    // the selection stays in view across the switch, else the whole map shows
    this.relayout();
    this.reselect();
    if (this.selected) this.zoomToItem(this.selected, 9);
    else this.resetZoom();
    this.renderNow();
    this.saveSoon();
  }

  private syncLayoutButtons(): void {
    for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-layout]'))) {
      b.setAttribute('aria-checked', String(b.dataset.layout === this.layoutKind));
    }
  }

  private onResize(): void {
    if (!this.model || !this.layout) return;
    const px = Math.max(1, this.plot.clientWidth);
    if (px === this.px) return;
    // the breaks are sized for the plot's width: keep the same addresses (or world span) in view
    const v = this.view();
    const anchor = this.viewAddresses();
    const whole = v.w0 <= 0 && v.w1 >= this.layout.width;
    this.relayout();
    if (anchor) this.setView(addrToWorld(this.layout!, anchor[0]), addrToWorld(this.layout!, anchor[1]));
    else if (!whole) this.setView(v.w0, v.w1);
    else this.resetZoom();
    this.renderNow();
  }

  private applyTheme(): void {
    this.palette = readPalette();
    renderLegend(byId('legend'), this.palette);
    this.requestRender();
  }

  // --------------------------------------------------------------- view

  view(): View {
    const t = this.transform;
    const W = this.layout?.width ?? 1;
    const px = this.px || 1;
    return { w0: (-t.x / t.k / px) * W, w1: ((px - t.x) / t.k / px) * W, px };
  }

  /** Zooms and pans so world [w0, w1] fills the plot (clamped to the zoom's extent). */
  setView(w0: number, w1: number): void {
    if (!this.layout) return;
    const W = this.layout.width;
    const k = Math.min(Math.max(1, W / Math.max(w1 - w0, 1e-9)), W / this.layout.minSpan);
    const c = (w0 + w1) / 2;
    const x = this.px / 2 - (k * c * this.px) / W;
    this.zoomer.transform(this.plotSel, zoomIdentity.translate(x, 0).scale(k));
  }

  resetZoom(): void {
    this.zoomer.transform(this.plotSel, zoomIdentity);
  }

  private zoomBy(f: number): void {
    const box = this.selected && this.renderer.itemBox({ model: this.model!, layout: this.layout!, view: this.view() }, this.selected);
    const cx = box && box.x + box.w > 0 && box.x < this.px ? box.x + box.w / 2 : this.px / 2;
    this.zoomer.scaleBy(this.plotSel, f, [cx, 0]);
  }

  /** Zooms so the item takes about 1/`share` of the width, centred. */
  private zoomToItem(it: Item, share: number): void {
    const [a, b] = itemRange(this.model!, this.layout!, it);
    const span = Math.max((b - a) * share, this.layout!.minSpan);
    const c = (a + b) / 2;
    this.setView(c - span / 2, c + span / 2);
  }

  /** Pans (keeping the zoom) so the item is in view. */
  private ensureVisible(it: Item): void {
    const [a, b] = itemRange(this.model!, this.layout!, it);
    const v = this.view();
    const span = v.w1 - v.w0;
    if (a >= v.w0 && b <= v.w1) return;
    if (b - a > span && a < v.w1 && b > v.w0) return;
    const c = (a + b) / 2;
    this.setView(c - span / 2, c + span / 2);
  }

  private scrollToLane(lane: number): void {
    const g = this.layout?.lanes[lane];
    if (!g) return;
    const top = this.plot.offsetTop + g.y;
    const rulers = (this.scroller.firstElementChild as HTMLElement | null)?.offsetHeight ?? 0;
    const s = this.scroller;
    if (top - rulers < s.scrollTop) s.scrollTop = top - rulers - 4;
    else if (top + g.h > s.scrollTop + s.clientHeight) s.scrollTop = top + g.h - s.clientHeight + 4;
  }

  // ------------------------------------------------------------ drawing

  requestRender(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.renderNow();
    });
  }

  renderNow(): void {
    if (!this.model || !this.layout) return;
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    const t0 = performance.now();
    const view = this.view();
    const focus = this.layout.lanes[this.selected ? laneOf(this.layout, this.selected) : -1] ?? this.layout.lanes.find((g) => g.kind === 'heap' && g.data.n);
    const ticks = this.axis.render(this.layout, view, focus);
    const drawn = this.renderer.draw({ model: this.model, layout: this.layout, view, palette: this.palette, selected: this.selected, hovered: this.hovered, ticks });
    this.overview.show(view);
    this.placeFlash(view);
    this.rangeLabels(view, focus?.kind === 'heap' ? this.model.heaps[focus.ref]!.header.name : '');
    const ms = performance.now() - t0;
    Object.assign(this.st, drawn);
    this.st.renders++;
    this.st.lastRenderMs = ms;
    this.st.k = this.transform.k;
    this.st.x = this.transform.x;
    this.frameTimes.push(ms);
    if (this.frameTimes.length > FRAME_HISTORY) this.frameTimes.shift();
    byId('stats').textContent = `${fmtCount(drawn.visible)} items in view · ${fmtCount(drawn.bars)} bars · ${fmtCount(drawn.bins)} bins · ${ms.toFixed(1)} ms`;
  }

  private rangeLabels(v: View, focusName: string): void {
    const l = this.layout!;
    if (byAddress(l.kind)) {
      const a = worldToAddr(l, v.w0);
      const b = worldToAddr(l, v.w1);
      this.st.view = { from: a === null ? '' : hexOf(Math.floor(a)), to: b === null ? '' : hexOf(Math.ceil(b)), w0: v.w0, w1: v.w1 };
      setText('axis-label', 'address');
    } else {
      this.st.view = { from: String(v.w0), to: String(v.w1), w0: v.w0, w1: v.w1 };
      setText('axis-label', l.kind === 'index' ? (focusName ? `${focusName} element #` : 'element #') : focusName ? `${focusName} bytes` : 'bytes');
    }
    setText('range-label', this.transform.k > 1.001 ? `zoom ×${this.transform.k < 100 ? this.transform.k.toFixed(1) : fmtCount(Math.round(this.transform.k))}` : 'whole map');
  }

  private placeFlash(view: View): void {
    const box = this.flashItem && this.renderer.itemBox({ model: this.model!, layout: this.layout!, view }, this.flashItem);
    if (!box) {
      this.flash.attr('visibility', 'hidden');
      return;
    }
    this.flash
      .attr('visibility', 'visible')
      .attr('x', box.x - 4)
      .attr('y', box.y - 4)
      .attr('width', box.w + 8)
      .attr('height', box.h + 8);
  }

  // -------------------------------------------------------- interaction

  private plotXY(ev: { clientX: number; clientY: number }): [number, number] {
    const r = this.plot.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  private hit(x: number, y: number): Hit | null {
    if (!this.model || !this.layout) return null;
    return hitTest(this.model, this.layout, this.view(), this.renderer.frames, x, y);
  }

  private onHover(ev: MouseEvent): void {
    if (ev.buttons) {
      this.tooltip.hide(); // panning
      return;
    }
    const h = this.hit(...this.plotXY(ev));
    this.setHover(h?.item ?? null);
    if (!h?.item) {
      this.tooltip.hide();
      return;
    }
    this.tooltip.show(ev.clientX, ev.clientY, this.describeHit(h));
  }

  private describeHit(h: Hit): Description[] {
    const d = describe(this.model!, h.item!);
    return h.bin ? [describeBin(h.bin), d] : [d];
  }

  private setHover(it: Item | null): void {
    if (!it) this.tooltip.hide();
    if (sameItem(it, this.hovered)) return;
    this.hovered = it;
    this.requestRender();
  }

  private onClick(ev: MouseEvent): void {
    this.plot.focus({ preventScroll: true });
    const h = this.hit(...this.plotXY(ev));
    if (h?.item) this.select(h.item);
  }

  select(it: Item | null, post = true): void {
    if (!this.model) return;
    this.selected = it;
    this.selectedKey = it ? selectKey(this.model, it) : null;
    if (it) this.details.show(describe(this.model, it));
    else this.details.hide();
    if (post && this.selectedKey) this.host.post({ type: 'select', ...this.selectedKey });
    this.saveSoon();
    this.requestRender();
  }

  /** After the model changed: find the selected item again by its key. */
  private reselect(): void {
    if (!this.model || !this.selectedKey) return;
    const it = resolveKey(this.model, this.selectedKey.kind, this.selectedKey.key);
    this.selected = it;
    if (it) this.details.show(describe(this.model, it));
    else {
      this.selectedKey = null;
      this.details.hide();
    }
  }

  private onKey(ev: KeyboardEvent): void {
    const m = this.model;
    const l = this.layout;
    if (!m || !l) return;
    const first = (): Item | null => {
      const g = l.lanes.find((x) => x.data.n);
      return g ? (g.kind === 'memseg' ? { kind: 'segment', list: g.ref, seg: 0 } : { kind: 'element', heap: g.ref, index: 0 }) : null;
    };
    let next: Item | null = null;
    switch (ev.key) {
      case 'ArrowLeft':
      case 'ArrowRight':
        next = this.selected ? stepItem(m, l, this.selected, ev.key === 'ArrowLeft' ? -1 : 1) : first();
        break;
      case 'ArrowUp':
      case 'ArrowDown': {
        if (!this.selected) {
          next = first();
          break;
        }
        const [a, b] = itemRange(m, l, this.selected);
        const v = this.view();
        const c = Math.min(Math.max((a + b) / 2, v.w0), v.w1);
        next = stepLane(l, laneOf(l, this.selected), ev.key === 'ArrowUp' ? -1 : 1, c) ?? this.selected;
        break;
      }
      case '+':
      case '=':
        this.zoomBy(2);
        break;
      case '-':
      case '_':
        this.zoomBy(0.5);
        break;
      case 'Home':
        this.resetZoom();
        break;
      case 'Escape':
        this.select(null);
        break;
      default:
        return;
    }
    ev.preventDefault();
    if (next) {
      this.select(next);
      this.ensureVisible(next);
      this.scrollToLane(laneOf(l, next));
    }
  }

  reveal(address: string): void {
    if (!this.model || !this.layout) return;
    const it = itemAtAddress(this.model, Number(address));
    if (!it) {
      this.status(`${address} is in no memseg list or heap of this snapshot.`, 'warning');
      return;
    }
    this.select(it);
    this.zoomToItem(it, 5);
    this.scrollToLane(laneOf(this.layout, it));
    this.flashItem = it;
    // restart the CSS animation
    const node = this.flash.node()!;
    node.classList.remove('flashing');
    void node.getBoundingClientRect();
    node.classList.add('flashing');
    clearTimeout(this.flashTimer);
    this.flashTimer = window.setTimeout(() => {
      this.flashItem = null;
      node.classList.remove('flashing');
      this.requestRender();
    }, 1800);
    this.renderNow();
  }

  private saveSoon(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => {
      this.host.saveState({ version: VIEW_STATE_VERSION, layout: this.layoutKind, zoom: { k: this.transform.k, x: this.transform.x }, selected: this.selectedKey });
    }, 200);
  }

  // ------------------------------------------------------- test surface

  hitTestClient(x: number, y: number): HitInfo | null {
    const [px, py] = this.plotXY({ clientX: x, clientY: y });
    const h = this.hit(px, py);
    if (!h) return null;
    const g = this.layout!.lanes[h.lane]!;
    const lane = { kind: g.kind, index: g.key, title: laneLabel(this.model!, g).title };
    if (!h.item) return { lane, kind: null, key: null, title: '', text: '', rows: {} };
    const parts = this.describeHit(h);
    const d = parts[parts.length - 1]!;
    const info: HitInfo = {
      lane,
      kind: h.item.kind,
      key: selectKey(this.model!, h.item).key,
      title: d.title,
      text: parts.map((p) => [p.title, ...p.rows.map(([k, v]) => `${k} ${v}`)].join('\n')).join('\n'),
      rows: Object.fromEntries(d.rows),
    };
    if (h.bin) info.bin = { count: h.bin.count, free: h.bin.share[0], busy: h.bin.share[1], pad: h.bin.share[2] };
    return info;
  }

  stats(): MapStats {
    return { ...this.st, view: { ...this.st.view } };
  }

  lanes(): LaneInfo[] {
    const l = this.layout;
    if (!l || !this.model) return [];
    const r = this.plot.getBoundingClientRect();
    return l.lanes.map((g, i) => {
      const label = laneLabel(this.model!, g);
      const f = this.renderer.frames[i];
      return {
        kind: g.kind,
        index: g.key,
        title: label.title,
        state: label.state,
        external: label.external ?? null,
        warning: label.warning ?? null,
        items: g.data.n,
        freeShare: g.kind === 'heap' ? freeShare(this.model!.heaps[g.ref]!.header) : null,
        visible: f ? f.end - f.first : 0,
        bars: f?.nBars ?? 0,
        bins: f?.nBins ?? 0,
        left: r.left,
        width: this.px,
        top: r.top + g.y,
        height: g.h,
        barTop: r.top + g.y + g.barY,
        barHeight: g.barH,
      };
    });
  }

  /** Client point at the middle of the item holding `address` (null when off-view). */
  locate(address: string): { x: number; y: number } | null {
    if (!this.model || !this.layout) return null;
    const it = itemAtAddress(this.model, Number(address));
    const box = it && this.renderer.itemBox({ model: this.model, layout: this.layout, view: this.view() }, it);
    if (!box || box.x + box.w < 0 || box.x > this.px) return null;
    const r = this.plot.getBoundingClientRect();
    const x0 = Math.max(0, box.x);
    const x1 = Math.min(this.px, box.x + box.w);
    return { x: r.left + (x0 + x1) / 2, y: r.top + box.y + box.h / 2 };
  }

  /** Linear layout: zooms to show [from, to). */
  zoomToAddresses(from: string, to: string): void {
    if (!this.layout) return;
    this.setView(addrToWorld(this.layout, Number(from)), addrToWorld(this.layout, Number(to)));
  }

  setTransform(k: number, x: number): void {
    this.zoomer.transform(this.plotSel, zoomIdentity.translate(x, 0).scale(k));
  }

  recentFrames(): number[] {
    return [...this.frameTimes];
  }

  currentPalette(): Palette {
    return { ...this.palette, runs: [...this.palette.runs] };
  }
}

/** Sets an element's text only when it differs (a write costs a style invalidation even when equal). */
function setText(id: string, text: string): void {
  const e = byId(id);
  if (e.textContent !== text) e.textContent = text;
}

function freeShare(h: { totalSize: number; freeSize: number }): number {
  return h.totalSize > 0 ? h.freeSize / h.totalSize : 0;
}

function sameItem(a: Item | null, b: Item | null): boolean {
  return a === b || (!!a && !!b && JSON.stringify(a) === JSON.stringify(b));
}
