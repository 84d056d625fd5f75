// DurableReplies on its own: the durability it waits on is the recording store's (replies go out
// only at `sync()`), its channel is a recorder that holds frames while a reply waits (as
// Channel.onFrame does), and its connection's read gate is a recorder whose flow control the test
// switches. What it must keep: request order, a bound on what it holds, and no stuck channel.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MethodId, type MethodInit } from '../../src/protocol/index.js';
import type { AmqpError } from '../../src/protocol/index.js';
import type { ChannelHost } from '../../src/server/channel-host.js';
import { DurableReplies } from '../../src/server/durable-replies.js';
import type { HeldInputGate } from '../../src/server/read-gate.js';
import { RecordingStore } from '../helpers/recording-store.js';

class Gate implements HeldInputGate {
  publishingPaused = false;
  heldBack = 0;
  resumes: (() => void)[] = [];
  holdBack(on: boolean): void {
    this.heldBack += on ? 1 : -1;
  }
  whenPublishing(resume: () => void): void {
    this.resumes.push(resume);
  }
}

function setup() {
  const store = new RecordingStore();
  const gate = new Gate();
  const closes: AmqpError[] = [];
  const conn = { id: 1, logger: pino({ level: 'silent' }), gate, closeWithError: (err: AmqpError) => closes.push(err) } as unknown as ChannelHost;
  const replies: number[] = [];
  const handled: string[] = [];
  const owner = {
    id: 1,
    open: true,
    throwOnReply: false,
    /** Called after a frame is handled (to play a publish that gets the connection throttled). */
    afterFrame: (_text: string): void => {},
    isOpen: () => owner.open,
    reply: (m: MethodInit): void => {
      if (owner.throwOnReply) throw new Error('the socket went away');
      replies.push(m.id);
    },
    onFrame: (type: number, payload: Buffer): void => {
      if (input.waiting) return input.hold(type, payload);
      handled.push(payload.toString());
      owner.afterFrame(payload.toString());
    },
  };
  const input = new DurableReplies(owner, conn, () => store);
  const frame = (text: string): void => owner.onFrame(3, Buffer.from(text));
  return { store, gate, closes, replies, handled, owner, input, frame };
}

const COMMIT_OK: MethodInit = { id: MethodId.TxCommitOk, args: {} };

describe('DurableReplies', () => {
  it('holds frames behind a waiting reply and handles them, in order, once it is sent', () => {
    const { store, input, frame, handled, replies } = setup();
    input.replyWhenDurable(COMMIT_OK);
    frame('a');
    frame('b');
    expect(handled).toEqual([]);
    expect(input.held).toBe(2);
    store.sync();
    expect(replies).toEqual([MethodId.TxCommitOk]);
    expect(handled).toEqual(['a', 'b']);
    expect(input.waiting).toBe(false);
    frame('c');
    expect(handled).toEqual(['a', 'b', 'c']);
  });

  it('pauses reading past 256 frames held and reads again once they are handled', () => {
    const { store, input, frame, gate, handled } = setup();
    input.replyWhenDurable(COMMIT_OK);
    for (let i = 0; i < 256; i++) frame(`f${i}`);
    expect(gate.heldBack).toBe(0);
    frame('f256');
    expect(gate.heldBack).toBe(1);
    frame('f257');
    expect(gate.heldBack).toBe(1);
    store.sync();
    expect(handled).toHaveLength(258);
    expect(gate.heldBack).toBe(0);
  });

  it('pauses reading past 1 MiB held', () => {
    const { input, gate } = setup();
    input.replyWhenDurable(COMMIT_OK);
    input.hold(3, Buffer.alloc(700 * 1024));
    expect(gate.heldBack).toBe(0);
    input.hold(3, Buffer.alloc(400 * 1024));
    expect(gate.heldBack).toBe(1);
    input.clear();
    expect(gate.heldBack).toBe(0);
    expect(input.held).toBe(0);
  });

  it('stops handling held frames when flow control pauses the publisher, and goes on, in order, when it lifts', () => {
    const { store, input, frame, gate, handled, owner } = setup();
    owner.afterFrame = (text) => {
      if (text === 'p2') gate.publishingPaused = true;
    };
    input.replyWhenDurable(COMMIT_OK);
    for (const f of ['p1', 'p2', 'p3', 'p4']) frame(f);
    store.sync();
    expect(handled).toEqual(['p1', 'p2']);
    expect(input.waiting).toBe(true);
    expect(gate.resumes).toHaveLength(1);
    frame('p5'); // read once the socket resumed: after what is still held
    gate.publishingPaused = false;
    gate.resumes.shift()!();
    expect(handled).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(input.waiting).toBe(false);
    expect(input.held).toBe(0);
  });

  it('a reply that throws does not leave the channel holding every later frame: the connection closes with 541', () => {
    const { store, input, frame, handled, owner, closes, gate } = setup();
    input.replyWhenDurable(COMMIT_OK);
    for (let i = 0; i < 300; i++) frame(`f${i}`);
    expect(gate.heldBack).toBe(1);
    owner.throwOnReply = true;
    expect(() => store.sync()).toThrow('the socket went away');
    expect(input.waiting).toBe(false);
    expect(input.held).toBe(0);
    expect(gate.heldBack).toBe(0);
    expect(closes.map((e) => [e.replyCode, e.replyText])).toEqual([[541, 'INTERNAL_ERROR - the socket went away']]);
    expect(handled).toEqual([]);
  });

  it('drops what it holds when its channel closed before the reply could be sent', () => {
    const { store, input, frame, handled, owner, replies } = setup();
    input.replyWhenDurable(COMMIT_OK);
    frame('a');
    owner.open = false;
    store.sync();
    expect(replies).toEqual([]);
    expect(handled).toEqual([]);
    expect(input.held).toBe(0);
    expect(input.waiting).toBe(false);
  });
});
