/**
 * Entry point of the Memory Map bundle (scripts/build-webview.mjs bundles
 * it into out/webview/main.js). The page's markup comes from html.ts;
 * everything else is in ui/ and model/.
 */
import type { MemscopeMapApi } from './api';
import { MapApp } from './ui/app';

const app = new MapApp();

const api: MemscopeMapApi = {
  hitTest: (x, y) => app.hitTestClient(x, y),
  stats: () => app.stats(),
  lanes: () => app.lanes(),
  locate: (address) => app.locate(address),
  zoomToAddresses: (from, to) => app.zoomToAddresses(from, to),
  setTransform: (k, x) => app.setTransform(k, x),
  setView: (w0, w1) => app.setView(w0, w1),
  resetZoom: () => app.resetZoom(),
  setLayout: (kind) => app.setLayout(kind),
  recentFrames: () => app.recentFrames(),
  renderNow: () => app.renderNow(),
  palette: () => app.currentPalette(),
};

window.memscopeMap = api;
