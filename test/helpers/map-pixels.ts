// What the Memory Map's canvas shows, read from its pixels: per lane, how
// many columns of its bar row are drawn in a colour that means memory
// (segments, external memory, busy, free and pad elements; the theme's
// colours, composited as the lane draws them) and how many of those are
// free. The UI test, the demo test and the browser tests assert the first
// view with it: every lane that holds memory shows at least a few pixels of
// it, and a mostly-free heap reads as free.
import type { Frame, Page } from 'playwright-core';

export interface LanePixels {
  kind: 'memseg' | 'heap';
  index: number;
  title: string;
  state: string;
  /** Items the snapshot has in the lane (segments, elements). */
  items: number;
  freeShare: number | null;
  /** Plot columns (CSS px) whose bar is drawn in one of the lane's memory colours. */
  drawn: number;
  /** Of those, the columns that are mostly the free colour. */
  free: number;
  width: number;
}

/** Reads the lanes' pixels in the page or frame that runs the map. */
export function lanePixels(target: Page | Frame): Promise<LanePixels[]> {
  return target.evaluate(() => {
    const api = (window as unknown as { memscopeMap: { palette(): Record<string, string>; lanes(): { kind: 'memseg' | 'heap'; index: number; title: string; state: string; items: number; freeShare: number | null; left: number; width: number; barTop: number; barHeight: number }[] } }).memscopeMap;
    const pal = api.palette();
    const canvas = document.getElementById('canvas') as HTMLCanvasElement;
    const box = canvas.getBoundingClientRect();
    const dpr = canvas.width / box.width;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    // a colour as the lane shows it: layers of [css colour, alpha] painted over the lane background
    const scratch = document.createElement('canvas').getContext('2d', { willReadFrequently: true })!;
    const paint = (...layers: [string, number][]): number[] => {
      scratch.clearRect(0, 0, 1, 1);
      for (const [c, a] of [[pal.laneBackground!, 1] as [string, number], ...layers]) {
        scratch.globalAlpha = a;
        scratch.fillStyle = c;
        scratch.fillRect(0, 0, 1, 1);
      }
      scratch.globalAlpha = 1;
      return Array.from(scratch.getImageData(0, 0, 1, 1).data.slice(0, 3));
    };
    const near = (d: Uint8ClampedArray, i: number, c: number[]) => Math.abs(d[i]! - c[0]!) <= 28 && Math.abs(d[i + 1]! - c[1]!) <= 28 && Math.abs(d[i + 2]! - c[2]!) <= 28;
    return api.lanes().map((l) => {
      const free = paint([pal.free!, 1]);
      const colours =
        l.kind === 'heap'
          ? [paint([pal.busy!, 1]), free, paint([pal.pad!, 1])]
          : l.state === 'ok'
            ? [paint([pal.segment!, 1]), paint([pal.external!, 1])]
            : // an orphaned list: its segments in the warning colour over its reserved range
              [paint([pal.hole!, 1], [pal.warning!, 0.6])];
      let drawn = 0;
      let freeCols = 0;
      const rows: number[] = [];
      for (let y = Math.ceil(l.barTop - box.top); y < l.barTop - box.top + l.barHeight - 0.5; y++) rows.push(Math.floor(y * dpr));
      for (let x = 0; x < l.width; x++) {
        const dx = Math.floor((x + 0.5) * dpr);
        let hits = 0;
        let frees = 0;
        for (const dy of rows) {
          const i = (dy * canvas.width + dx) * 4;
          if (colours.some((c) => near(data, i, c))) hits++;
          if (l.kind === 'heap' && near(data, i, free)) frees++;
        }
        if (hits >= rows.length * 0.3) {
          drawn++;
          if (frees >= rows.length * 0.5) freeCols++;
        }
      }
      return { kind: l.kind, index: l.index, title: l.title, state: l.state, items: l.items, freeShare: l.freeShare, drawn, free: freeCols, width: l.width };
    });
  });
}

/** A heap at least this free must read as free. */
export const MOSTLY_FREE = 0.8;

/**
 * What is wrong with a first view, one line each: a lane with memory that
 * draws under 3 px of it, or a mostly-free heap whose drawn columns are not
 * mostly free.
 */
export function firstViewProblems(lanes: readonly LanePixels[]): string[] {
  const out: string[] = [];
  for (const l of lanes) {
    if (l.items > 0 && l.drawn < 3) out.push(`${l.title} holds ${l.items} items but ${l.drawn} px of the ${l.width} px plot show them`);
    if (l.kind === 'heap' && l.items > 0 && (l.freeShare ?? 0) >= MOSTLY_FREE && l.free < l.drawn * 0.7) {
      out.push(`${l.title} is ${Math.round((l.freeShare ?? 0) * 100)} % free but only ${l.free} of its ${l.drawn} drawn px read as free`);
    }
  }
  return out;
}

/** The lanes' pixel counts, one line each, for a failure message. */
export function describePixels(lanes: readonly LanePixels[]): string {
  return lanes.map((l) => `${l.title}: ${l.items} items, ${l.drawn} px drawn, ${l.free} px free${l.freeShare === null ? '' : ` (${Math.round(l.freeShare * 100)} % free)`}`).join('\n');
}
