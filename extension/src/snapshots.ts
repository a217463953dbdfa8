/**
 * Saved snapshots: named, time-stamped `.memscope.json` files in the
 * workspace's storage (the global storage without a workspace), with a small
 * index so listing them reads no snapshot. Imports are validated first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Snapshot } from '../../common/snapshot';
import { readSnapshotFile } from '../../common/snapshot-file';

export interface SavedSnapshot {
  id: string;
  name: string;
  takenAt: string;
  prefix: string;
  elements: number;
  file: string;
}

type Index = Record<string, Omit<SavedSnapshot, 'id' | 'file'>>;

export class SnapshotStore {
  constructor(private readonly dir: string) {}

  private indexFile(): string {
    return path.join(this.dir, 'index.json');
  }

  private readIndex(): Index {
    try {
      const x = JSON.parse(fs.readFileSync(this.indexFile(), 'utf8')) as unknown;
      return x && typeof x === 'object' && !Array.isArray(x) ? (x as Index) : {};
    } catch {
      return {};
    }
  }

  private writeIndex(i: Index): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.indexFile()}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(i));
    fs.renameSync(tmp, this.indexFile());
  }

  /** Newest last; entries whose file is gone are dropped. */
  list(prefix?: string): SavedSnapshot[] {
    const idx = this.readIndex();
    return Object.entries(idx)
      .map(([id, e]) => ({ id, ...e, file: path.join(this.dir, id) }))
      .filter((e) => fs.existsSync(e.file) && (!prefix || e.prefix === prefix))
      .sort((a, b) => a.takenAt.localeCompare(b.takenAt) || a.id.localeCompare(b.id));
  }

  save(snap: Snapshot, name: string): SavedSnapshot {
    const named: Snapshot = { ...snap, name };
    const stamp = snap.takenAt.replace(/[:.]/g, '-');
    const base = `${snap.target.filePrefix}-${stamp}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    let id = `${base}.memscope.json`;
    for (let n = 2; fs.existsSync(path.join(this.dir, id)); n++) id = `${base}-${n}.memscope.json`;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, id), JSON.stringify(named));
    const idx = this.readIndex();
    const elements = snap.heaps.reduce((n, h) => n + h.elements.length, 0);
    idx[id] = { name, takenAt: snap.takenAt, prefix: snap.target.filePrefix, elements };
    this.writeIndex(idx);
    return { id, name, takenAt: snap.takenAt, prefix: snap.target.filePrefix, elements, file: path.join(this.dir, id) };
  }

  /** Validates a file from elsewhere and keeps a copy. */
  import(file: string): SavedSnapshot {
    const snap = readSnapshotFile(file);
    return this.save(snap, snap.name ?? path.basename(file).replace(/\.memscope\.json$|\.json$/, ''));
  }

  load(idOrPath: string): Snapshot {
    const inStore = path.join(this.dir, path.basename(idOrPath));
    if (!idOrPath.includes('/') && fs.existsSync(inStore)) return readSnapshotFile(inStore, idOrPath);
    return readSnapshotFile(idOrPath);
  }

  nameOf(idOrPath: string): string {
    return this.readIndex()[path.basename(idOrPath)]?.name ?? path.basename(idOrPath);
  }
}
