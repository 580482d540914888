import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeHeaders, DICTIONARY, encodeHeaders, FRAME, MAX_FRAME, MAX_HEADER_BLOCK, RST, SpdySession } from './spdy.ts';
import { frameType, spdyClient as client } from './spdy-testing.ts';

/** A session with every event and every frame it wrote recorded. */
function session() {
  const events: unknown[] = [];
  const written: Buffer[] = [];
  let ended: (why: string | undefined) => void = () => {};
  const end = new Promise<string | undefined>((r) => { ended = r; });
  const s = new SpdySession((f) => written.push(f), {
    open: (id, headers, fin) => events.push({ open: id, headers: Object.fromEntries(headers), fin }),
    data: (id, data, fin) => events.push({ data: id, text: data.toString(), fin }),
    reset: (id) => events.push({ reset: id }),
    end: (why) => { events.push({ end: why ?? null }); ended(why); },
  });
  const settle = () => s.idle();
  return { s, events, written, end, settle };
}

describe('the SPDY/3 header dictionary', () => {
  it('is the 1423 bytes of the spec, words first', () => {
    expect(DICTIONARY.length).toBe(1423);
    expect(DICTIONARY.subarray(0, 11)).toEqual(Buffer.from('\0\0\0\x07options', 'latin1'));
    expect(DICTIONARY.subarray(-13).toString('latin1')).toBe('utf-,*,enq=0.');
  });
});

describe('header blocks', () => {
  it('round-trip, names lower-cased, the first of several values kept', () => {
    expect(Object.fromEntries(decodeHeaders(encodeHeaders({ streamType: 'error', Port: '80', requestID: '0' })))).toEqual({ streamtype: 'error', port: '80', requestid: '0' });
    expect(decodeHeaders(encodeHeaders({ a: 'one\0two' })).get('a')).toBe('one');
  });

  it('rejects blocks that lie about their lengths or hold too many pairs', () => {
    expect(() => decodeHeaders(Buffer.from([0, 0]))).toThrow('no pair count');
    expect(() => decodeHeaders(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0x61]))).toThrow('runs past the block');
    expect(() => decodeHeaders(Buffer.from([0, 0, 1, 0]))).toThrow('256 pairs');
  });
});

describe('a session', () => {
  it('hears streams and data in order, even split byte by byte, and replies in the shared zlib stream', async () => {
    const c = client();
    const t = session();
    const bytes = Buffer.concat([
      await c.synStream(1, { streamType: 'error', port: '80', requestID: '0' }),
      c.data(1, Buffer.alloc(0), true),
      await c.synStream(3, { streamType: 'data', port: '80', requestID: '0' }),
      c.data(3, Buffer.from('GET / HTTP/1.0\r\n\r\n')),
    ]);
    for (const b of bytes) t.s.receive(Buffer.from([b]));
    await t.settle();
    expect(t.events).toEqual([
      { open: 1, headers: { streamtype: 'error', port: '80', requestid: '0' }, fin: false },
      { data: 1, text: '', fin: true },
      { open: 3, headers: { streamtype: 'data', port: '80', requestid: '0' }, fin: false },
      { data: 3, text: 'GET / HTTP/1.0\r\n\r\n', fin: false },
    ]);
    t.s.reply(1);
    t.s.reply(3);
    t.s.send(3, Buffer.from('HTTP/1.0 200 OK\r\n'), true);
    await t.settle();
    expect(t.written.map(frameType)).toEqual([FRAME.synReply, FRAME.synReply, 'data']);
    // The replies' header blocks continue one zlib stream, as the client's inflater reads them.
    const inflate = zlib.createInflate({ dictionary: DICTIONARY });
    const blocks: Buffer[] = [];
    inflate.on('data', (d: Buffer) => blocks.push(d));
    for (const f of t.written.slice(0, 2)) {
      expect(f.readUInt32BE(8)).toBe(t.written.indexOf(f) === 0 ? 1 : 3);
      inflate.write(f.subarray(12));
      await new Promise<void>((r) => inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      expect(decodeHeaders(Buffer.concat(blocks.splice(0))).size).toBe(0);
    }
    const data = t.written[2];
    expect([data.readUInt32BE(0), data[4], data.subarray(8).toString()]).toEqual([3, 1, 'HTTP/1.0 200 OK\r\n']);
  });

  it('echoes pings, hears resets, and ends at the client\'s GOAWAY', async () => {
    const c = client();
    const t = session();
    const ping = c.control(FRAME.ping, 0, c.u32(7));
    t.s.receive(Buffer.concat([ping, c.control(FRAME.rstStream, 0, Buffer.concat([c.u32(5), c.u32(RST.cancel)])), c.control(FRAME.goAway, 0, Buffer.concat([c.u32(0), c.u32(0)]))]));
    expect(await t.end).toBeUndefined();
    expect(t.written).toEqual([ping]);
    expect(t.events).toEqual([{ reset: 5 }, { end: null }]);
  });

  it('resets a stream whose id a client may not use', async () => {
    const c = client();
    const t = session();
    t.s.receive(await c.synStream(2, { a: 'b' }));
    await t.settle();
    expect(t.events).toEqual([]);
    expect(t.written.map(frameType)).toEqual([FRAME.rstStream]);
    expect(t.written[0].readUInt32BE(12)).toBe(RST.protocolError);
  });

  const goAwayStatus = (t: ReturnType<typeof session>) => {
    const g = t.written.find((f) => frameType(f) === FRAME.goAway);
    return g?.readUInt32BE(12);
  };

  it('ends with a protocol error at a frame too large to hold', async () => {
    const t = session();
    const h = Buffer.alloc(8);
    h.writeUInt32BE(1, 0);
    h.writeUInt32BE(MAX_FRAME + 1, 4);
    t.s.receive(h);
    expect(await t.end).toBe(`a frame of ${MAX_FRAME + 1} bytes (at most ${MAX_FRAME})`);
    expect(goAwayStatus(t)).toBe(RST.protocolError);
  });

  it('ends with a protocol error at another SPDY version', async () => {
    const c = client();
    const t = session();
    t.s.receive(c.control(FRAME.ping, 0, c.u32(1), 2));
    expect(await t.end).toBe('SPDY version 2 (this server speaks 3)');
  });

  it('ends with a protocol error at a header block that inflates past its limit', async () => {
    const c = client();
    const t = session();
    // Compresses to a few hundred bytes.
    t.s.receive(await c.synStream(1, {}, 0, Buffer.alloc(MAX_HEADER_BLOCK * 4)));
    expect(await t.end).toBe(`a header block inflates past ${MAX_HEADER_BLOCK} bytes`);
    expect(goAwayStatus(t)).toBe(RST.protocolError);
  });

  it('ends with a protocol error at a header block that is not zlib', async () => {
    const c = client();
    const t = session();
    t.s.receive(c.control(FRAME.synStream, 0, Buffer.concat([c.u32(1), c.u32(0), Buffer.from([0, 0]), Buffer.from('not zlib at all')])));
    expect(await t.end).toMatch(/^header compression: /);
  });
});
