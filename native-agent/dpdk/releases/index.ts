/**
 * Every release file, oldest first (the first one is the shape the others
 * are checked against). Adding a release: its YY.MM.json here and its tests
 * (test/unit/layout-files.test.ts checks that every file of this folder is
 * listed, and scripts/verify-layout.mjs checks it against a live primary).
 */
import r2211 from './22.11.json';
import r2311 from './23.11.json';
import r2411 from './24.11.json';
import r2511 from './25.11.json';
import r2607 from './26.07.json';

export const RELEASE_FILES: readonly unknown[] = [r2211, r2311, r2411, r2511, r2607];
