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
    // typed arrays (column slices) are leaves: replaced, removed or kept whole
    const kids = Object.keys(node).filter((k) => typeof node[k] === 'object' && node[k] !== null && !ArrayBuffer.isView(node[k]));
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

/** Bytes of z as the serializer's varint. */
function varintBytes(z: number): number {
  let n = 1;
  for (; z >= 128; z = Math.floor(z / 128)) n++;
  return n;
}

/**
 * An upper bound, in bytes, of what V8's structured clone (postMessage,
 * structuredClone, v8.serialize) writes for `root`, or Infinity once it
 * passes `cap` or nests deeper than `maxDepth` (where the serializer runs out
 * of stack). The clone writes an object once and then refers to it, but a
 * string anew at every occurrence: an array of a million references to one
 * 1 MB string is a terabyte, however small the array is here. Stops as soon
 * as the bound passes `cap`, so it is cheap whatever `root` would expand to.
 * A function or symbol cannot be cloned at all: Infinity.
 */
export function cloneBytes(root: unknown, cap: number, maxDepth = 2000): number {
  const seen = new Set<object>();
  const strings = new Map<string, number>();
  const stringBytes = (s: string): number => {
    let n = strings.get(s);
    if (n === undefined) {
      // a tag, the byte length as a varint, a padding byte for a two-byte string, the characters
      const bytes = /[^\u0000-\u00ff]/.test(s) ? 2 * s.length + 1 : s.length;
      n = 1 + varintBytes(bytes) + bytes;
      strings.set(s, n);
    }
    return n;
  };
  /** A small integer (a Smi) is a tag and a zigzag varint, any other number a tag and a double. */
  const numberBytes = (x: number): number => {
    if (!Number.isInteger(x) || Object.is(x, -0) || x < -(2 ** 30) || x >= 2 ** 30) return 9;
    return 1 + varintBytes(x >= 0 ? 2 * x : -2 * x - 1);
  };
  let total = 8; // the serializer's header
  const stack: Array<[object, number]> = [];
  /** Adds a value: a primitive now, an object once (pushed to walk); false when it cannot be cloned. */
  const add = (x: unknown, depth: number): boolean => {
    switch (typeof x) {
      case 'string':
        total += stringBytes(x);
        return true;
      case 'number':
        total += numberBytes(x);
        return true;
      case 'bigint':
        total += 16 + Math.ceil(x.toString(16).length / 2);
        return true;
      case 'boolean':
      case 'undefined':
        total += 1;
        return true;
      case 'object':
        if (x === null) total += 1;
        else if (seen.has(x)) total += 6;
        else {
          seen.add(x);
          total += Array.isArray(x) ? 12 : 7; // tags, length and count
          stack.push([x, depth]);
        }
        return true;
      default:
        return false;
    }
  };
  if (!add(root, 0)) return Infinity;
  while (stack.length) {
    const [o, depth] = stack.pop()!;
    if (depth > maxDepth) return Infinity;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        if (!(i in o)) continue; // a hole is not written
        total += numberBytes(i); // a sparse array writes its index too
        if (!add(o[i], depth + 1) || total > cap) return Infinity;
      }
    } else {
      for (const k of Object.keys(o)) {
        total += stringBytes(k);
        if (!add((o as Record<string, unknown>)[k], depth + 1) || total > cap) return Infinity;
      }
    }
    if (total > cap) return Infinity;
  }
  return total > cap ? Infinity : total;
}
