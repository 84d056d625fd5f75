import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { closedWith, connect, startBroker } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The management API makes every check an AMQP channel makes for the same
 * operation (issue 15's table): declaring with a dead-letter or alternate
 * exchange needs write on it, and a publish's user_id must name the user
 * unless it is an impersonator. Otherwise the API would be a way around them.
 */
describe('management HTTP API: the same permission checks as an AMQP channel', () => {
  let broker: Broker;
  const as = { user: 'limited', password: 'pw' };
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
    broker.addUser('limited', 'pw', ['management']);
    broker.setPermissions('limited', '/', { configure: '^own-', write: '^own-', read: '^own-' });
    broker.addUser('relay', 'pw', ['management', 'impersonator']);
    broker.setPermissions('relay', '/', { configure: '.*', write: '.*', read: '.*' });
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('PUT a queue with x-dead-letter-exchange needs write on that exchange (as queue.declare does)', async () => {
    const text = "ACCESS_REFUSED - write access to exchange 'amq.direct' in vhost '/' refused for user 'limited'";
    // Over AMQP the same user is refused with the same text.
    const conn = await connect(broker, as);
    const ch = await conn.createChannel();
    const refused = closedWith(ch);
    ch.assertQueue('own-dlq', { arguments: { 'x-dead-letter-exchange': 'amq.direct' } }).catch(() => undefined);
    const err = await refused;
    expect(err.code).toBe(403);
    expect(err.message).toContain(text);
    await conn.close();

    const r = await api(broker, '/api/queues/%2F/own-dlq', { method: 'PUT', body: { arguments: { 'x-dead-letter-exchange': 'amq.direct' } }, ...as });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'not_authorised', reason: text });
    expect((await api(broker, '/api/queues/%2F/own-dlq')).status).toBe(404);
    // A dead-letter exchange it may write to is fine.
    expect((await api(broker, '/api/queues/%2F/own-dlq', { method: 'PUT', body: { arguments: { 'x-dead-letter-exchange': 'own-dlx' } }, ...as })).status).toBe(201);
  });

  it('PUT an exchange with alternate-exchange needs write on the alternate exchange', async () => {
    const r = await api(broker, '/api/exchanges/%2F/own-x', { method: 'PUT', body: { type: 'direct', arguments: { 'alternate-exchange': 'amq.fanout' } }, ...as });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'not_authorised', reason: "ACCESS_REFUSED - write access to exchange 'amq.fanout' in vhost '/' refused for user 'limited'" });
    expect((await api(broker, '/api/exchanges/%2F/own-x')).status).toBe(404);
    expect((await api(broker, '/api/exchanges/%2F/own-x', { method: 'PUT', body: { type: 'direct', arguments: { 'alternate-exchange': 'own-ae' } }, ...as })).status).toBe(201);
  });

  it('a published user_id must name the user, unless it is an impersonator', async () => {
    expect((await api(broker, '/api/queues/%2F/own-inbox', { method: 'PUT', body: {}, ...as })).status).toBe(201);
    const publish = (user: string, userId: string): ReturnType<typeof api> =>
      api(broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', user, password: 'pw', body: { routing_key: 'own-inbox', payload: 'x', payload_encoding: 'string', properties: { user_id: userId } } });
    broker.setPermissions('limited', '/', { configure: '^own-', write: '^(own-|amq\\.default$)', read: '^own-' });
    const forged = await publish('limited', 'guest');
    expect(forged.status).toBe(400);
    expect(forged.body).toEqual({ error: 'bad_request', reason: "406 PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'limited'" });
    expect((await get<Json>(broker, '/api/queues/%2F/own-inbox')).messages).toBe(0);
    expect((await publish('limited', 'limited')).body).toEqual({ routed: true });
    expect((await publish('relay', 'guest')).body).toEqual({ routed: true });
    const got = await api(broker, '/api/queues/%2F/own-inbox/get', { method: 'POST', body: { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' } });
    expect((got.body as Json[]).map((m) => m.properties.user_id)).toEqual(['limited', 'guest']);
  });

  it('a topic publish checks topic write on every CC and BCC key too', async () => {
    broker.setPermissions('limited', '/', { configure: '^own-', write: '^(own-|amq\\.topic$)', read: '^own-' });
    broker.setTopicPermissions('limited', '/', 'amq.topic', { write: '^public\\.', read: '.*' });
    const publish = (headers: Json): ReturnType<typeof api> =>
      api(broker, '/api/exchanges/%2F/amq.topic/publish', { method: 'POST', ...as, body: { routing_key: 'public.news', payload: 'x', payload_encoding: 'string', properties: { headers } } });
    expect((await publish({ CC: ['public.more'] })).body).toEqual({ routed: false });
    const cc = await publish({ CC: ['private.salaries'] });
    expect(cc.status).toBe(401);
    expect(cc.body).toEqual({ error: 'not_authorised', reason: "ACCESS_REFUSED - write access to topic 'private.salaries' in exchange 'amq.topic' in vhost '/' refused for user 'limited'" });
    const bcc = await publish({ BCC: ['private.bonus'] });
    expect((bcc.body as Json).reason).toBe("ACCESS_REFUSED - write access to topic 'private.bonus' in exchange 'amq.topic' in vhost '/' refused for user 'limited'");
  });

  it('a binding from a topic exchange checks topic read on its routing key (as queue.bind does)', async () => {
    broker.setPermissions('limited', '/', { configure: '^own-', write: '^own-', read: '^(own-|amq\\.topic$)' });
    broker.setTopicPermissions('limited', '/', 'amq.topic', { write: '.*', read: '^public\\.' });
    expect((await api(broker, '/api/queues/%2F/own-spy', { method: 'PUT', body: {}, ...as })).status).toBe(201);
    expect((await api(broker, '/api/bindings/%2F/e/amq.topic/q/own-spy', { method: 'POST', body: { routing_key: 'public.#' }, ...as })).status).toBe(201);
    const refused = await api(broker, '/api/bindings/%2F/e/amq.topic/q/own-spy', { method: 'POST', body: { routing_key: 'private.#' }, ...as });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'not_authorised', reason: "ACCESS_REFUSED - read access to topic 'private.#' in exchange 'amq.topic' in vhost '/' refused for user 'limited'" });
    const keys = (await get<Json[]>(broker, '/api/queues/%2F/own-spy/bindings')).map((b) => b.routing_key);
    expect(keys).not.toContain('private.#');
  });

  it('the aliveness test acts as the user: configure, write and read checks as a channel would make them', async () => {
    broker.setPermissions('limited', '/', { configure: '^own-', write: '^own-', read: '^own-' });
    const refused = await api(broker, '/api/aliveness-test/%2F', as);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'not_authorised', reason: "ACCESS_REFUSED - configure access to queue 'aliveness-test' in vhost '/' refused for user 'limited'" });
    expect((await api(broker, '/api/queues/%2F/aliveness-test')).status).toBe(404);
    broker.setPermissions('limited', '/', { configure: '.*', write: '.*', read: '.*' });
    expect((await api(broker, '/api/aliveness-test/%2F', as)).body).toEqual({ status: 'ok' });
  });
});
