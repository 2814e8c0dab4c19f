import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The process's own metrics; the worker and ingest services expose them with Temporal's on /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'wa_' });

export const sendsTotal = new Counter({
  name: 'wa_sends_total',
  help: 'SendWhatsAppMessage calls by outcome (sent, or the action taken on the error)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const sendIntentsRecoveredTotal = new Counter({
  name: 'wa_send_intents_recovered_total',
  help: 'Recipients found mid-send when a send attempt began: an earlier attempt stopped between its calls and writing their outcomes, so they became ambiguous',
  registers: [registry],
});

export const eventsTotal = new Counter({
  name: 'wa_events_total',
  help: 'Platform events received by the ingest service, by kind and outcome',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const workerUp = new Gauge({
  name: 'wa_worker_running',
  help: '1 while the worker is polling its task queue',
  registers: [registry],
});
