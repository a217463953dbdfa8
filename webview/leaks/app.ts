/**
 * The Leaks panel: a live timeline (d3 line charts with snapshot markers and
 * a brush that picks two moments), the saved snapshots, a sortable and
 * filterable diff table, and the suspected leaks (a click reveals one in the
 * Memory Map). Every message in is validated; what goes out is too.
 */
import { axisBottom, axisLeft, brushX, type D3BrushEvent, extent, line, max, min, scaleLinear, scaleOrdinal, scaleTime, select } from 'd3';
import { type FromLeaks, type SnapshotEntry, type TimelineMarker, type ToLeaks, explainToLeaks, validateFromLeaks, validateToLeaks } from '../../common/leaks-protocol';
import type { SnapshotDiff } from '../../common/leaks';
import type { Suspects, TimelinePoint } from '../../common/leak-tracker';
import { formatBytes } from '../../common/units';
import { connectHostFor } from '../ui/host';
import { type Chart, chartsOf, type DiffColumn, type DiffRow, diffRows, spanChange, viewRows } from './model';

const MAX_ROWS = 2000;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const signedBytes = (n: number) => (n > 0 ? `+${formatBytes(n)}` : n < 0 ? `−${formatBytes(-n)}` : '0 B');
const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

/** What the browser tests read. */
export interface LeaksPageApi {
  charts(): { id: string; series: string[]; points: number; markers: number }[];
  diffRows(): string[][];
  suspectRows(): string[][];
  spanSummary(): string;
  /** Client rectangle of a chart's plot area (to drag a brush across). */
  plotRect(chart: string): { x: number; y: number; width: number; height: number } | null;
}

declare global {
  interface Window {
    memscopeLeaks?: LeaksPageApi;
  }
}

export class LeaksApp {
  private readonly host = connectHostFor<FromLeaks>(validateFromLeaks, (level, message) => ({ type: 'log', level, message }));
  private points: TimelinePoint[] = [];
  private maxSamples = 3600;
  private markers: TimelineMarker[] = [];
  private snapshots: SnapshotEntry[] = [];
  private checked: string[] = [];
  private diff: SnapshotDiff | null = null;
  private rows: DiffRow[] = [];
  private sortBy: DiffColumn = 'delta';
  private descending = true;
  private filter = '';
  private suspects: Suspects | null = null;
  private chartsDrawn: { id: string; series: string[]; points: number; markers: number; plot: SVGRectElement | null }[] = [];
  private redrawQueued = false;

  constructor() {
    window.addEventListener('message', (e: MessageEvent) => {
      const m = validateToLeaks(e.data);
      if (!m) {
        // never JSON.stringify it: a posted BigInt or cycle would throw, a huge array would cost
        this.host.log('warn', `leaks panel: dropped a malformed message (${explainToLeaks(e.data) ?? 'invalid'})`);
        return;
      }
      this.handle(m);
    });
    $('take-snapshot').addEventListener('click', () => this.host.post({ type: 'takeSnapshot' }));
    $('reset-baseline').addEventListener('click', () => this.host.post({ type: 'resetBaseline' }));
    $('refresh-suspects').addEventListener('click', () => this.host.post({ type: 'refreshSuspects' }));
    $('compare').addEventListener('click', () => {
      if (this.checked.length === 2) this.host.post({ type: 'compare', a: this.checked[0]!, b: this.checked[1]! });
    });
    $('export-md').addEventListener('click', () => this.host.post({ type: 'export', format: 'markdown' }));
    $('export-csv').addEventListener('click', () => this.host.post({ type: 'export', format: 'csv' }));
    $<HTMLInputElement>('diff-filter').addEventListener('input', (e) => {
      this.filter = (e.target as HTMLInputElement).value;
      this.renderDiff();
    });
    window.addEventListener('resize', () => this.queueCharts());
    window.memscopeLeaks = {
      charts: () => this.chartsDrawn.map(({ id, series, points, markers }) => ({ id, series, points, markers })),
      diffRows: () => Array.from(document.querySelectorAll('#diff tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')),
      suspectRows: () => Array.from(document.querySelectorAll('#suspects tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')),
      spanSummary: () => $('span-summary').textContent ?? '',
      plotRect: (id) => {
        const r = this.chartsDrawn.find((c) => c.id === id)?.plot?.getBoundingClientRect();
        return r ? { x: r.x, y: r.y, width: r.width, height: r.height } : null;
      },
    };
    this.renderSnapshots();
    this.renderSuspects();
    this.host.post({ type: 'ready' });
  }

  private handle(m: ToLeaks): void {
    switch (m.type) {
      case 'timeline':
        this.points = m.points.slice().sort((a, b) => a.t - b.t);
        this.maxSamples = m.maxSamples;
        this.queueCharts();
        break;
      case 'point':
        if (this.points.length && m.point.t <= this.points[this.points.length - 1]!.t) break;
        this.points.push(m.point);
        if (this.points.length > this.maxSamples) this.points.splice(0, this.points.length - this.maxSamples);
        this.queueCharts();
        break;
      case 'snapshots':
        this.snapshots = m.list;
        this.markers = m.markers;
        this.checked = this.checked.filter((id) => m.list.some((s) => s.id === id));
        this.renderSnapshots();
        this.queueCharts();
        break;
      case 'diff':
        this.diff = m.diff;
        this.rows = diffRows(m.diff);
        this.renderDiff();
        break;
      case 'suspects':
        this.suspects = m.suspects;
        this.renderSuspects(m.minAgeMs);
        break;
      case 'status':
        $('status').textContent = m.text;
        $('status').dataset.level = m.level;
        break;
      case 'target':
        $('target-title').textContent = `Leaks: ${m.filePrefix}`;
        $('target-meta').textContent = m.pid === null ? '' : `pid ${m.pid}`;
        break;
      case 'theme':
        this.queueCharts();
        break;
    }
  }

  // ------------------------------------------------------------ timeline

  private queueCharts(): void {
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    requestAnimationFrame(() => {
      this.redrawQueued = false;
      this.renderCharts();
    });
  }

  private renderCharts(): void {
    const root = select($('charts'));
    const charts = chartsOf(this.points);
    const css = getComputedStyle(document.body);
    const palette = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'].map(
      (v, i) => css.getPropertyValue(v).trim() || ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'][i]!,
    );
    const color = scaleOrdinal<string, string>().range(palette);
    const width = Math.max(320, ($('charts').clientWidth || 640) - 8);
    const height = 150;
    const margin = { top: 8, right: 12, bottom: 22, left: 64 };
    const ts = this.points.map((p) => p.t);
    const [t0, t1] = ts.length ? (extent(ts) as [number, number]) : [Date.now() - 60_000, Date.now()];
    const x = scaleTime()
      .domain([new Date(t0), new Date(t1 === t0 ? t0 + 1000 : t1)])
      .range([margin.left, width - margin.right]);
    this.chartsDrawn = [];
    const cards = root.selectAll<HTMLDivElement, Chart>('div.chart').data(charts, (c) => c.id);
    cards.exit().remove();
    const entered = cards.enter().append('div').attr('class', 'chart');
    entered.append('h3');
    entered.append('svg');
    entered.append('ul').attr('class', 'chart-legend');
    const all = entered.merge(cards);
    const self = this;
    all.each(function (c) {
      const card = select(this);
      card.select('h3').text(c.title);
      const svg = card.select<SVGSVGElement>('svg').attr('width', width).attr('height', height).attr('data-chart', c.id);
      svg.selectAll('*').remove();
      const vs = c.series.flatMap((s) => s.values.map((v) => v.v));
      const lo = Math.min(0, min(vs) ?? 0);
      const hi = Math.max(1, max(vs) ?? 1);
      const y = scaleLinear()
        .domain([lo, hi === lo ? lo + 1 : hi])
        .nice()
        .range([height - margin.bottom, margin.top]);
      svg
        .append('g')
        .attr('class', 'axis')
        .attr('transform', `translate(0,${height - margin.bottom})`)
        .call(axisBottom(x).ticks(Math.max(2, Math.floor(width / 110))));
      svg
        .append('g')
        .attr('class', 'axis')
        .attr('transform', `translate(${margin.left},0)`)
        .call(
          axisLeft(y)
            .ticks(4)
            .tickFormat((d) => (c.unit === 'bytes' ? formatBytes(Number(d)) : String(d))),
        );
      const plot = svg
        .append('rect')
        .attr('class', 'plot-area')
        .attr('x', margin.left)
        .attr('y', margin.top)
        .attr('width', width - margin.left - margin.right)
        .attr('height', height - margin.top - margin.bottom);
      const path = line<{ t: number; v: number }>()
        .x((d) => x(new Date(d.t)))
        .y((d) => y(d.v));
      svg
        .append('g')
        .selectAll('path')
        .data(c.series)
        .join('path')
        .attr('class', 'series')
        .attr('data-series', (s) => s.name)
        .attr('fill', 'none')
        .attr('stroke', (s) => color(s.name))
        .attr('stroke-width', 1.5)
        .attr('d', (s) => path(s.values));
      const markers = self.markers.filter((m) => m.t >= t0 && m.t <= t1);
      const mg = svg.append('g').attr('class', 'markers');
      mg.selectAll('line')
        .data(markers)
        .join('line')
        .attr('class', 'marker')
        .attr('x1', (m) => x(new Date(m.t)))
        .attr('x2', (m) => x(new Date(m.t)))
        .attr('y1', margin.top)
        .attr('y2', height - margin.bottom)
        .append('title')
        .text((m) => m.name);
      const brush = brushX<unknown>()
        .extent([
          [margin.left, margin.top],
          [width - margin.right, height - margin.bottom],
        ])
        .on('end', (e: D3BrushEvent<unknown>) => {
          if (!e.sourceEvent || !e.selection) return;
          const [a, b] = e.selection as [number, number];
          self.pickSpan(x.invert(a).getTime(), x.invert(b).getTime());
        });
      svg.append('g').attr('class', 'brush').call(brush);
      const legend = card.select('ul.chart-legend');
      legend
        .selectAll('li')
        .data(c.series, (s) => (s as { name: string }).name)
        .join('li')
        .text((s) => s.name)
        .style('--swatch', (s) => color(s.name));
      self.chartsDrawn.push({ id: c.id, series: c.series.map((s) => s.name), points: c.series.reduce((n, s) => n + s.values.length, 0), markers: markers.length, plot: plot.node() });
    });
  }

  private pickSpan(from: number, to: number): void {
    const s = spanChange(this.points, from, to);
    const el = $('span-summary');
    if (!s) {
      el.textContent = 'Pick a wider span: it holds fewer than two samples.';
      return;
    }
    const parts = [
      ...s.heaps.map((h) => `heap ${h.name} ${signedBytes(h.bytes)}, ${signed(h.allocs)} allocations`),
      ...s.mempools.map((m) => `mempool ${m.name} ${signed(m.inUse)} in use`),
      ...(s.segments ? [`${signed(s.segments)} segments`] : []),
    ];
    el.textContent = `From ${new Date(s.from).toLocaleTimeString()} to ${new Date(s.to).toLocaleTimeString()}: ${parts.length ? parts.join(' · ') : 'no change'}.`;
    this.host.post({ type: 'compareSpan', from: s.from, to: s.to });
  }

  // ----------------------------------------------------------- snapshots

  private renderSnapshots(): void {
    const table = $('snapshots');
    table.querySelector('thead')!.replaceChildren(headRow(['', 'name', 'taken at', 'elements']));
    const body = table.querySelector('tbody')!;
    body.replaceChildren(
      ...this.snapshots.map((s) => {
        const tr = document.createElement('tr');
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.checked = this.checked.includes(s.id);
        box.setAttribute('aria-label', `Compare ${s.name}`);
        box.addEventListener('change', () => {
          this.checked = this.checked.filter((id) => id !== s.id);
          if (box.checked) this.checked.push(s.id);
          // two at most: the oldest pick gives way
          if (this.checked.length > 2) this.checked.shift();
          this.renderSnapshots();
        });
        const td = document.createElement('td');
        td.append(box);
        tr.append(td, cell(s.name), cell(new Date(s.takenAt).toLocaleString()), cell(String(s.elements)));
        return tr;
      }),
    );
    if (!this.snapshots.length) body.replaceChildren(emptyRow(4, 'No snapshots yet: Take Snapshot saves one.'));
    ($('compare') as HTMLButtonElement).disabled = this.checked.length !== 2;
  }

  // ---------------------------------------------------------------- diff

  private renderDiff(): void {
    const d = this.diff;
    ($('export-md') as HTMLButtonElement).disabled = !d;
    ($('export-csv') as HTMLButtonElement).disabled = !d;
    if (!d) return;
    const added = d.heaps.reduce((n, h) => n + h.added.length, 0);
    const freed = d.heaps.reduce((n, h) => n + h.freed.length, 0);
    const bytes = d.heaps.reduce((n, h) => n + h.bytesDelta, 0);
    $('diff-summary').textContent = `${d.from.name ?? d.from.takenAt} → ${d.to.name ?? d.to.takenAt}: ${added} elements added, ${freed} freed, ${signedBytes(bytes)} in heaps.`;
    const cols: [DiffColumn, string][] = [
      ['change', 'change'],
      ['where', 'heap / pool / zone'],
      ['address', 'address'],
      ['delta', 'delta'],
      ['owner', 'owner'],
      ['sizeClass', 'size class'],
    ];
    const head = document.createElement('tr');
    for (const [key, label] of cols) {
      const th = document.createElement('th');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      b.dataset.col = key;
      b.textContent = label + (this.sortBy === key ? (this.descending ? ' ▼' : ' ▲') : '');
      th.setAttribute('aria-sort', this.sortBy === key ? (this.descending ? 'descending' : 'ascending') : 'none');
      b.addEventListener('click', () => {
        if (this.sortBy === key) this.descending = !this.descending;
        else {
          this.sortBy = key;
          this.descending = key === 'delta';
        }
        this.renderDiff();
      });
      th.append(b);
      head.append(th);
    }
    $('diff').querySelector('thead')!.replaceChildren(head);
    const view = viewRows(this.rows, this.filter, this.sortBy, this.descending);
    const body = $('diff').querySelector('tbody')!;
    body.replaceChildren(
      ...view.slice(0, MAX_ROWS).map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.change = r.change;
        const delta = r.change === 'in use' || r.change === 'list' ? signed(r.delta) : r.delta ? signedBytes(r.delta) : '';
        tr.append(cell(r.change), cell(r.where), cell(r.address, 'mono'), cell(delta, 'num'), cell(r.owner), cell(r.sizeClass));
        if (r.address && (r.change === 'added' || r.change === 'memzone added')) {
          tr.classList.add('clickable');
          tr.title = 'Reveal in the Memory Map';
          tr.addEventListener('click', () => this.host.post({ type: 'reveal', address: r.address }));
        }
        return tr;
      }),
    );
    if (!view.length) body.replaceChildren(emptyRow(cols.length, this.rows.length ? 'Nothing matches the filter.' : 'No change.'));
    $('diff-more').textContent = view.length > MAX_ROWS ? `Showing ${MAX_ROWS} of ${view.length} rows: filter, or export, for the rest.` : `${view.length} of ${this.rows.length} rows.`;
  }

  // ------------------------------------------------------------ suspects

  private renderSuspects(minAgeMs?: number): void {
    const s = this.suspects;
    const table = $('suspects');
    table.querySelector('thead')!.replaceChildren(headRow(['address', 'length', 'heap', 'age', 'first seen']));
    $('suspect-pools').querySelector('thead')!.replaceChildren(headRow(['mempool', 'in use from', 'to', 'growth', 'over']));
    const body = table.querySelector('tbody')!;
    const pools = $('suspect-pools').querySelector('tbody')!;
    if (!s) {
      $('suspects-summary').textContent = 'Suspected leaks appear once the agent has sampled for a while.';
      body.replaceChildren();
      pools.replaceChildren();
      return;
    }
    $('suspects-summary').textContent =
      `${s.elements.length} elements (${formatBytes(s.bytes)}) alive since the baseline for ${((minAgeMs ?? 0) / 1000).toFixed(0)} s or more in size classes that keep growing; ` +
      `${s.pools.length} mempools whose objects in use only grew. ${s.samples} samples since ${s.baseline ? new Date(s.baseline).toLocaleTimeString() : '?'}.`;
    body.replaceChildren(
      ...s.elements.slice(0, MAX_ROWS).map((e) => {
        const tr = document.createElement('tr');
        tr.classList.add('clickable');
        tr.title = 'Reveal in the Memory Map';
        tr.tabIndex = 0;
        tr.append(cell(e.addr, 'mono'), cell(formatBytes(e.len), 'num'), cell(e.heap), cell(`${(e.ageMs / 1000).toFixed(1)} s`, 'num'), cell(new Date(e.firstSeen).toLocaleTimeString()));
        const reveal = () => this.host.post({ type: 'reveal', address: e.addr });
        tr.addEventListener('click', reveal);
        tr.addEventListener('keydown', (k) => {
          if (k.key === 'Enter') reveal();
        });
        return tr;
      }),
    );
    if (!s.elements.length) body.replaceChildren(emptyRow(5, 'No suspected elements.'));
    pools.replaceChildren(
      ...s.pools.map((p) => {
        const tr = document.createElement('tr');
        tr.append(cell(p.name), cell(String(p.from), 'num'), cell(String(p.to), 'num'), cell(`+${p.growth}`, 'num'), cell(`${(p.windowMs / 1000).toFixed(1)} s`, 'num'));
        return tr;
      }),
    );
    if (!s.pools.length) pools.replaceChildren(emptyRow(5, 'No suspected mempools.'));
  }
}

function cell(text: string, cls?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function headRow(labels: string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const l of labels) {
    const th = document.createElement('th');
    th.textContent = l;
    tr.append(th);
  }
  return tr;
}

function emptyRow(span: number, text: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const td = cell(text, 'empty-row');
  td.colSpan = span;
  tr.append(td);
  return tr;
}
