/**
 * Runs the frame-level fuzzer (test/fuzz/fuzzer.ts) against an in-process
 * broker (with a data directory, so the durable paths are fuzzed too).
 *
 *   npm test                                   a bounded run: WARREN_FUZZ_CASES (default 5000), seed 0x5eed
 *   npm run fuzz -- --cases 50000 --seed 7     a longer run (test/fuzz/run.mjs sets the variables below)
 *   WARREN_FUZZ_SEED=7 WARREN_FUZZ_ONLY=1234 npx vitest run test/fuzz    replays case 1234 of seed 7
 *
 * Invariants, after every case: the broker answers a control connection
 * (amqplib, open for the whole run) with a round trip of a message, and that
 * connection only ever receives its own messages; the case's own socket saw
 * only well-formed output, nothing after connection.close but close-ok, and
 * no other case's marker bytes (see runCase). After every batch (no fuzz
 * socket open): no connection, session, consumer, unacked delivery or
 * exclusive queue is left behind by the fuzz connections, and no internal
 * error (a non-AMQP exception, answered 541) was logged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Channel } from 'amqplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { connect, eventually, type AmqpConnection } from '../helpers/broker.js';
import { caseInput, caseMarker, makeMarker, prng, runCase, templates, type CaseInput, type CaseResult } from './fuzzer.js';

const SEED = Number(process.env.WARREN_FUZZ_SEED ?? 0x5eed);
const CASES = Number(process.env.WARREN_FUZZ_CASES ?? 5000);
const ONLY = process.env.WARREN_FUZZ_ONLY ? process.env.WARREN_FUZZ_ONLY.split(',').map(Number) : null;
const CONCURRENCY = Number(process.env.WARREN_FUZZ_CONCURRENCY ?? 16);
const BATCH = 250;

type Line = Record<string, unknown>;

describe('frame-level fuzzing', () => {
  let broker: Broker;
  let dataDir: string;
  const errorLines: Line[] = [];
  let control: AmqpConnection;
  let ctl: Channel;
  let ctlQueue = '';
  const controlProblems: string[] = [];
  const waiting = new Map<string, () => void>();
  let ctlSeq = 0;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'warren-fuzz-'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) errorLines.push(JSON.parse(line) as Line);
        cb();
      },
    });
    broker = await Broker.start({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      fsync: false,
      closeTimeout: 100,
      handshakeTimeout: 2000,
      // Short enough that cases holding unacked deliveries also run into the consumer timeout.
      consumerTimeout: 40,
      logger: pino({ level: 'error' }, sink),
    });
    control = await connect(broker);
    control.on('error', (err: Error) => controlProblems.push(`control connection error: ${err.message}`));
    control.on('close', () => controlProblems.push('control connection closed'));
    ctl = await control.createChannel();
    ctl.on('error', (err: Error) => controlProblems.push(`control channel error: ${err.message}`));
    ctlQueue = (await ctl.assertQueue('', { exclusive: true })).queue;
    await ctl.consume(ctlQueue, (msg) => {
      if (!msg) {
        controlProblems.push('control consumer cancelled by the server');
        return;
      }
      const text = msg.content.toString('latin1');
      const done = waiting.get(text);
      if (!done) controlProblems.push(`control connection received a message it did not send: ${JSON.stringify(text.slice(0, 80))}`);
      else {
        waiting.delete(text);
        done();
      }
    }, { noAck: true });
  });

  afterAll(async () => {
    await control?.close().catch(() => {});
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The broker still routes and delivers for the control connection. */
  async function controlRoundTrip(): Promise<string | null> {
    const text = `ctl-${++ctlSeq}`;
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { waiting.delete(text); resolve(false); }, 10_000);
      waiting.set(text, () => { clearTimeout(timer); resolve(true); });
    });
    ctl.sendToQueue(ctlQueue, Buffer.from(text));
    return (await got) ? null : `control round trip ${text} got no delivery within 10 s`;
  }

  /** What the fuzz connections may not leave behind once they are all gone. */
  function leftovers(): string[] {
    const problems: string[] = [];
    const vhost = broker.vhosts.get('/')!;
    if (broker.connectionCount !== 1) problems.push(`${broker.connectionCount} connections open (expected only the control one)`);
    const channels = vhost.snapshot().channels;
    if (channels !== 1) problems.push(`${channels} channels open in the vhost (expected the control channel's only)`);
    const controlConn = broker.connections()[0]?.id;
    for (const q of vhost.queues.values()) {
      if (q.exclusiveOwner && q.exclusiveOwner.id !== controlConn) problems.push(`exclusive queue ${q.name} outlived its connection`);
      if (q.name !== ctlQueue && q.consumerCount > 0) problems.push(`queue ${q.name} still has ${q.consumerCount} consumer(s)`);
      if (q.unackedCount !== 0) problems.push(`queue ${q.name} still counts ${q.unackedCount} unacked`);
    }
    return problems;
  }

  it('every template is a valid session: the broker answers it without any error and closes with close-ok', async () => {
    const markers = new Set<string>();
    const rng = prng(SEED);
    for (const t of templates(makeMarker(rng))) {
      const marker = makeMarker(rng);
      markers.add(marker);
      const session = templates(marker).find((s) => s.name === t.name)!;
      const input: CaseInput = { index: -1, marker, template: t.name, mutations: [], chunks: [Buffer.concat(session.frames)], spacedWrites: false };
      // A valid session always ends with the server closing: no need to give up on a slow (loaded) server early.
      const r = await runCase(input, { port: broker.port, markers, idleMs: 10_000 });
      expect(r.violations, t.name).toEqual([]);
      expect(r.close, t.name).toBeUndefined();
      expect(r.methods, t.name).not.toContain(MethodId.ChannelClose);
      expect(r.methods.at(-1), t.name).toBe(MethodId.ConnectionCloseOk);
      expect(r.ended, t.name).toBe('server-closed');
    }
    await eventually(() => broker.connectionCount === 1, 10_000, 'template connections closed');
    expect(leftovers()).toEqual([]);
    expect(errorLines).toEqual([]);
  });

  it(`survives ${ONLY ? `case(s) ${ONLY.join(', ')}` : `${CASES} mutated sessions`} of seed ${SEED} with every invariant holding`, async () => {
    const indexes = ONLY ?? Array.from({ length: CASES }, (_, i) => i);
    // Every marker up front (for the cross-talk check); each case is built when it runs.
    const markers = new Set(indexes.map((i) => caseMarker(SEED, i)));
    const failures: Array<{ input: CaseInput; problems: string[] }> = [];
    const ended: Record<string, number> = {};
    const codes: Record<string, number> = {};
    let bytes = 0;
    const t0 = Date.now();

    for (let b = 0; b < indexes.length; b += BATCH) {
      const batch = indexes.slice(b, b + BATCH);
      const byPeer = new Map<string, CaseInput>();
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, async () => {
        while (next < batch.length) {
          const input = caseInput(SEED, batch[next++]!);
          const r: CaseResult = await runCase(input, { port: broker.port, markers });
          byPeer.set(r.peer, input);
          ended[r.ended] = (ended[r.ended] ?? 0) + 1;
          const code = r.close ? String(r.close.replyCode) : r.methods.includes(MethodId.ConnectionCloseOk) ? 'close-ok' : 'none';
          codes[code] = (codes[code] ?? 0) + 1;
          bytes += input.chunks.reduce((s, c) => s + c.length, 0);
          const problems = [...r.violations];
          const ctlProblem = await controlRoundTrip();
          if (ctlProblem) problems.push(ctlProblem);
          if (problems.length) failures.push({ input, problems });
        }
      }));
      // Batch boundary: every fuzz socket is gone; the server must have forgotten them all.
      try {
        await eventually(() => leftovers().length === 0, 10_000, 'fuzz connections cleaned up');
      } catch {
        failures.push({ input: caseInput(SEED, batch[0]!), problems: [`after the batch of cases ${batch[0]}..${batch.at(-1)}: ${leftovers().join('; ')}`] });
      }
      for (const line of errorLines.splice(0)) {
        const input = byPeer.get(String(line.peer));
        const what = `logged at ${line.level}: ${String(line.msg)} ${JSON.stringify(line.err ?? line.text ?? '')}`.slice(0, 400);
        failures.push({ input: input ?? caseInput(SEED, batch[0]!), problems: [input ? what : `${what} (peer ${String(line.peer)} not matched to a case)`] });
      }
      if (controlProblems.length) failures.push({ input: caseInput(SEED, batch[0]!), problems: controlProblems.splice(0) });
      if (failures.length >= 20) break;
    }
    const secs = (Date.now() - t0) / 1000;
    const summary = `fuzz: seed ${SEED}, ${indexes.length} cases in ${secs.toFixed(1)} s (${(indexes.length / secs).toFixed(0)}/s, ${(bytes / 2 ** 20).toFixed(1)} MiB sent); ended ${JSON.stringify(ended)}; server replies ${JSON.stringify(codes)}`;
    console.log(summary);
    if (failures.length) {
      const report = failures.slice(0, 20).map(({ input, problems }) =>
        `case ${input.index} (${input.template}; ${input.mutations.join('; ')}):\n    ${problems.join('\n    ')}\n    replay: WARREN_FUZZ_SEED=${SEED} WARREN_FUZZ_ONLY=${input.index} npx vitest run test/fuzz`).join('\n');
      expect.fail(`${failures.length} fuzz failure(s)\n${report}`);
    }
    expect(await controlRoundTrip()).toBeNull();
  }, Math.max(120_000, CASES * 60));
});
