/** The extension's settings, read fresh each time (they can change while attached). */
import * as vscode from 'vscode';

export interface Settings {
  launchPrefix: string[];
  pollIntervalMs: number;
  runtimeDirs: string[];
  allowLockingReads: boolean;
  ealExtraArgs: string[];
  dpdkLibraryPath: string | null;
  leakMinAgeMs: number;
  historySamples: number;
  /** Attach from the palette brings the Memscope view forward and opens the map. */
  revealOnAttach: boolean;
  traceDir: string | null;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export function settings(): Settings {
  const c = vscode.workspace.getConfiguration('memscope');
  return {
    launchPrefix: strings(c.get('agent.launchPrefix')),
    pollIntervalMs: Math.max(100, Number(c.get('pollIntervalMs')) || 1000),
    runtimeDirs: strings(c.get('runtimeDirs')),
    allowLockingReads: c.get('allowLockingReads') === true,
    ealExtraArgs: strings(c.get('eal.extraArgs')),
    dpdkLibraryPath: (c.get<string>('dpdkLibraryPath') || '').trim() || null,
    leakMinAgeMs: Math.max(0, Number(c.get('leaks.minAgeSeconds') ?? 60) || 0) * 1000,
    traceDir: (c.get<string>('leaks.traceDir') || '').trim() || null,
    revealOnAttach: c.get('revealOnAttach') !== false,
    historySamples: Math.min(1_000_000, Math.max(10, Math.round(Number(c.get('leaks.historySamples')) || 3600))),
  };
}
