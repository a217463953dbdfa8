/**
 * What `dpdk-proc-info -- -m` prints (memsegs and memzones), parsed: DPDK's
 * own view of a primary, the oracle of the tests and of
 * scripts/verify-layout.mjs. Never used to read a target.
 */

export interface ProcInfoSegment {
  list: number;
  seg: number;
  iova: bigint;
  len: number;
  va: bigint;
  socket: number;
  hugepageSz: number;
}

export interface ProcInfoMemzone {
  id: number;
  name: string;
  len: number;
  va: bigint;
  socket: number;
  flags: number;
}

/** A proc-info address: hex, or "(nil)". */
export function hexOrNil(s: string): bigint {
  return s === '(nil)' ? 0n : BigInt(s);
}

/** Parses `dpdk-proc-info -- -m` output (memsegs and memzones). */
export function parseProcInfo(text: string): { segments: ProcInfoSegment[]; memzones: ProcInfoMemzone[] } {
  const segments: ProcInfoSegment[] = [];
  const memzones: ProcInfoMemzone[] = [];
  const segRe =
    /^Segment (\d+)-(\d+): IOVA:(0x[0-9a-f]+|\(nil\)), len:(\d+), virt:(0x[0-9a-f]+|\(nil\)), socket_id:(-?\d+), hugepage_sz:(\d+)/;
  const zoneRe =
    /^Zone (\d+): name:<(.*)>, len:(0x[0-9a-f]+), virt:(0x[0-9a-f]+|\(nil\)), socket_id:(-?\d+), flags:(\d+)/;
  for (const line of text.split('\n')) {
    let m = segRe.exec(line);
    if (m) {
      segments.push({
        list: Number(m[1]),
        seg: Number(m[2]),
        iova: hexOrNil(m[3]!),
        len: Number(m[4]),
        va: hexOrNil(m[5]!),
        socket: Number(m[6]),
        hugepageSz: Number(m[7]),
      });
      continue;
    }
    m = zoneRe.exec(line);
    if (m) {
      memzones.push({
        id: Number(m[1]),
        name: m[2]!,
        len: Number(BigInt(m[3]!)),
        va: hexOrNil(m[4]!),
        socket: Number(m[5]),
        flags: Number(m[6]),
      });
    }
  }
  return { segments, memzones };
}
