/**
 * Draws the lanes on one canvas. Each lane's frame (model/lod.ts) says which
 * items get a bar of their own and which pixels are bins; rectangles of one
 * colour are batched into one path, so a frame costs a few fills per lane
 * whatever the element count.
 */
import { BUSY, FREE, PAD } from '../model/columns';
import { itemRange, type Item, laneOf, MIN_BAR_PX } from '../model/items';
import { hexOf } from '../model/format';
import { externalBacking } from '../model/describe';
import { addrToWorld, byAddress, type LaneGeom, type Layout } from '../model/layout';
import { frameLane, KINDS, type LaneFrame, type View } from '../model/lod';
import { type MapModel, ownerParts } from '../model/map';
import { alpha, type Palette, textOn } from '../model/theme';

export interface Scene {
  model: MapModel;
  layout: Layout;
  view: View;
  palette: Palette;
  selected: Item | null;
  hovered: Item | null;
  /** x (CSS px) of the axis ticks, for grid lines. */
  ticks: number[];
}

export interface DrawStats {
  lanes: number;
  bars: number;
  bins: number;
  spans: number;
  /** Items inside the view, over all lanes. */
  visible: number;
}

/** Rectangles of one colour, merged when a run of equal ones is adjacent. */
class Batch {
  path = new Path2D();
  count = 0;
  private x = 0;
  private y = 0;
  private w = 0;
  private h = -1;

  add(x: number, y: number, w: number, h: number): void {
    if (h === this.h && y === this.y && Math.abs(this.x + this.w - x) < 0.01) {
      this.w += w;
      return;
    }
    this.flush();
    this.x = x;
    this.y = y;
    this.w = w;
    this.h = h;
  }

  flush(): void {
    if (this.h > 0 && this.w > 0) {
      this.path.rect(this.x, this.y, this.w, this.h);
      this.count++;
    }
    this.h = -1;
  }

  fill(ctx: CanvasRenderingContext2D, style: string | CanvasPattern): void {
    this.flush();
    if (!this.count) return;
    ctx.fillStyle = style;
    ctx.fill(this.path);
  }
}

export class Renderer {
  readonly frames: (LaneFrame | undefined)[] = [];
  private readonly ctx: CanvasRenderingContext2D;
  private patterns = new Map<string, CanvasPattern>();
  private patternPalette: Palette | null = null;
  private width = 0;
  private height = 0;
  private owners: { names: readonly string[]; parts: { pool: boolean; name: string }[] } | null = null;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d', { alpha: true });
    if (!ctx) throw new Error('no 2D canvas');
    this.ctx = ctx;
  }

  resize(width: number, height: number): void {
    const dpr = window.devicePixelRatio || 1;
    this.width = width;
    this.height = height;
    this.canvas.width = Math.max(1, Math.round(width * dpr));
    this.canvas.height = Math.max(1, Math.round(height * dpr));
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  draw(s: Scene): DrawStats {
    const { ctx } = this;
    if (this.patternPalette !== s.palette) {
      this.patterns.clear();
      this.patternPalette = s.palette;
    }
    ctx.clearRect(0, 0, this.width, this.height);
    const stats: DrawStats = { lanes: 0, bars: 0, bins: 0, spans: 0, visible: 0 };
    this.frames.length = s.layout.lanes.length;
    s.layout.lanes.forEach((g, i) => {
      this.laneBackground(s, g);
      const f = g.kind === 'memseg' ? this.memsegLane(s, g, this.frames[i]) : this.heapLane(s, g, this.frames[i]);
      this.frames[i] = f;
      if (byAddress(s.layout.kind)) this.offView(s, g);
      if (s.palette.contrast) {
        ctx.strokeStyle = s.palette.contrast;
        ctx.lineWidth = 1;
        ctx.strokeRect(0.5, g.y + 0.5, s.view.px - 1, g.h - 1);
      }
      stats.lanes++;
      if (f) {
        stats.bars += f.nBars;
        stats.bins += f.nBins;
        stats.spans += f.nSpans;
        stats.visible += f.end - f.first;
      }
    });
    this.breaks(s);
    if (s.selected) this.guide(s, s.selected);
    if (s.hovered) this.outline(s, s.hovered, s.palette.hover, 1);
    if (s.selected) this.outline(s, s.selected, s.palette.selection, 2);
    return stats;
  }

  /** A lane whose range is out of view (linear layout) says where it is. */
  private offView(s: Scene, g: LaneGeom): void {
    let from: number;
    let to: number;
    if (g.kind === 'memseg') {
      const l = s.model.lists[g.ref]!;
      [from, to] = [l.base, l.end];
    } else {
      const c = s.model.heaps[g.ref]!.cols;
      if (!c.n) return;
      [from, to] = [c.start[0]!, c.start[c.n - 1]! + c.len[c.n - 1]!];
    }
    const w0 = addrToWorld(s.layout, from);
    const w1 = addrToWorld(s.layout, to);
    if (w1 > s.view.w0 && w0 < s.view.w1) return;
    const right = w0 >= s.view.w1;
    const range = `${hexOf(from)} – ${hexOf(to)}`;
    const { ctx } = this;
    ctx.font = `11px ${s.palette.font}`;
    ctx.textBaseline = 'middle';
    ctx.fillStyle = s.palette.muted;
    ctx.textAlign = right ? 'right' : 'left';
    ctx.fillText(right ? `${range}  ▶` : `◀  ${range}`, right ? s.view.px - 8 : 8, g.y + g.barY + g.barH / 2);
    ctx.textAlign = 'left';
  }

  /** A dashed line through every lane at the selection: what lies above and below it. */
  private guide(s: Scene, it: Item): void {
    const box = this.itemBox(s, it);
    if (!box || box.w > 40) return;
    const { ctx } = this;
    const x = Math.round(box.x + box.w / 2) + 0.5;
    ctx.strokeStyle = alpha(s.palette.selection, 0.7);
    ctx.lineWidth = 1;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, this.height);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  private x(s: Scene, w: number): number {
    return ((w - s.view.w0) * s.view.px) / (s.view.w1 - s.view.w0);
  }

  private laneBackground(s: Scene, g: LaneGeom): void {
    const { ctx } = this;
    const p = s.palette;
    ctx.fillStyle = p.laneBackground;
    ctx.fillRect(0, g.y, s.view.px, g.h);
    ctx.fillStyle = p.grid;
    for (const t of s.ticks) ctx.fillRect(Math.round(t), g.y, 1, g.h);
  }

  private pattern(kind: 'hatch' | 'stripes', color: string): CanvasPattern | string {
    const key = `${kind}|${color}`;
    let pat = this.patterns.get(key);
    if (!pat) {
      const size = kind === 'hatch' ? 6 : 8;
      const c = document.createElement('canvas');
      c.width = c.height = size;
      const g = c.getContext('2d')!;
      g.strokeStyle = color;
      g.lineWidth = kind === 'hatch' ? 1 : 2;
      g.beginPath();
      for (const o of [-size, 0, size]) {
        g.moveTo(o, size);
        g.lineTo(o + size, 0);
      }
      g.stroke();
      pat = this.ctx.createPattern(c, 'repeat') ?? undefined;
      if (!pat) return color;
      this.patterns.set(key, pat);
    }
    return pat;
  }

  /** A lane's item range [ws, we) clipped to the view, in px. */
  private span(s: Scene, a: number, b: number): [number, number] | null {
    if (b <= s.view.w0 || a >= s.view.w1) return null;
    const x0 = Math.max(-2, this.x(s, a));
    const x1 = Math.min(s.view.px + 2, this.x(s, b));
    return [x0, Math.max(x1, x0 + 1)];
  }

  private memsegLane(s: Scene, g: LaneGeom, prev?: LaneFrame): LaneFrame {
    const { ctx } = this;
    const p = s.palette;
    const lc = s.model.lists[g.ref]!;
    const l = lc.list;
    const orphaned = l.state !== 'ok';
    const y = g.y + g.barY;
    const h = g.barH;

    // the reserved range: unallocated unless a segment covers it
    const reserved = byAddress(s.layout.kind) ? this.span(s, addrToWorld(s.layout, lc.base), addrToWorld(s.layout, lc.end)) : ([0, s.view.px] as [number, number]);
    if (orphaned) {
      ctx.fillStyle = p.warningFill;
      ctx.fillRect(0, g.y, s.view.px, g.h);
    }
    if (reserved) {
      const [x0, x1] = reserved;
      ctx.fillStyle = p.hole;
      ctx.fillRect(x0, y, x1 - x0, h);
      ctx.fillStyle = this.pattern('hatch', orphaned ? alpha(p.warning, 0.55) : p.holeStroke);
      ctx.fillRect(x0, y, x1 - x0, h);
      ctx.strokeStyle = orphaned ? p.warning : p.holeStroke;
      ctx.lineWidth = 1;
      ctx.strokeRect(Math.round(x0) + 0.5, y + 0.5, Math.max(0, Math.round(x1 - x0) - 1), h - 1);
    }

    const f = frameLane(g.data, s.view, MIN_BAR_PX, undefined, prev);
    const color = orphaned ? alpha(p.warning, 0.6) : l.external ? p.external : p.segment;
    const full = new Batch();
    const partial = new Batch();
    for (let px = 0; px < f.count.length; px++) {
      if (!f.count[px]) continue;
      (f.cov[px * KINDS]! >= 0.5 ? full : partial).add(px, y, 1, h);
    }
    const bars = new Batch();
    for (let k = 0; k < f.nBars; k++) {
      const i = f.bars[k]!;
      const x0 = Math.max(-2, this.x(s, g.data.ws[i]!));
      const x1 = Math.min(s.view.px + 2, this.x(s, g.data.we[i]!));
      // a 1px seam between wide segments shows page boundaries
      bars.add(x0, y, x1 - x0 - (x1 - x0 >= 6 ? 1 : 0), h);
      bars.flush();
    }
    full.fill(ctx, color);
    bars.fill(ctx, color);
    ctx.globalAlpha = 0.5;
    partial.fill(ctx, color);
    ctx.globalAlpha = 1;
    if (p.contrast && f.nBars) {
      ctx.strokeStyle = p.contrast;
      ctx.lineWidth = 1;
      ctx.stroke(bars.path);
    }

    // dma-buf backed memory: stripes over the segments
    const dmabuf = l.dmabuf || l.backing?.kind === 'dmabuf' || l.registration?.kind === 'dmabuf';
    if (dmabuf && f.end > f.first) {
      const r = this.span(s, g.data.ws[f.first]!, g.data.we[f.end - 1]!);
      if (r) {
        ctx.fillStyle = this.pattern('stripes', alpha(p.background, 0.45));
        ctx.fillRect(r[0], y, r[1] - r[0], h);
      }
    }

    // IOVA-contiguous runs, alternating colours, under the segments
    for (let r = 0; r < lc.runs.length; r += 2) {
      const a = lc.runs[r]!;
      const b = lc.runs[r + 1]!;
      if (b < f.first || a >= f.end) continue;
      const x = this.span(s, g.data.ws[a]!, g.data.we[b]!);
      if (!x) continue;
      ctx.fillStyle = p.runs[(r / 2) % 2]!;
      ctx.fillRect(x[0], g.y + g.ovY, Math.max(1, x[1] - x[0] - (x[1] - x[0] >= 6 ? 1 : 0)), g.ovH);
    }

    // external memory: what backs it, written on its segments where they are wide enough
    if (l.external && f.end > f.first) this.backingLabel(s, g, f, orphaned ? p.warning : color);

    // compact layouts: a tick where consecutive segments are not VA-contiguous
    if (!byAddress(s.layout.kind)) {
      ctx.fillStyle = p.background;
      for (let k = f.first; k + 1 < f.end; k++) {
        if (lc.segStart[k]! + lc.segLen[k]! !== lc.segStart[k + 1]) ctx.fillRect(Math.round(this.x(s, g.data.we[k]!)) - 1, g.y + 2, 2, g.h - 4);
      }
    }
    if (orphaned) {
      ctx.strokeStyle = p.warning;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(0.75, g.y + 0.75, s.view.px - 1.5, g.h - 1.5);
    }
    return f;
  }

  private heapLane(s: Scene, g: LaneGeom, prev?: LaneFrame): LaneFrame | undefined {
    const { ctx } = this;
    const p = s.palette;
    const hm = s.model.heaps[g.ref]!;
    const y = g.y + g.barY;
    const h = g.barH;
    if (!hm.header.elementsAvailable) {
      ctx.fillStyle = this.pattern('hatch', p.holeStroke);
      ctx.fillRect(0, y, s.view.px, h);
      const text = `Elements unavailable: ${hm.header.reason ?? 'they cannot be read'}`;
      ctx.font = `12px ${p.font}`;
      ctx.textBaseline = 'middle';
      // on a plate, so the hatching does not run through the words
      ctx.fillStyle = p.laneBackground;
      ctx.fillRect(4, y + h / 2 - 9, Math.min(ctx.measureText(text).width + 8, s.view.px - 8), 18);
      ctx.fillStyle = p.muted;
      ctx.fillText(text, 8, y + h / 2, s.view.px - 16);
      return undefined;
    }
    const f = frameLane(g.data, s.view, MIN_BAR_PX, hm.cols.owner, prev);
    const batches = [new Batch(), new Batch(), new Batch()];

    // bins: a stacked column per pixel, busy at the bottom, then pad, then free
    for (let px = 0; px < f.count.length; px++) {
      if (!f.count[px]) continue;
      const c0 = f.cov[px * KINDS + FREE]!;
      const c1 = f.cov[px * KINDS + BUSY]!;
      const c2 = f.cov[px * KINDS + PAD]!;
      const t = c0 + c1 + c2;
      const hb = Math.round((h * c1) / t);
      const hp = Math.round((h * c2) / t);
      const hf = h - hb - hp;
      if (hb) batches[BUSY]!.add(px, y + h - hb, 1, hb);
      if (hp) batches[PAD]!.add(px, y + h - hb - hp, 1, hp);
      if (hf) batches[FREE]!.add(px, y, 1, hf);
    }
    for (const b of batches) b.flush();

    // elements wide enough to stand alone
    const bars = [new Batch(), new Batch(), new Batch()];
    for (let k = 0; k < f.nBars; k++) {
      const i = f.bars[k]!;
      const x0 = Math.max(-2, this.x(s, g.data.ws[i]!));
      const x1 = Math.min(s.view.px + 2, this.x(s, g.data.we[i]!));
      const b = bars[g.data.kind[i]!]!;
      b.add(x0, y, x1 - x0 - (x1 - x0 >= 5 ? 1 : 0), h);
      b.flush();
    }
    const colors = [p.free, p.busy, p.pad];
    for (const k of [FREE, BUSY, PAD]) {
      batches[k]!.fill(ctx, colors[k]!);
      bars[k]!.fill(ctx, colors[k]!);
    }
    if (p.contrast && f.nBars) {
      ctx.strokeStyle = p.contrast;
      ctx.lineWidth = 1;
      for (const b of bars) ctx.stroke(b.path);
    }
    this.ownerSpans(s, g, f);
    return f;
  }

  /** The overlay row: memzone and mempool runs, named where they are wide enough. */
  private ownerSpans(s: Scene, g: LaneGeom, f: LaneFrame): void {
    if (!f.nSpans) return;
    const { ctx } = this;
    const p = s.palette;
    const parts = this.ownerParts(s.model.owners.names);
    const y = g.y + g.ovY;
    const h = g.ovH;
    // per kind (memzone, mempool): the tinted runs, then their edges, one fill each
    const tint = [new Path2D(), new Path2D()];
    const edge = [new Path2D(), new Path2D()];
    for (let k = 0; k < f.nSpans; k++) {
      const x0 = Math.max(-2, f.spans[k * 2]!);
      const x1 = Math.min(s.view.px + 2, f.spans[k * 2 + 1]!);
      const w = Math.max(1, x1 - x0);
      const kind = parts[f.spanOwner[k]!]?.pool ? 1 : 0;
      tint[kind]!.rect(x0, y, w, h);
      edge[kind]!.rect(x0, y + h - 2, w, 2);
      if (w > 3) edge[kind]!.rect(x0, y, 1, h);
    }
    const colors = [p.memzone, p.mempool];
    for (const kind of [0, 1]) {
      ctx.fillStyle = alpha(colors[kind]!, p.contrast ? 0.5 : 0.28);
      ctx.fill(tint[kind]!);
      ctx.fillStyle = colors[kind]!;
      ctx.fill(edge[kind]!);
    }
    ctx.font = `10px ${p.font}`;
    ctx.textBaseline = 'middle';
    ctx.fillStyle = p.foreground;
    const charW = 5.6;
    for (let k = 0; k < f.nSpans; k++) {
      const x0 = Math.max(-2, f.spans[k * 2]!);
      const x1 = Math.min(s.view.px + 2, f.spans[k * 2 + 1]!);
      const w = Math.max(1, x1 - x0);
      if (w < 28) continue;
      const name = parts[f.spanOwner[k]!]?.name ?? '';
      const room = Math.floor((w - 8) / charW);
      const label = name.length > room ? name.slice(0, Math.max(1, room - 1)) + '…' : name;
      ctx.fillText(label, Math.max(x0, 0) + 4, y + h / 2 - 1);
    }
  }

  /** Owner names split once per name ("mempool:X" → a mempool named X), not once per span per frame. */
  private ownerParts(names: readonly string[]): { pool: boolean; name: string }[] {
    let c = this.owners;
    if (c?.names !== names) c = this.owners = { names, parts: [] };
    for (let i = c.parts.length; i < names.length; i++) {
      const o = ownerParts(names[i]!);
      c.parts.push({ pool: o.kind === 'mempool', name: o.name });
    }
    return c.parts;
  }

  /** The backing of an external list ("memfd · pid 4242"), on its drawn segments when there is room. */
  private backingLabel(s: Scene, g: LaneGeom, f: LaneFrame, color: string): void {
    const r = this.span(s, g.data.ws[f.first]!, g.data.we[f.end - 1]!);
    if (!r) return;
    const x0 = Math.max(0, r[0]);
    const x1 = Math.min(s.view.px, r[1]);
    if (x1 - x0 < 48) return;
    const { ctx } = this;
    const text = externalBacking(s.model.lists[g.ref]!.list);
    ctx.font = `11px ${s.palette.font}`;
    // whole words or nothing: the header says it too
    if (ctx.measureText(text).width > x1 - x0 - 12) return;
    ctx.textBaseline = 'middle';
    ctx.fillStyle = textOn(color);
    ctx.fillText(text, x0 + 6, g.y + g.barY + g.barH / 2);
  }

  /** Folded address space: a dimmed band with dashed edges through every lane. */
  private breaks(s: Scene): void {
    const { ctx } = this;
    for (const b of s.layout.breaks) {
      if (b.w1 < s.view.w0 || b.w0 > s.view.w1) continue;
      const x0 = Math.round(this.x(s, b.w0));
      const x1 = Math.max(x0 + 2, Math.round(this.x(s, b.w1)));
      ctx.fillStyle = alpha(s.palette.background, 0.45);
      ctx.fillRect(x0, 0, x1 - x0, this.height);
      ctx.strokeStyle = s.palette.grid;
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x0 + 0.5, 0);
      ctx.lineTo(x0 + 0.5, this.height);
      ctx.moveTo(x1 - 0.5, 0);
      ctx.lineTo(x1 - 0.5, this.height);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  /** The px box of an item (its bars, and the overlay row for memzone/mempool runs), or null when off-view. */
  itemBox(s: Pick<Scene, 'model' | 'layout' | 'view'>, it: Item): { x: number; y: number; w: number; h: number } | null {
    const lane = s.layout.lanes[laneOf(s.layout, it)];
    if (!lane) return null;
    const [a, b] = itemRange(s.model, s.layout, it);
    if (b < s.view.w0 || a > s.view.w1) return null;
    let x0 = this.x(s as Scene, a);
    let x1 = this.x(s as Scene, b);
    if (x1 - x0 < MIN_BAR_PX) {
      const c = (x0 + x1) / 2;
      x0 = c - MIN_BAR_PX / 2;
      x1 = c + MIN_BAR_PX / 2;
    }
    x0 = Math.max(-3, x0);
    x1 = Math.min(s.view.px + 3, x1);
    const whole = it.kind === 'memsegList' || it.kind === 'heap';
    const over = it.kind === 'memzone' || it.kind === 'mempool';
    const top = whole ? 1 : over ? lane.ovY : lane.barY;
    const bottom = whole ? lane.h - 1 : lane.kind === 'memseg' ? lane.ovY + lane.ovH : lane.barY + lane.barH;
    return { x: x0, y: lane.y + top, w: x1 - x0, h: bottom - top };
  }

  private outline(s: Scene, it: Item, color: string, width: number): void {
    const box = this.itemBox(s, it);
    if (!box) return;
    const { ctx } = this;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    const o = width / 2 + 1;
    ctx.strokeRect(Math.round(box.x) - o, box.y - o, Math.round(box.w) + 2 * o, box.h + 2 * o);
  }
}
