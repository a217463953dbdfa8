/**
 * The page's link to whoever hosts it: VS Code's webview API when present,
 * otherwise a shim, so the same bundle runs in a plain page (the browser
 * tests). Outgoing messages are validated too: a malformed one is a bug
 * here, and is logged instead of sent.
 */
import { type FromWebview, type LogLevel, type MapViewState, validateFromWebview, validateViewState } from '../../common/webview-protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  interface Window {
    acquireVsCodeApi?: () => VsCodeApi;
    /** The shim's record of what the page sent and saved (tests read it). */
    memscopeHost?: { sent: unknown[]; state(): unknown };
  }
}

export interface Host {
  post(m: FromWebview): void;
  log(level: LogLevel, message: string): void;
  loadState(): MapViewState | null;
  saveState(s: MapViewState): void;
}

function shim(): VsCodeApi {
  const sent: unknown[] = [];
  let state: unknown;
  window.memscopeHost = { sent, state: () => state };
  return {
    // never window.postMessage: the page would receive its own messages
    postMessage: (m) => {
      sent.push(m);
      window.dispatchEvent(new CustomEvent('memscope:sent', { detail: m }));
      if (window.parent !== window) window.parent.postMessage(m, '*');
    },
    getState: () => state,
    setState: (s) => {
      state = s;
    },
  };
}

/** The seed view state the extension put in the HTML (renderHtml's initialState). */
function seededState(): MapViewState | null {
  const el = document.getElementById('memscope-initial-state');
  if (!el?.textContent) return null;
  try {
    return validateViewState(JSON.parse(el.textContent));
  } catch {
    return null;
  }
}

/** The page's link for messages of type `Out`, checked by `validate` before they go. */
export function connectHostFor<Out extends { type: string }>(validate: (m: unknown) => Out | null, logMessage: (level: LogLevel, message: string) => Out): {
  post(m: Out): void;
  log(level: LogLevel, message: string): void;
  api: VsCodeApi;
} {
  // acquireVsCodeApi may be called once per page: keep the one instance
  const api = typeof window.acquireVsCodeApi === 'function' ? window.acquireVsCodeApi() : shim();
  const post = (m: Out) => {
    if (validate(m)) api.postMessage(m);
    else console.error('memscope: not sending an invalid message', m);
  };
  return { post, log: (level, message) => post(logMessage(level, message.slice(0, 8192))), api };
}

export function connectHost(): Host {
  const h = connectHostFor<FromWebview>(validateFromWebview, (level, message) => ({ type: 'log', level, message }));
  return {
    post: h.post,
    log: h.log,
    loadState: () => validateViewState(h.api.getState()) ?? seededState(),
    saveState: (s) => h.api.setState(s),
  };
}
