/**
 * Hostile inputs shared by test/hostile/ and the browser's hostile tests:
 * strings that would run or break markup if anything put them in as HTML,
 * and a seeded mutation that breaks a valid JSON value somewhere inside.
 */

/** Each would run `window.__pwned = 1` (or break the page) if it were ever parsed as HTML or code. */
export const EVIL = [
  '<script>window.__pwned=1</script>',
  '<img src=x onerror="window.__pwned=1">',
  '</style><style>*{display:none}</style><svg onload="window.__pwned=1">',
  '\u0000\u0007\u001b[31mred\u001b[0m\r\nsecond line\u202eevil\u2028',
  '"},{"addr":"0x1"',
  '${window.__pwned=1}',
  '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
  'javascript:window.__pwned=1',
] as const;

/** Keys that mean something to JavaScript objects, and other fields no schema has. */
export const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'extra', '<script>', 'k'.repeat(100)];

/**
 * Breaks `root` in place, somewhere down a random path: a field deleted,
 * retyped (an object becomes a list and the other way round) or set to one
 * of `values`, a field added (under one of EXTRA_KEYS, as an own property
 * even for "__proto__"), a list entry doubled or the list emptied. Returns
 * what it did, for the failure message.
 */
export function mutate(root: object, rnd: () => number, values: readonly unknown[]): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  // a copy: a later mutation must not change the shared value
  const value = () => structuredClone(pick(values));
  let node: Record<string, unknown> = root as Record<string, unknown>;
  let at = '';
  for (let depth = 0; depth < 6; depth++) {
    const kids = Object.keys(node).filter((k) => typeof node[k] === 'object' && node[k] !== null);
    if (!kids.length || rnd() < 0.25) break;
    const k = pick(kids);
    at += `/${k}`;
    node = node[k] as Record<string, unknown>;
  }
  const keys = Object.keys(node);
  const op = Math.floor(rnd() * 5);
  const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 40);
  if (Array.isArray(node)) {
    if (op === 0 && node.length) {
      node.push(node[Math.floor(rnd() * node.length)]);
      return `${at}: an entry twice`;
    }
    if (op === 1) {
      node.length = 0;
      return `${at}: emptied`;
    }
    const i = Math.floor(rnd() * (node.length + 1));
    node[i] = value();
    return `${at}/${i} = ${show(node[i])}`;
  }
  if (op === 0 && keys.length) {
    const k = pick(keys);
    delete node[k];
    return `${at}/${k} deleted`;
  }
  if (op === 1) {
    const k = pick(EXTRA_KEYS);
    Object.defineProperty(node, k, { value: value(), enumerable: true, configurable: true, writable: true });
    return `${at}/${k} added`;
  }
  if (op === 2 && keys.length) {
    const k = pick(keys);
    node[k] = Array.isArray(node[k]) ? {} : typeof node[k] === 'object' && node[k] !== null ? [node[k]] : value();
    return `${at}/${k} retyped`;
  }
  const k = keys.length ? pick(keys) : 'x';
  node[k] = value();
  return `${at}/${k} = ${show(node[k])}`;
}
