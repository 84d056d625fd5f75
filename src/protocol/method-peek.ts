/**
 * A method frame's MethodId without decoding the method: its class and
 * method ids are the payload's first 4 bytes, and a MethodId packs exactly
 * those. For the few places that only need to know which method a frame is
 * (a lingering connection, spotting a publisher) before or instead of decoding.
 */
export function peekMethodId(payload: Buffer): number {
  return payload.length < 4 ? 0 : payload.readUInt32BE(0);
}
