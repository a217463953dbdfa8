/**
 * The Memory Map's model, pure (no DOM): columnar data built from a
 * snapshot, the linear and compact layouts, level-of-detail bins,
 * hit-testing, deltas applied in place, words for tooltips and details, and
 * theme colours. The page (main.ts and ui/) draws what this computes; the
 * unit tests exercise it in Node.
 */
export * from './model/columns';
export * from './model/describe';
export * from './model/format';
export * from './model/items';
export * from './model/layout';
export * from './model/lists';
export * from './model/lod';
export * from './model/map';
export * from './model/theme';
