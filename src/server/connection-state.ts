/** Where a connection is in its life: the handshake's steps, open, closing, closed. */
export type ConnectionState = 'awaiting-header' | 'awaiting-start-ok' | 'awaiting-tune-ok' | 'awaiting-open' | 'open' | 'closing' | 'closed';

/** RabbitMQ's names for the connection states, used in its error texts and on the read side. */
export const RABBIT_STATE_NAMES: Readonly<Record<ConnectionState, string>> = {
  'awaiting-header': 'handshake',
  'awaiting-start-ok': 'starting',
  'awaiting-tune-ok': 'tuning',
  'awaiting-open': 'opening',
  open: 'running',
  closing: 'closing',
  closed: 'closed',
};
