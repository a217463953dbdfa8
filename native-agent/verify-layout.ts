/**
 * Checks a release's layout file (dpdk/releases/YY.MM.json) against a live,
 * idle primary of that release, field by field, with values known without
 * the file: the primary's maps (where it mapped its config and each fbarray
 * file, its memseg lists' reservations), the runtime dir's file names and
 * sizes, its command line, and what that release's `dpdk-proc-info -m`
 * prints (segments and memzones), plus the structure's own sums (an element
 * chain that adds up to its heap's size, back pointers, the ring's mask).
 * Every field of the file must be checked at least once: one unchecked is a
 * failure too. Used by scripts/verify-layout.mjs; never by the readers.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findTarget } from './discovery';
import { type Layout, MEMCONFIG_MAGIC, releaseFileProblem } from './dpdk/layout';
import { RELEASE_FILES } from './dpdk/releases';
import { VmReader } from './native/vm';
import { parseProcInfo, type ProcInfoMemzone, type ProcInfoSegment } from './proc-info';
import { type MapRange, readCmdline, readMaps } from './procfs';

export interface FieldResult {
  field: string;
  ok: boolean;
  why: string;
}

export interface Verdict {
  release: string;
  results: FieldResult[];
  /** Fields of the file no check touched. */
  unchecked: string[];
}

/** `dpdk-proc-info -m` of the target's own release (in its root when it has one). */
function procInfo(prefix: string, root: string | null): { segs: ProcInfoSegment[]; zones: ProcInfoMemzone[] } {
  const argv = ['dpdk-proc-info', '--file-prefix', prefix, '--no-pci', '--', '-m'];
  const r = root ? spawnSync('chroot', [root, ...argv], { encoding: 'utf8', timeout: 30_000 }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`dpdk-proc-info -m of that release failed (${r.status ?? r.signal}): ${(r.stderr || '').trim().split('\n').pop() ?? ''}`);
  const { segments: segs, memzones: zones } = parseProcInfo(r.stdout);
  return { segs, zones };
}

/** Every leaf of the file, as "section.field" paths. */
function leaves(o: unknown, at = ''): string[] {
  if (o === null || typeof o !== 'object') return [at];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => leaves(v, at ? `${at}.${k}` : k));
}

const cstr = (b: Buffer, off: number, max: number) => {
  const end = b.indexOf(0, off);
  return b.toString('latin1', off, end < 0 || end > off + max ? off + max : end);
};
const u64 = (b: Buffer, off: number) => b.readBigUInt64LE(off);
const num = (b: Buffer, off: number) => Number(b.readBigUInt64LE(off));

export function verifyLayoutFile(prefix: string, L: Layout, runtimeDirs: string[] = []): Verdict {
  const t = findTarget(prefix, { runtimeDirs });
  if (t.pid === null || !t.alive) throw new Error(`no live primary uses prefix "${prefix}"`);
  const pid = t.pid;
  const results: FieldResult[] = [];
  const checked = new Set<string>();
  const check = (fields: string[], ok: boolean, why: string) => {
    for (const f of fields) checked.add(f);
    results.push({ field: fields.join(' '), ok, why });
  };
  const maps: MapRange[] = readMaps(pid) ?? [];
  const mappingOf = (file: string) => maps.find((m) => m.path === file || m.path.endsWith(`/${path.basename(path.dirname(file))}/${path.basename(file)}`));
  const mapAt = (va: bigint) => maps.find((m) => m.start === va);
  const cfgFile = path.join(t.runtimeDir, 'config');
  const file = fs.readFileSync(cfgFile);
  const reader = new VmReader(pid);
  const C = L.memConfig;

  // --- rte_mem_config as a whole
  check(['memConfig.size'], file.length === C.size, `the config file is ${file.length} bytes`);
  check(['memConfig.magic'], file.readUInt32LE(C.magic) === MEMCONFIG_MAGIC, `magic 0x${file.readUInt32LE(C.magic).toString(16)}`);
  check(['memConfig.version'], file.readUInt32LE(C.version) === t.versionWord, `version word 0x${file.readUInt32LE(C.version).toString(16)} (${t.dpdkVersion})`);
  const cfgMap = mappingOf(t.runtimeDirInRoot + '/config') ?? mappingOf(cfgFile);
  const memCfgAddr = u64(file, C.memCfgAddr);
  check(['memConfig.memCfgAddr'], !!cfgMap && cfgMap.start === memCfgAddr, `mem_cfg_addr 0x${memCfgAddr.toString(16)}; the primary maps its config at ${cfgMap ? '0x' + cfgMap.start.toString(16) : 'no address'}`);
  const mem = reader.read(Number(memCfgAddr), C.size);
  check(['memConfig.memCfgAddr'], !!mem && mem.readUInt32LE(C.magic) === MEMCONFIG_MAGIC && mem.readUInt32LE(C.version) === t.versionWord, 'the primary\u2019s memory at mem_cfg_addr holds the config');
  const argv = readCmdline(pid) ?? [];
  check(['memConfig.legacyMem'], (file.readUInt32LE(C.legacyMem) !== 0) === argv.includes('--legacy-mem'), `legacy_mem ${file.readUInt32LE(C.legacyMem)}, --legacy-mem ${argv.includes('--legacy-mem') ? 'given' : 'not given'}`);
  check(['memConfig.singleFileSegments'], (file.readUInt32LE(C.singleFileSegments) !== 0) === argv.includes('--single-file-segments'), `single_file_segments ${file.readUInt32LE(C.singleFileSegments)}`);
  for (const [k, off] of Object.entries(C.locks)) check([`memConfig.locks.${k}`], file.readInt32LE(off) === 0, `an idle primary's ${k} word is ${file.readInt32LE(off)}`);
  check(['memConfig.memoryHotplugLock', 'rwlock.blocksReaders'], (file.readInt32LE(C.memoryHotplugLock) & L.rwlock.blocksReaders) === 0, `hot-plug lock word ${file.readInt32LE(C.memoryHotplugLock)}`);
  check(['build.externalSocketMin', 'memConfig.nextSocketId'], file.readUInt32LE(C.nextSocketId) >= L.build.externalSocketMin, `next_socket_id ${file.readUInt32LE(C.nextSocketId)}`);
  const arrays = C.memsegs + L.build.maxMemsegLists * L.memsegList.size <= C.tailqHead && C.tailqHead + L.build.maxTailq * L.tailqHead.size <= C.mallocHeaps && C.mallocHeaps + L.build.maxHeaps * L.heap.size <= C.nextSocketId;
  check(['build.maxMemsegLists', 'build.maxTailq', 'build.maxHeaps', 'memsegList.size', 'tailqHead.size', 'heap.size'], arrays, 'the arrays end before the field that follows them');

  // --- memseg lists: names are fbarray files, reservations and fbarrays are mapped where the config says
  const { segs, zones } = procInfo(prefix, t.root ? t.root.path : null);
  const files = new Set(fs.readdirSync(t.runtimeDir));
  const F = L.fbarray;
  const M = L.memsegList;
  const S = L.memseg;
  let lists = 0;
  for (let i = 0; i < L.build.maxMemsegLists; i++) {
    const at = C.memsegs + i * M.size;
    const baseVa = u64(file, at + M.baseVa);
    if (baseVa === 0n) continue;
    lists++;
    const arr = at + M.memsegArr;
    const name = cstr(file, arr + F.name, F.nameLen);
    check(['memConfig.memsegs', 'memsegList.memsegArr', 'fbarray.name', 'fbarray.nameLen'], files.has(`fbarray_${name}`), `list ${i}'s fbarray is named "${name}"`);
    const m = /^memseg-(\d+)k-(\d+)-(\d+)$/.exec(name);
    const pageSz = num(file, at + M.pageSz);
    check(['memsegList.pageSz'], !!m && Number(m[1]) * 1024 === pageSz, `list ${i} page size ${pageSz}`);
    check(['memsegList.socketId'], !!m && Number(m[2]) === file.readInt32LE(at + M.socketId), `list ${i} socket ${file.readInt32LE(at + M.socketId)}`);
    const resv = mapAt(baseVa);
    const len = num(file, at + M.len);
    check(['memsegList.baseVa', 'memsegList.len'], !!resv && maps.some((r) => r.start < baseVa + BigInt(len) && r.end >= baseVa + BigInt(len)), `list ${i} at 0x${baseVa.toString(16)}, ${len} bytes: the primary maps its reservation there`);
    check(['memsegList.external', 'memsegList.heap'], file.readUInt32LE(at + M.external) === 0 && file.readUInt32LE(at + M.heap) === 1, `list ${i} external ${file.readUInt32LE(at + M.external)}, heap ${file.readUInt32LE(at + M.heap)}`);
    check(['memsegList.version'], file.readUInt32LE(at + M.version) < 1 << 24, `list ${i} version ${file.readUInt32LE(at + M.version)}`);
    const data = u64(file, arr + F.data);
    const fmap = mappingOf(path.join(t.runtimeDirInRoot, `fbarray_${name}`));
    check(['fbarray.data'], !!fmap && fmap.start === data, `list ${i}'s fbarray data 0x${data.toString(16)}; its file is mapped at ${fmap ? '0x' + fmap.start.toString(16) : 'no address'}`);
    const flen = file.readUInt32LE(arr + F.len);
    const eltSz = file.readUInt32LE(arr + F.eltSz);
    const words = Math.ceil(flen / 64);
    if (!files.has(`fbarray_${name}`) || !fmap) {
      // a name that is no file: the offsets point elsewhere, nothing further of this list can be read
      check(['fbarray.len', 'fbarray.eltSz', 'fbarray.count', 'memseg.addr'], false, `list ${i} cannot be followed: its fbarray "${name}" is no file of the runtime dir, or not mapped`);
      continue;
    }
    const fsize = fs.statSync(path.join(t.runtimeDir, `fbarray_${name}`)).size;
    const want = Math.ceil((flen * eltSz + L.fbarrayMask.words + words * L.fbarrayMask.wordSize) / 4096) * 4096;
    check(['fbarray.len', 'fbarray.eltSz', 'memseg.size', 'fbarrayMask.words', 'fbarrayMask.wordSize'], eltSz === S.size && fsize === want, `list ${i}: ${flen} elements of ${eltSz} bytes and the mask make ${want} bytes; the file has ${fsize}`);
    const arrMem = reader.read(Number(data), flen * eltSz + L.fbarrayMask.words + words * 8);
    if (!arrMem) {
      check(['fbarray.data'], false, `list ${i}'s fbarray at 0x${data.toString(16)} cannot be read`);
      continue;
    }
    const mask = arrMem.subarray(flen * eltSz);
    check(['fbarrayMask.nMasks'], mask.readUInt32LE(L.fbarrayMask.nMasks) === words, `list ${i} n_masks ${mask.readUInt32LE(L.fbarrayMask.nMasks)}, ${words} words`);
    const used: number[] = [];
    for (let j = 0; j < flen; j++) if ((mask.readBigUInt64LE(L.fbarrayMask.words + Math.floor(j / 64) * 8) >> BigInt(j % 64)) & 1n) used.push(j);
    const theirs = segs.filter((s) => s.list === i);
    check(['fbarray.count'], file.readUInt32LE(arr + F.count) === theirs.length && used.length === theirs.length, `list ${i}: count ${file.readUInt32LE(arr + F.count)}, ${used.length} mask bits, proc-info ${theirs.length} segments`);
    const differ = used.filter((j) => {
      const o = j * eltSz;
      const s = theirs.find((x) => x.seg === j);
      return !s || u64(arrMem, o + S.addr) !== s.va || u64(arrMem, o + S.iova) !== s.iova || num(arrMem, o + S.len) !== s.len || num(arrMem, o + S.hugepageSz) !== s.hugepageSz || arrMem.readInt32LE(o + S.socketId) !== s.socket;
    });
    check(['memseg.addr', 'memseg.iova', 'memseg.len', 'memseg.hugepageSz', 'memseg.socketId'], differ.length === 0, `list ${i}: ${used.length} segments as proc-info prints them${differ.length ? `; not: ${differ.slice(0, 8).join(' ')}` : ''}`);
    // RTE_MEMSEG_FLAG_DO_NOT_FREE (bit 0) is the only flag of a hugepage segment
    const flagged = used.filter((j) => (arrMem.readUInt32LE(j * eltSz + S.flags) & ~1) !== 0);
    check(['memseg.flags'], flagged.length === 0, `list ${i}: segment flags within DO_NOT_FREE${flagged.length ? `; not: ${flagged.slice(0, 8).join(' ')}` : ''}`);
    check(['fbarray.rwlock'], file.readInt32LE(arr + F.rwlock) === 0, `list ${i}'s fbarray lock word`);
  }
  check(['memsegList.size'], lists > 1, `${lists} lists found at a stride of ${M.size}`);
  check(['fbarray.size'], M.memsegArr + F.size <= M.size && C.memzones + F.size <= C.memsegs, 'an fbarray fits where the list and the config hold one');

  // --- memzones: the memzone fbarray's elements are what proc-info prints
  const Z = L.memzone;
  const mzName = cstr(file, C.memzones + F.name, F.nameLen);
  check(['memConfig.memzones'], mzName === 'memzone' && files.has('fbarray_memzone'), `the memzone fbarray is named "${mzName}"`);
  const mzData = u64(file, C.memzones + F.data);
  const mzLen = file.readUInt32LE(C.memzones + F.len);
  const mzElt = file.readUInt32LE(C.memzones + F.eltSz);
  check(['memzone.size'], mzElt === Z.size, `memzone elements are ${mzElt} bytes`);
  const mzMem = reader.read(Number(mzData), mzLen * mzElt + L.fbarrayMask.words + Math.ceil(mzLen / 64) * 8) ?? Buffer.alloc(0);
  check(['fbarray.data'], mzMem.length > 0, `the memzone fbarray at 0x${mzData.toString(16)} can be read`);
  const mzMask = mzMem.subarray(mzLen * mzElt);
  const zoneAt = new Map<string, { addr: bigint; struct: bigint }>();
  let zonesSeen = 0;
  for (let j = 0; mzMem.length && j < mzLen; j++) {
    if (!((mzMask.readBigUInt64LE(L.fbarrayMask.words + Math.floor(j / 64) * 8) >> BigInt(j % 64)) & 1n)) continue;
    zonesSeen++;
    const o = j * mzElt;
    const name = cstr(mzMem, o + Z.name, Z.nameLen);
    const z = zones.find((x) => x.name === name);
    const addr = u64(mzMem, o + Z.addr);
    zoneAt.set(name, { addr, struct: mzData + BigInt(o) });
    check(['memzone.name', 'memzone.nameLen', 'memzone.addr', 'memzone.len', 'memzone.socketId', 'memzone.flags'], !!z && z.va === addr && z.len === num(mzMem, o + Z.len) && z.socket === mzMem.readInt32LE(o + Z.socketId) && z.flags === mzMem.readUInt32LE(o + Z.flags), `memzone "${name}" as proc-info prints it`);
    const seg = segs.find((s) => s.va <= addr && addr < s.va + BigInt(s.len));
    check(['memzone.hugepageSz'], !!seg && num(mzMem, o + Z.hugepageSz) === seg.hugepageSz, `memzone "${name}" page size`);
    check(['memzone.iova'], !!seg && (seg.iova === 0n || u64(mzMem, o + Z.iova) === seg.iova + (addr - seg.va)), `memzone "${name}" iova follows its segment's`);
  }
  check(['fbarray.count'], zonesSeen === zones.length && file.readUInt32LE(C.memzones + F.count) === zones.length, `${zonesSeen} memzones, proc-info ${zones.length}`);

  // --- malloc heaps and their element chains
  const H = L.heap;
  const E = L.elem;
  let heaps = 0;
  for (let i = 0; i < L.build.maxHeaps; i++) {
    const at = C.mallocHeaps + i * H.size;
    const name = cstr(file, at + H.name, H.nameLen);
    if (!name) continue;
    heaps++;
    const socket = file.readUInt32LE(at + H.socketId);
    check(['memConfig.mallocHeaps', 'heap.name', 'heap.nameLen', 'heap.socketId'], name === `socket_${socket}`, `heap ${i} "${name}" for socket ${socket}`);
    check(['heap.lock'], file.readInt32LE(at + H.lock) === 0, `heap ${i}'s lock word`);
    const heapAddr = memCfgAddr + BigInt(at);
    let cur = u64(file, at + H.first);
    let prev = 0n;
    let total = 0;
    let busy = 0;
    let chainOk = true;
    let n = 0;
    const stateMask = (1 << E.stateBits) - 1;
    const states = new Set(Object.values(E.states));
    while (cur !== 0n && n++ < 5_000_000) {
      const e = reader.read(Number(cur), E.headerLen);
      if (!e) {
        chainOk = false;
        break;
      }
      const size = num(e, E.size);
      const st = e.readUInt32LE(E.stateWord) & stateMask;
      const next = u64(e, E.next);
      if (u64(e, E.heap) !== heapAddr || u64(e, E.prev) !== prev || !states.has(st) || size === 0 || (next !== 0n && next !== cur + BigInt(size + E.trailerLen) && next < cur + BigInt(size))) chainOk = false;
      const msl = u64(e, E.msl);
      if (msl < memCfgAddr + BigInt(C.memsegs) || msl >= memCfgAddr + BigInt(C.memsegs + L.build.maxMemsegLists * M.size) || (msl - memCfgAddr - BigInt(C.memsegs)) % BigInt(M.size) !== 0n) chainOk = false;
      if (st === E.states.busy) {
        busy++;
        // a memzone's data starts one header (and its pad) after its element
        const pad = e.readUInt32LE(E.pad);
        for (const [zn, z] of zoneAt) if (z.addr === cur + BigInt(E.headerLen + pad)) zoneAt.set(zn, { ...z, addr: -1n });
      }
      if (!chainOk) break;
      total += size;
      prev = cur;
      cur = next;
    }
    check(['heap.first', 'heap.last', 'elem.heap', 'elem.prev', 'elem.next', 'elem.msl', 'elem.size', 'elem.stateWord', 'elem.stateBits', 'elem.states.free', 'elem.states.busy', 'elem.states.pad', 'elem.trailerLen'], chainOk && prev === u64(file, at + H.last), `heap ${i}'s chain: ${n} elements, back pointers, states, msl pointers and the last element`);
    check(['heap.totalSize'], total === num(file, at + H.totalSize), `heap ${i}: elements add up to ${total}, total_size ${num(file, at + H.totalSize)}`);
    check(['heap.allocCount'], busy === file.readUInt32LE(at + H.allocCount), `heap ${i}: ${busy} busy elements, alloc_count ${file.readUInt32LE(at + H.allocCount)}`);
  }
  const unplaced = [...zoneAt].filter(([, z]) => z.addr !== -1n).map(([n]) => n);
  check(['elem.headerLen', 'elem.pad'], heaps > 0 && unplaced.length === 0, `every memzone starts one header (and pad) after a busy element${unplaced.length ? `; not: ${unplaced.join(', ')}` : ''}`);
  // the debug cookie's place holds no cookie in a build without malloc debug
  check(['elem.headerCookie', 'build.mallocDebug'], !L.build.mallocDebug && E.headerCookie + 8 <= E.headerLen, 'malloc debug off: the cookie slot lies inside the header');

  // --- tailqs, mempools and their rings
  const T = L.tailqHead;
  const tq = new Map<string, bigint>();
  for (let i = 0; i < L.build.maxTailq; i++) {
    const at = C.tailqHead + i * T.size;
    const name = cstr(file, at + T.name, T.nameLen);
    if (name) tq.set(name, u64(file, at + T.first));
  }
  check(['memConfig.tailqHead', 'tailqHead.name', 'tailqHead.nameLen'], tq.has('RTE_MEMPOOL') && tq.has('RTE_RING'), `tailqs found: ${[...tq.keys()].join(', ')}`);
  const P = L.mempool;
  const Q = L.tailqEntry;
  let entry = tq.get('RTE_MEMPOOL') ?? 0n;
  check(['tailqHead.first'], entry !== 0n, 'the RTE_MEMPOOL tailq has a first entry');
  let pools = 0;
  while (entry !== 0n && pools < 1000) {
    const te = reader.read(Number(entry), Q.size);
    const mpAddr = te ? u64(te, Q.data) : 0n;
    const mp = te ? reader.read(Number(mpAddr), P.size) : null;
    if (!te || !mp) {
      check(['tailqEntry.data', 'mempool.name'], false, `the RTE_MEMPOOL tailq entry at 0x${entry.toString(16)} cannot be followed`);
      break;
    }
    const name = cstr(mp, P.name, P.nameLen);
    pools++;
    const zone = zoneAt.get(`MP_${name}`);
    check(['tailqEntry.data', 'tailqEntry.size', 'mempool.name', 'mempool.nameLen'], !!zone, `pool "${name}" has its memzone MP_${name}`);
    check(['mempool.mz'], !!zone && u64(mp, P.mz) === zone.struct, `pool "${name}"'s mz points at its memzone`);
    check(['mempool.socketId'], mp.readInt32LE(P.socketId) === 0 || mp.readInt32LE(P.socketId) === -1, `pool "${name}" socket ${mp.readInt32LE(P.socketId)}`);
    const size = mp.readUInt32LE(P.poolSize);
    check(['mempool.poolSize', 'mempool.populatedSize'], size > 0 && mp.readUInt32LE(P.populatedSize) === size, `pool "${name}": size ${size}, populated ${mp.readUInt32LE(P.populatedSize)}`);
    const total = mp.readUInt32LE(P.headerSize) + mp.readUInt32LE(P.eltSize) + mp.readUInt32LE(P.trailerSize);
    // the chunks hold size objects of header + element + trailer each
    let chunk = u64(mp, P.memListFirst);
    let chunks = 0;
    let chunkBytes = 0;
    const D = L.memhdr;
    while (chunk !== 0n && chunks < 10_000) {
      const h = reader.read(Number(chunk), D.size)!;
      chunks++;
      chunkBytes += num(h, D.len);
      const a = u64(h, D.addr);
      const seg = segs.find((s) => s.va <= a && a < s.va + BigInt(s.len));
      check(['memhdr.addr', 'memhdr.iova', 'memhdr.size'], !!seg && (seg.iova === 0n || u64(h, D.iova) === seg.iova + (a - seg.va)), `pool "${name}" chunk ${chunks} lies in a segment, its iova follows`);
      chunk = u64(h, D.next);
    }
    check(['mempool.nbMemChunks', 'mempool.memListFirst', 'memhdr.next', 'memhdr.len'], chunks === mp.readUInt32LE(P.nbMemChunks) && chunkBytes >= size * total, `pool "${name}": ${chunks} chunks (nb_mem_chunks ${mp.readUInt32LE(P.nbMemChunks)}), ${chunkBytes} bytes for ${size} objects of ${total}`);
    check(['mempool.headerSize', 'mempool.eltSize', 'mempool.trailerSize'], total % 8 === 0 && mp.readUInt32LE(P.eltSize) > 0 && mp.readUInt32LE(P.headerSize) < 4096, `pool "${name}" object ${mp.readUInt32LE(P.headerSize)}+${mp.readUInt32LE(P.eltSize)}+${mp.readUInt32LE(P.trailerSize)}`);
    check(['mempool.flags'], mp.readUInt32LE(P.flags) < 1 << 16, `pool "${name}" flags 0x${mp.readUInt32LE(P.flags).toString(16)}`);
    const cacheSize = mp.readUInt32LE(P.cacheSize);
    const caches = u64(mp, P.localCache);
    const K = L.mempoolCache;
    let cached = 0;
    let cacheOk = cacheSize <= 512 && (cacheSize === 0 || caches !== 0n);
    if (cacheSize > 0 && caches !== 0n) {
      const all = reader.read(Number(caches), L.build.maxLcore * K.size)!;
      for (let c = 0; c < L.build.maxLcore; c++) {
        const len = all.readUInt32LE(c * K.size + K.len);
        if (len > cacheSize * 2) cacheOk = false;
        cached += len;
      }
    }
    // the lcore caches follow the struct, rounded up to a cache line
    const line = BigInt(L.build.cacheLine);
    check(['mempool.size'], cacheSize === 0 || caches === mpAddr + ((BigInt(P.size) + line - 1n) / line) * line, `pool "${name}"'s caches start right after its ${P.size}-byte struct`);
    check(['mempool.cacheSize', 'mempool.localCache', 'mempoolCache.size', 'mempoolCache.len', 'build.maxLcore', 'build.cacheLine'], cacheOk && K.size % L.build.cacheLine === 0, `pool "${name}" cache size ${cacheSize}, ${cached} objects in lcore caches`);
    // its ring: the memzone RG_<pool name>, a power-of-two size, objects in the ring plus caches make the pool
    const R = L.ring;
    const ringAddr = u64(mp, P.poolData);
    const ringZone = [...zoneAt].find(([n]) => n === `RG_${name}` || n === `RG_MP_${name}`);
    const ring = reader.read(Number(ringAddr), R.consTail + 4)!;
    const rsize = ring.readUInt32LE(R.size);
    const used = (ring.readUInt32LE(R.prodTail) - ring.readUInt32LE(R.consTail)) >>> 0;
    check(['mempool.poolData', 'ring.name', 'ring.nameLen'], !!ringZone && cstr(ring, R.name, R.nameLen) === `MP_${name}`, `pool "${name}"'s ring is named "${cstr(ring, R.name, R.nameLen)}"`);
    check(['ring.size', 'ring.mask', 'ring.capacity'], (rsize & (rsize - 1)) === 0 && ring.readUInt32LE(R.mask) === rsize - 1 && ring.readUInt32LE(R.capacity) <= rsize && ring.readUInt32LE(R.capacity) >= size, `ring size ${rsize}, mask ${ring.readUInt32LE(R.mask)}, capacity ${ring.readUInt32LE(R.capacity)}`);
    check(['ring.prodTail', 'ring.consTail'], used + cached <= size, `${used} objects in the ring and ${cached} in caches of ${size}`);
    entry = u64(te, Q.next);
  }
  check(['tailqEntry.next'], pools > 0, `${pools} pools on the RTE_MEMPOOL tailq`);

  // --- the libraries the primary maps
  const libs = maps.map((m) => path.basename(m.path));
  check(['sonames.eal'], libs.some((b) => b.startsWith(L.sonames.eal)), `the primary maps ${libs.find((b) => b.startsWith('librte_eal')) ?? 'no librte_eal'}`);
  check(['sonames.mempool'], libs.some((b) => b.startsWith(L.sonames.mempool)), `the primary maps ${libs.find((b) => b.startsWith('librte_mempool.')) ?? 'no librte_mempool'}`);
  const eal = maps.find((m) => path.basename(m.path).startsWith(L.sonames.eal));
  const libDir = eal ? path.dirname(eal.path) : '';
  const pmds = eal && t.root ? path.join(t.root.path, path.dirname(t.ealLibrary ?? ''), L.sonames.pmds) : path.join(libDir, L.sonames.pmds);
  check(['sonames.pmds'], fs.existsSync(pmds), `the plugin folder ${L.sonames.pmds} beside librte_eal`);
  check(['release', 'status', 'source'], t.dpdkVersion?.startsWith(L.release + '.') ?? false, `the target runs DPDK ${t.dpdkVersion}`);
  const unchecked = leaves(L).filter((f) => !checked.has(f));
  return { release: L.release, results, unchecked };
}

/** The layout a file holds, shape-checked like Memscope's own. */
export function readLayoutFile(file: string): Layout {
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const problem = releaseFileProblem(data, RELEASE_FILES[0]);
  if (problem) throw new Error(`${file} is not a layout file: ${problem}`);
  return data as Layout;
}
