import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../shared/metrics';

/** Ingest metrics beyond `wa_events_total`, exposed on the service's /metrics with everything else. */

export const requestSeconds = new Histogram({
  name: 'wa_ingest_request_seconds',
  help: 'Time from receiving an SNS request to answering it, by HTTP status class',
  labelNames: ['status'] as const,
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const signalsTotal = new Counter({
  name: 'wa_ingest_signals_total',
  help: 'Workflow signals from the ingest outbox, by signal and outcome (delivered, gone, failed, expired)',
  labelNames: ['signal', 'outcome'] as const,
  registers: [registry],
});

export const signalBacklog = new Gauge({
  name: 'wa_ingest_signal_backlog',
  help: 'Signals decided but not yet delivered',
  registers: [registry],
});

export const prunedTotal = new Counter({
  name: 'wa_ingest_pruned_total',
  help: 'Rows deleted by the archive retention (WA_INGEST_ARCHIVE_DAYS), by table',
  labelNames: ['table'] as const,
  registers: [registry],
});
