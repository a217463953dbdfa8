/** Number formatting and axis tick math (pure). */
import { hexAddr } from '../../common/snapshot';

export const hexOf = hexAddr;

/** Bytes in binary units: "64 B", "1.5 KiB", "2 MiB". */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) || Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(Math.abs(v) >= 10 ? 1 : 2).replace(/\.?0+$/, '');
  return `${s} ${units[i]}`;
}

/** "2 MiB (2,097,152 B)" for details, where the exact count matters. */
export function fmtBytesExact(n: number): string {
  return n < 1024 ? `${n} B` : `${fmtBytes(n)} (${fmtCount(n)} B)`;
}

export function fmtPct(x: number): string {
  const p = x * 100;
  return `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)}%`;
}

/** 1234567 → "1,234,567" (toLocaleString sets up ICU on first use: 15 ms of a cold page's first render). */
export function fmtCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * Ticks for an address axis over [a0, a1]: multiples of a power of two, so
 * labels end in round hex digits (0x140000000, 0x140200000, …), about
 * `target` of them.
 */
export function hexTicks(a0: number, a1: number, target: number): number[] {
  const span = a1 - a0;
  if (!(span > 0) || target < 1) return [];
  const step = Math.max(1, 2 ** Math.ceil(Math.log2(span / target)));
  const out: number[] = [];
  for (let t = Math.ceil(a0 / step) * step; t <= a1 && out.length <= target * 2 + 2; t += step) out.push(t);
  return out;
}

/** Local time of day, "14:03:07" (no ICU, for the same reason). */
export function fmtTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
