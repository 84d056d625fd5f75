import { describe, expect, it } from 'vitest';
import { CorruptFrameError, frame, FrameDecoder, FrameType, readPath, seqFields, writeFields } from '../../src/cluster/wire.js';

describe('replication wire format', () => {
  it('round-trips frames split at every byte boundary', () => {
    const frames = [
      ...frame(FrameType.Write, writeFields(7, 1024, -1, 'messages/00000001.wlog'), [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('defgh')]),
      ...frame(FrameType.Mark, seqFields(9)),
    ];
    const bytes = Buffer.concat(frames);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(Buffer.from(bytes.subarray(0, cut))), ...d.push(Buffer.from(bytes.subarray(cut)))];
      expect(out.map((f) => f.type)).toEqual([FrameType.Write, FrameType.Mark]);
      const w = out[0]!.body;
      expect(w.readDoubleBE(0)).toBe(7);
      expect(w.readDoubleBE(8)).toBe(1024);
      const { path, end } = readPath(w, 24);
      expect(path).toBe('messages/00000001.wlog');
      expect(w.subarray(end).toString()).toBe('abcdefgh');
      expect(out[1]!.body.readDoubleBE(0)).toBe(9);
    }
  });

  it('frames an empty file (a zero-length buffer over a zero-length ArrayBuffer) with a valid checksum', () => {
    const empty = new Uint8Array(new ArrayBuffer(0));
    const bytes = Buffer.concat(frame(FrameType.Write, writeFields(1, 0, 0, 'messages/00000001.wlog'), [Buffer.from(empty.buffer)]));
    const [f] = new FrameDecoder().push(bytes);
    expect(f!.type).toBe(FrameType.Write);
    expect(readPath(f!.body, 24).path).toBe('messages/00000001.wlog');
  });

  it('detects a corrupted byte by its checksum', () => {
    const bytes = Buffer.concat(frame(FrameType.Write, writeFields(1, 0, -1, 'definitions.log'), [Buffer.from('{"op":1}\n')]));
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x20;
    expect(() => new FrameDecoder().push(bytes)).toThrow(CorruptFrameError);
  });
});
