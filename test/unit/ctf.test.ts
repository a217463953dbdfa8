// The CTF reader (common/ctf.ts) on hand-made traces laid out as DPDK's
// rte_trace_save() writes them (the real thing is read in test/dpdk/leaks.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CTF_MAGIC, CtfError, decodeChannel, liveAllocations, parseMetadata } from '../../common/ctf';

const META = `/* CTF 1.8 */
typealias integer {size = 8; base = x;}:= uint8_t;
typealias integer {size = 16; base = x;} := uint16_t;
typealias integer {size = 32; base = x;} := uint32_t;
typealias integer {size = 64; base = x;} := uint64_t;
typealias integer {size = 32; signed = true;} := int32_t;
typealias integer {size = 64; base = x;} := uintptr_t;
typealias integer {size = 8; signed = false; encoding = ASCII; } := string_bounded_t;
typealias integer {size = 64; base = x;} := size_t;
trace {
    major = 1;
    minor = 8;
    byte_order = le;
    packet.header := struct {
	    uint32_t magic;
	    uint8_t  uuid[16];
    };
};
clock {
    name = "dpdk";
    freq =           2600000000;
};
stream {
    packet.context := struct {
         uint32_t cpu_id;
         string_bounded_t name[32];
    };
    event.header := struct {
          uint48_clock_dpdk_t timestamp;
          uint16_t id;
    } align(64);
};
event {
    id = 20;
    name = "lib.eal.mem.malloc";
    fields := struct {
        string_bounded_t type[32];
        size_t size;
        uint32_t _align;
        int32_t socket;
        uintptr_t ptr;
    };
};
event {
    id = 22;
    name = "lib.eal.mem.free";
    fields := struct {
        uintptr_t ptr;
    };
};
`;

class Channel {
  private readonly parts: Buffer[] = [];
  constructor() {
    const h = Buffer.alloc(56);
    h.writeUInt32LE(CTF_MAGIC, 0);
    h.write('memscope-demo-p', 24);
    this.parts.push(h);
  }
  private head(ts: bigint, id: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE((BigInt(id) << 48n) | ts);
    return b;
  }
  malloc(ts: bigint, type: string, size: number, ptr: bigint): this {
    const f = Buffer.alloc(56);
    f.write(type, 0);
    f.writeBigUInt64LE(BigInt(size), 32);
    f.writeInt32LE(-1, 44);
    f.writeBigUInt64LE(ptr, 48);
    this.parts.push(this.head(ts, 20), f);
    return this;
  }
  free(ts: bigint, ptr: bigint): this {
    const f = Buffer.alloc(8);
    f.writeBigUInt64LE(ptr);
    this.parts.push(this.head(ts, 22), f);
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

test('metadata: event ids, names and field layouts; the packet header and context sizes', () => {
  const m = parseMetadata(META);
  assert.equal(m.packetBytes, 4 + 16 + 4 + 32);
  assert.equal(m.clockFreq, 2600000000);
  assert.deepEqual(
    m.events.get(20)!.fields.map((f) => [f.name, f.size, f.kind]),
    [
      ['type', 32, 'string'],
      ['size', 8, 'uint'],
      ['_align', 4, 'uint'],
      ['socket', 4, 'int'],
      ['ptr', 8, 'uint'],
    ],
  );
  assert.throws(() => parseMetadata('not ctf'), CtfError);
  assert.throws(() => parseMetadata(META.replace('uint48_clock_dpdk_t timestamp', 'uint64_t timestamp')), /not DPDK/);
});

test('events decode in order; malloc then free leaves nothing; channels merge by time', () => {
  const m = parseMetadata(META);
  const a = new Channel().malloc(100n, 'my_type', 1000, 0x1000n).malloc(300n, 'other', 50, 0x2000n).free(400n, 0x1000n);
  const b = new Channel().malloc(200n, 'from_b', 64, 0x3000n).free(500n, 0x2000n).malloc(600n, 'reused', 70, 0x1000n);
  const ev = decodeChannel(m, a.bytes());
  assert.deepEqual(
    ev.map((e) => [e.ts, e.name, e.values.ptr]),
    [
      [100n, 'lib.eal.mem.malloc', 0x1000n],
      [300n, 'lib.eal.mem.malloc', 0x2000n],
      [400n, 'lib.eal.mem.free', 0x1000n],
    ],
  );
  assert.equal(ev[0]!.values.type, 'my_type');
  assert.equal(ev[0]!.values.socket, -1n);
  const live = liveAllocations(m, [a.bytes(), b.bytes()]);
  assert.deepEqual(
    [...live.entries()].map(([p, v]) => [p, v.type]).sort(),
    [
      [0x1000n, 'reused'],
      [0x3000n, 'from_b'],
    ].sort(),
  );
});

test('a wrapped ring: reading stops where time goes back or an id is unknown', () => {
  const m = parseMetadata(META);
  const garbage = Buffer.alloc(16, 0xee);
  const c = new Channel().malloc(900n, 'newest', 10, 0x5000n).malloc(50n, 'older', 10, 0x6000n);
  assert.deepEqual(decodeChannel(m, c.bytes()).map((e) => e.values.type), ['newest']);
  const g = new Channel().malloc(10n, 'ok', 10, 0x7000n).raw(garbage).malloc(20n, 'after', 10, 0x8000n);
  assert.deepEqual(decodeChannel(m, g.bytes()).map((e) => e.values.type), ['ok']);
  assert.throws(() => decodeChannel(m, new Uint8Array(8)), /CTF magic/);
  // a truncated last event is not read
  const t = new Channel().malloc(10n, 'whole', 10, 0x9000n).bytes();
  assert.equal(decodeChannel(m, t.subarray(0, t.length - 4)).length, 0);
});
