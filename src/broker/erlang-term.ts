/** Printing JSON values as RabbitMQ's error texts print the decoded Erlang terms. */

/** A JSON value printed as Erlang's ~p prints the decoded term (strings are binaries). */
export function erlangTerm(v: unknown): string {
  if (typeof v === 'string') return `<<${JSON.stringify(v)}>>`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(',')}]`;
  if (typeof v === 'object') return `#{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${erlangTerm(k)} => ${erlangTerm(x)}`).join(',')}}`;
  return String(v);
}
