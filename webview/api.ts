/**
 * The page's test surface, `window.memscopeMap`: what is drawn (hit-testing,
 * counts, lanes) and ways to drive the shared zoom as d3-zoom's gestures
 * do. main.ts installs it; the browser tests and the benchmark read it.
 */
import type { MapLayoutKind } from '../common/webview-protocol';
import type { Palette } from './model/theme';
import type { HitInfo, LaneInfo, MapStats } from './ui/app';

export interface MemscopeMapApi {
  /** What is under client point (x, y), described as the tooltip would. */
  hitTest(x: number, y: number): HitInfo | null;
  /** Counts of drawn lanes, bars and bins, and render timings. */
  stats(): MapStats;
  lanes(): LaneInfo[];
  /** Client point at the middle of the item holding `address`, or null when it is off-view. */
  locate(address: string): { x: number; y: number } | null;
  zoomToAddresses(from: string, to: string): void;
  /** Sets d3-zoom's transform (k, x) on the plot. */
  setTransform(k: number, x: number): void;
  /** Shows world range [w0, w1) (see stats().view). */
  setView(w0: number, w1: number): void;
  resetZoom(): void;
  setLayout(kind: MapLayoutKind): void;
  /** Render times (ms) of the last frames. */
  recentFrames(): number[];
  renderNow(): void;
  /** The colours the canvas is drawn with now (the theme's). */
  palette(): Palette;
}

declare global {
  interface Window {
    memscopeMap?: MemscopeMapApi;
  }
}
