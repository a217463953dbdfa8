/**
 * Warms the map's message path while the page waits for its first snapshot.
 * V8 compiles a function the first time it runs and optimises it only
 * after it ran a while: a page's first real snapshot would pay for both,
 * inside the time the user waits. So, once the page said it is ready and is
 * idle, a made-up snapshot (model/warm.ts) goes through the same
 * validator, model, layout and drawing code, into a canvas that is never in
 * the document: nothing of it is ever shown, and the app's own state is not
 * touched. A real message that comes first makes it unnecessary.
 */
import { validateToWebview } from '../../common/webview-protocol';
import type { MapLayoutKind } from '../../common/webview-protocol';
import { computeLayout } from '../model/layout';
import { buildModel } from '../model/map';
import type { Palette } from '../model/theme';
import { warmMessage } from '../model/warm';
import { Renderer } from './render';

/** Runs the made-up snapshot through the path; false when it was refused (then nothing was warmed, and that is all). */
export function warmMapPath(kind: MapLayoutKind, px: number, palette: Palette): boolean {
  const msg = validateToWebview(warmMessage());
  if (!msg || msg.type !== 'snapshot') return false;
  const model = buildModel(msg.snapshot, msg.columns);
  const layout = computeLayout(model, kind, undefined, px);
  const r = new Renderer(document.createElement('canvas'));
  r.resize(px, Math.min(layout.height, 400));
  r.draw({ model, layout, view: { w0: 0, w1: layout.width, px }, palette, selected: null, hovered: null, ticks: [] });
  return true;
}
