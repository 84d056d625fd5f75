import { Counter, Gauge, Registry } from 'prom-client';

export type Labels = Record<string, string>;

/** A fresh registry and helpers that create a metric with its samples in one call. */
export class Builder {
  readonly registry = new Registry();

  /** `labelNames` matter when there are no samples: the metric is then listed without any (never as a made-up 0). */
  gauge(name: string, help: string, samples: [Labels, number][], labelNames: string[] = samples.length > 0 ? Object.keys(samples[0]![0]) : []): void {
    const g = new Gauge({ name, help, labelNames, registers: [this.registry] });
    for (const [labels, v] of samples) g.set(labels, v);
  }

  counter(name: string, help: string, samples: [Labels, number][], labelNames: string[] = samples.length > 0 ? Object.keys(samples[0]![0]) : []): void {
    const c = new Counter({ name, help, labelNames, registers: [this.registry] });
    for (const [labels, v] of samples) c.inc(labels, v);
  }
}
