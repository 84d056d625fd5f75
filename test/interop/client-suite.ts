/**
 * The scenario (see scenario.ts) for one client: starts Warren in-process,
 * prepares `p.from-js` with amqplib, runs the client once — a script under
 * clients/ in a child process, or (JS clients) a function in this process
 * reporting the same steps — then checks each step it reported and the broker
 * state it left behind (through amqplib and a raw socket).
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { describeWithTool, type Tool } from './requirements.js';
import {
  BODY,
  FROM_JS_PROPS,
  TOPIC,
  amqplibGet,
  messageCount,
  missingQueueText,
  prepareFromJs,
  rawGet,
  runClient,
  specFor,
  stepOf,
  stepsOf,
  topicResult,
  withChannel,
  type AmqplibConnection,
  type ClientRun,
  type JsonObject,
  type Props,
  type Spec,
  type Step,
} from './scenario.js';

export type Emit = (step: string, fields?: Record<string, unknown>) => void;

export interface ClientScenario {
  title: string;
  /** The external program the client needs (scripts); JS clients have none. */
  tool?: Tool;
  prefix: string;
  /** Script clients: the arguments after `tool.command` (script path, port, spec…). */
  args?: (port: number, spec: Spec) => string[];
  /** JS clients: the scenario in this process, reporting the same steps as the scripts. */
  inProcess?: (port: number, spec: Spec, emit: Emit) => Promise<void>;
  /** Headers the client sends on top of CORE_HEADERS. */
  extraHeaders?: JsonObject;
  body?: Buffer;
  /** What the client reports for the message it consumed (default: exactly what it sent). */
  expectConsumed?: (sent: Props) => Props;
  /** What the client reports for the amqplib message it got (default: exactly what amqplib sent). */
  expectFromJs?: (sent: Props) => Props;
  /**
   * The client prints its own encoding of the properties (`self_encoding`
   * step): 'flags' = property flags + list, 'header' = the whole content-header
   * payload. The copy in `p.props-raw` must carry exactly those bytes.
   */
  selfEncoding?: 'flags' | 'header';
  /** A reason when amqplib cannot decode what this client sends (no cross-check then). */
  noAmqplibCrossCheck?: string;
  /** What the client cannot show (with why): those checks are skipped or relaxed. */
  gaps?: {
    /** declare-ok's consumer-count is not exposed (reason). */
    declareConsumerCount?: string;
    /** basic.get-ok's message-count is not exposed (reason). */
    getMessageCount?: string;
    /** The reply text arrives inside a longer exception message: checked by inclusion. */
    errorTextWrapped?: boolean;
  };
  /** Client-specific checks of the `error` step (how the client surfaces the 404). */
  checkError?: (step: Step) => void;
  timeoutMs?: number;
}

/** Runs an in-process scenario like a script: steps, and a failure as exit code 1 with the stack. */
async function runInProcess(fn: NonNullable<ClientScenario['inProcess']>, port: number, spec: Spec, timeoutMs: number): Promise<ClientRun> {
  const started = Date.now();
  const steps: Step[] = [];
  const emit: Emit = (step, fields = {}) => { steps.push({ step, ...(JSON.parse(JSON.stringify(fields)) as object) }); };
  let stderr = '';
  let code: number | null = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(port, spec, emit),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`scenario still running after ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } catch (err) {
    stderr = err instanceof Error ? (err.stack ?? err.message) : String(err);
    code = 1;
  } finally {
    clearTimeout(timer);
  }
  return { steps, stdout: steps.map((s) => JSON.stringify(s)).join('\n'), stderr, code, signal: null, ms: Date.now() - started };
}

export function defineClientScenario(o: ClientScenario): void {
  const tool: Tool = o.tool ?? { name: 'node', available: true, command: process.execPath, reason: '', install: '' };
  describeWithTool(o.title, tool, () => {
    let broker: Broker;
    let conn: AmqplibConnection;
    let run: ClientRun;
    const body = o.body ?? BODY;
    const spec = specFor(o.prefix, o.extraHeaders, body);
    const p = o.prefix;

    beforeAll(async () => {
      broker = await startBroker();
      conn = await amqp.connect(broker.url());
      await prepareFromJs(conn, p);
      const timeoutMs = o.timeoutMs ?? 30_000;
      if (o.inProcess) run = await runInProcess(o.inProcess, broker.port, spec, timeoutMs);
      else if (o.args) run = await runClient(tool.command, o.args(broker.port, spec), { timeoutMs });
      else throw new Error(`${o.title}: neither args nor inProcess`);
      if (process.env.INTEROP_DEBUG) console.log(`[${o.title}] ${run.ms} ms, exit ${run.code}\n${run.stdout}\n${run.stderr}`);
    }, 45_000);
    afterAll(async () => {
      await conn?.close();
      await broker?.stop();
    });

    it('connects', () => {
      // The client reports its connect step once (clients that expose the server's properties also report the product).
      expect(stepsOf(run, 'connect')).toHaveLength(1);
      const s = stepOf(run, 'connect');
      if (s.server_product !== undefined) expect(s.server_product).toBe('RabbitMQ');
    });

    it('declares an exchange, queues and bindings', async () => {
      const counted = o.gaps?.declareConsumerCount === undefined;
      expect(stepsOf(run, 'declare').map((s) => [s.queue, s.message_count, counted ? s.consumer_count : 'n/a'])).toEqual(
        ['props', 'props-js', 'props-raw'].map((q) => [`${p}.${q}`, 0, counted ? 0 : 'n/a']),
      );
      await withChannel(conn, (ch) => ch.checkExchange(`${p}.direct`));
    });

    it('publishes every basic property, consumes it back identical, and acks', async () => {
      const s = stepOf(run, 'consume');
      expect({ exchange: s.exchange, routing_key: s.routing_key, redelivered: s.redelivered }).toEqual({ exchange: `${p}.direct`, routing_key: 'props', redelivered: false });
      expect(s.body_hex).toBe(body.toString('hex'));
      expect(s.props).toEqual((o.expectConsumed ?? ((x) => x))(spec.props));
      // acked: not requeued when the client disconnected
      expect(await messageCount(conn, `${p}.props`)).toBe(0);
    });

    if (o.selfEncoding) {
      it('the broker relays the content header byte for byte', async () => {
        const mine = Buffer.from(stepOf(run, 'self_encoding').hex as string, 'hex');
        const got = await rawGet(broker.port, `${p}.props-raw`);
        expect(got).not.toBeNull();
        expect(got!.body.equals(body)).toBe(true);
        expect(got!.header.readUInt16BE(0)).toBe(60);
        expect(Number(got!.header.readBigUInt64BE(4))).toBe(body.length);
        const sent = o.selfEncoding === 'flags' ? got!.header.subarray(12) : got!.header;
        expect(sent.toString('hex')).toBe(mine.toString('hex'));
      });
    }

    if (o.noAmqplibCrossCheck === undefined) {
      it('amqplib reads the same body and properties from another copy', async () => {
        const got = await amqplibGet(conn, `${p}.props-js`);
        expect(got).not.toBeNull();
        expect(got!.body.equals(body)).toBe(true);
        expect(got!.props).toEqual(spec.props);
      });
    }

    it('basic.get reads the message amqplib published with every property, then finds the queue empty', async () => {
      const s = stepOf(run, 'get');
      expect(s.body_hex).toBe(BODY.toString('hex'));
      if (o.gaps?.getMessageCount === undefined) expect(s.message_count).toBe(0);
      expect(s.redelivered).toBe(false);
      expect(s.routing_key).toBe(`${p}.from-js`);
      expect(s.props).toEqual((o.expectFromJs ?? ((x) => x))(FROM_JS_PROPS));
      expect(stepOf(run, 'get_empty').empty).toBe(true);
      expect(await messageCount(conn, `${p}.from-js`)).toBe(0);
    });

    it('publisher confirms: every publish is confirmed', async () => {
      expect(stepOf(run, 'confirms')).toMatchObject({ published: 3, confirmed: 3 });
      expect(await messageCount(conn, `${p}.confirms`)).toBe(3);
    });

    it('a topic exchange routes to the queues whose patterns match', () => {
      expect(topicResult(run)).toEqual(TOPIC.expected);
    });

    it('passive declare of a missing queue fails with 404 NOT_FOUND; the connection lives on', () => {
      const s = stepOf(run, 'error');
      expect(s.code).toBe(404);
      if (o.gaps?.errorTextWrapped) expect(s.text).toContain(missingQueueText(p));
      else expect(s.text).toBe(missingQueueText(p));
      o.checkError?.(s);
      expect(stepOf(run, 'after_error')).toMatchObject({ connection_open: true, channel_ok: true });
    });

    it('closes cleanly', () => {
      stepOf(run, 'done');
      expect(run.code, run.stderr).toBe(0);
    });
  });
}
