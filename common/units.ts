/** Sizes as people type them ("64M", "1G", "4096"), and the checks a test buffer's sizes must pass. */

export const PAGE_SIZES: Record<string, number> = { '4K': 4096, '2M': 2 * 1024 * 1024, '1G': 1024 * 1024 * 1024 };

/** "64M", "1G", "4096", "2m", "64MiB" → bytes; null when not a positive size. */
export function parseSize(s: string): number | null {
  const m = /^(\d+)\s*([KMGT]?)i?B?$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]) * 1024 ** ['', 'K', 'M', 'G', 'T'].indexOf(m[2]!.toUpperCase());
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Why a test buffer's size / page size / offset do not fit, or null. */
export function checkBufferSizes(size: number, pageSize: number, offset: number): string | null {
  if (![4096, 2 * 1024 * 1024, 1024 * 1024 * 1024].includes(pageSize)) return `page size ${pageSize} is not 4K, 2M or 1G: pick one of those.`;
  if (!(size > 0) || size % pageSize !== 0) return `size ${size} is not a positive multiple of the page size ${pageSize}: round it up to whole pages.`;
  if (!(offset >= 0) || offset % pageSize !== 0) return `dma-buf offset ${offset} is not a multiple of the page size ${pageSize}: use a page-aligned offset.`;
  return null;
}

/** 1536 → "1.5 KiB": sizes for people. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
