/**
 * The rulers above the lanes: an address axis (d3-axis; one per visible
 * piece of the linear layout, with hex ticks, or element numbers of one
 * lane in the compact layout) and an overview of the whole map with a
 * d3-brush that shows, and moves, the current view.
 */
import { axisTop, type BrushBehavior, brushX, format, pointer, scaleLinear, select, type Selection } from 'd3';
import { fmtBytes, hexOf, hexTicks } from '../model/format';
import { type Break, byAddress, type LaneGeom, type Layout } from '../model/layout';
import type { View } from '../model/lod';

export const AXIS_HEIGHT = 26;
export const OVERVIEW_HEIGHT = 22;

export class Axis {
  private readonly svg: Selection<SVGSVGElement, unknown, null, undefined>;

  constructor(el: SVGSVGElement) {
    this.svg = select(el);
  }

  /**
   * Draws the axis for the view; returns the tick positions (px) for grid
   * lines. `focus` is the lane whose element numbers the compact axis shows.
   */
  render(layout: Layout, view: View, focus: LaneGeom | undefined): number[] {
    // the same view of the same pieces (a delta that moved nothing): the axis already shows it
    let key = `${layout.kind}|${view.w0}|${view.w1}|${view.px}|${layout.width}|`;
    if (byAddress(layout.kind)) for (const p of layout.pieces) key += `${p.a0},${p.a1},${p.w0},${p.w1};`;
    else key += focus ? `${focus.data.n},${focus.data.unit}` : -1;
    if (key === this.key) return this.ticks;
    const ticks = this.draw(layout, view, focus);
    this.key = key;
    this.ticks = ticks;
    return ticks;
  }

  private key = '';
  private ticks: number[] = [];

  private draw(layout: Layout, view: View, focus: LaneGeom | undefined): number[] {
    this.svg.attr('width', view.px).attr('height', AXIS_HEIGHT);
    const parts: { key: string; scale: ReturnType<typeof scaleLinear<number, number>>; ticks: number[]; fmt: (n: number) => string }[] = [];
    const toPx = (w: number) => ((w - view.w0) * view.px) / (view.w1 - view.w0);
    if (byAddress(layout.kind)) {
      layout.pieces.forEach((p, i) => {
        const lo = Math.max(p.w0, view.w0);
        const hi = Math.min(p.w1, view.w1);
        if (hi <= lo) return;
        // the piece's own line of the layout's scale, clipped to the view
        const k = (p.a1 - p.a0) / (p.w1 - p.w0);
        const a0 = p.a0 + (lo - p.w0) * k;
        const a1 = p.a0 + (hi - p.w0) * k;
        const x0 = toPx(lo);
        const x1 = toPx(hi);
        const scale = scaleLinear().domain([a0, a1]).range([x0, x1]);
        parts.push({ key: `p${i}`, scale, ticks: hexTicks(a0, a1, Math.floor((x1 - x0) / 150)), fmt: hexOf });
      });
    } else if (focus && focus.data.n && focus.data.unit > 0) {
      // compact: bytes into the focused lane; index: its element numbers
      const u = focus.data.unit;
      const scale = scaleLinear()
        .domain([view.w0 / u, view.w1 / u])
        .range([0, view.px]);
      const end = layout.kind === 'index' ? focus.data.n : focus.data.we[focus.data.n - 1]! / u;
      const ticks = scale.ticks(Math.max(2, Math.floor(view.px / 110))).filter((t) => Number.isInteger(t) && t >= 0 && t <= end);
      parts.push({ key: layout.kind, scale, ticks, fmt: layout.kind === 'index' ? format(',d') : (n) => (n ? fmtBytes(n) : '0') });
    }
    const groups = this.svg
      .selectAll<SVGGElement, (typeof parts)[number]>('g.axis-part')
      .data(parts, (d) => d.key)
      .join('g')
      .attr('class', 'axis-part')
      .attr('transform', `translate(0,${AXIS_HEIGHT - 1})`);
    const all: number[] = [];
    groups.each(function (d) {
      const axis = axisTop(d.scale)
        .tickValues(d.ticks)
        .tickFormat((v) => d.fmt(Number(v)))
        .tickSizeOuter(0)
        .tickSize(5);
      select(this).call(axis);
      for (const t of d.ticks) all.push(d.scale(t));
    });
    // labels at either end of a part lean inwards instead of spilling into a break or out of the ruler
    groups.each(function (d) {
      const [x0, x1] = d.scale.range() as [number, number];
      select(this)
        .selectAll<SVGTextElement, number>('.tick text')
        .attr('text-anchor', (t) => {
          const x = d.scale(t);
          return x - Math.max(x0, 0) < 45 ? 'start' : Math.min(x1, view.px) - x < 45 ? 'end' : 'middle';
        });
    });
    // folded address space: what each break hides, where it fits
    const shown = layout.breaks.filter((b) => b.w1 > view.w0 && b.w0 < view.w1).map((b) => ({ b, x0: toPx(b.w0), x1: toPx(b.w1) }));
    const labels = this.svg
      .selectAll<SVGTextElement, (typeof shown)[number]>('text.axis-break')
      .data(shown)
      .join((enter) => {
        const t = enter.append('text').attr('class', 'axis-break');
        t.append('title');
        t.append('tspan').attr('class', 'size');
        t.append('tspan').attr('class', 'what');
        return t;
      })
      .attr('text-anchor', 'middle');
    // two lines where there is room ("≈ 63.8 GiB" over "unused"), else the size, else "≈"
    labels.each(function (d) {
      const x = (Math.max(d.x0, 0) + Math.min(d.x1, view.px)) / 2;
      const room = Math.min(d.x1, view.px) - Math.max(d.x0, 0);
      const [size, what] = breakLines(d.b);
      const t = select(this);
      const fits = (s: string) => s.length * 5.8 <= room;
      t.select('tspan.size')
        .attr('x', x)
        .attr('y', fits(size) && fits(what) ? AXIS_HEIGHT - 14 : AXIS_HEIGHT - 8)
        .text(fits(size) ? size : '≈');
      t.select('tspan.what')
        .attr('x', x)
        .attr('y', AXIS_HEIGHT - 4)
        .text(fits(size) && fits(what) ? what : '');
    });
    labels.select('title').text((d) => breakTitle(d.b));
    return all;
  }
}

/** A break's label, in two lines: the bytes it hides, and what they are. */
export function breakLines(b: Break): [string, string] {
  const bytes = b.a1 - b.a0;
  return [`≈ ${fmtBytes(bytes)}`, b.reserved >= bytes / 2 ? 'unused' : 'outside DPDK'];
}

/** The whole story of a break, for its tooltip. */
export function breakTitle(b: Break): string {
  const bytes = b.a1 - b.a0;
  const outside = bytes - b.reserved;
  const parts = [];
  if (b.reserved) parts.push(`${fmtBytes(b.reserved)} reserved by memseg lists with nothing allocated`);
  if (outside) parts.push(`${fmtBytes(outside)} no memseg list reserved`);
  return `${hexOf(b.a0)} – ${hexOf(b.a1)} folded: ${parts.join(', ')}. Choose Linear to see reserved space to scale.`;
}

export class Overview {
  private readonly svg: Selection<SVGSVGElement, unknown, null, undefined>;
  private readonly brush: BrushBehavior<unknown>;
  private readonly brushG: Selection<SVGGElement, unknown, null, undefined>;
  private readonly track: Selection<SVGGElement, unknown, null, undefined>;
  private px = 0;
  private width = 1;
  private moving = false;
  /** The brush's last programmatic position ("" after a layout or a drag): a redraw for the same view skips d3's move. */
  private shown = '';

  /**
   * `onBrush(w0, w1)`: the user moved the brush to this world range;
   * `onCenter(w)`: the user clicked the minimap at world x.
   */
  constructor(el: SVGSVGElement, onBrush: (w0: number, w1: number) => void, onCenter: (w: number) => void) {
    this.svg = select(el);
    this.track = this.svg.append('g').attr('class', 'overview-track');
    this.brushG = this.svg.append('g').attr('class', 'overview-brush');
    this.brush = brushX().on('brush end', (ev: { type: string; selection: [number, number] | null; sourceEvent?: Event }) => {
      // programmatic moves (syncing to the zoom) carry no source event
      if (this.moving || !ev.sourceEvent) return;
      this.shown = '';
      if (!ev.selection) {
        // a click without a drag: the window moves there
        if (ev.type === 'end' && this.px) onCenter((pointer(ev.sourceEvent, el)[0] / this.px) * this.width);
        return;
      }
      const [x0, x1] = ev.selection;
      if (x1 - x0 < 2) return;
      onBrush((x0 / this.px) * this.width, (x1 / this.px) * this.width);
    });
  }

  /** Redraws the track (what lies where) for a new layout or size. */
  setLayout(layout: Layout, px: number): void {
    this.px = px;
    this.width = layout.width;
    this.svg.attr('width', px).attr('height', OVERVIEW_HEIGHT);
    const x = (w: number) => (w / layout.width) * px;
    const blocks: { x: number; w: number; cls: string }[] = [];
    for (const lane of layout.lanes) {
      const d = lane.data;
      if (!d.n) continue;
      const cls = lane.kind === 'memseg' ? 'ov-seg' : 'ov-heap';
      // one block per run of items with no visible gap between them
      let start = d.ws[0]!;
      let end = d.we[0]!;
      const minGap = (layout.width / px) * 1.5;
      for (let i = 1; i <= d.n; i++) {
        if (i < d.n && d.ws[i]! - end < minGap) {
          end = d.we[i]!;
          continue;
        }
        blocks.push({ x: x(start), w: Math.max(1, x(end) - x(start)), cls });
        if (i < d.n) {
          start = d.ws[i]!;
          end = d.we[i]!;
        }
        if (blocks.length > 4000) break;
      }
    }
    for (const b of layout.breaks) blocks.push({ x: x(b.w0), w: Math.max(1, x(b.w1) - x(b.w0)), cls: 'ov-break' });
    this.track
      .selectAll<SVGRectElement, (typeof blocks)[number]>('rect')
      .data(blocks)
      .join('rect')
      .attr('class', (d) => d.cls)
      .attr('x', (d) => d.x)
      .attr('width', (d) => d.w)
      .attr('y', (d) => (d.cls === 'ov-seg' ? 4 : d.cls === 'ov-heap' ? 12 : 2))
      .attr('height', (d) => (d.cls === 'ov-break' ? OVERVIEW_HEIGHT - 4 : 6));
    this.brush.extent([
      [0, 1],
      [px, OVERVIEW_HEIGHT - 1],
    ]);
    this.brushG.call(this.brush);
    this.shown = '';
  }

  /** Moves the brush to show the current view (without calling back). */
  show(view: View): void {
    if (!this.px) return;
    const x0 = Math.max(0, (view.w0 / this.width) * this.px);
    const x1 = Math.min(this.px, (view.w1 / this.width) * this.px);
    // the whole map in view: no selection, so a drag anywhere starts a new one
    const sel: [number, number] | null = x0 <= 0.5 && x1 >= this.px - 0.5 ? null : [x0, Math.max(x1, x0 + 2)];
    const key = sel ? `${sel[0]} ${sel[1]}` : 'all';
    if (key === this.shown) return;
    this.shown = key;
    this.moving = true;
    this.brushG.call(this.brush.move, sel);
    this.moving = false;
  }
}
