// Reply texts carry RabbitMQ's prefix for their code, built in one place (src/protocol/errors.ts).
import { describe, expect, it } from 'vitest';
import { AmqpError, ReplyCode, replyText } from '../../src/protocol/index.js';

describe('replyText', () => {
  it('prefixes the code\'s name, as AmqpError does', () => {
    expect(replyText(ReplyCode.ConnectionForced, 'broker shutdown')).toBe('CONNECTION_FORCED - broker shutdown');
    expect(replyText(200, 'bye')).toBe('OK - bye');
    expect(replyText(ReplyCode.NotFound, "no queue 'q' in vhost '/'")).toBe(new AmqpError(ReplyCode.NotFound, "no queue 'q' in vhost '/'").replyText);
  });

  it('keeps a reply text within a shortstr: 252 bytes and "..."', () => {
    const text = replyText(ReplyCode.ConnectionForced, 'x'.repeat(400));
    expect(Buffer.byteLength(text)).toBe(255);
    expect(text.startsWith('CONNECTION_FORCED - xxx')).toBe(true);
    expect(text.endsWith('x...')).toBe(true);
  });
});
