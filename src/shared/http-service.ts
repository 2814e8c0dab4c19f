import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics';
import { safeErrorText } from './safe-error';

export interface HealthReport {
  ok: boolean;
  detail: Record<string, unknown>;
}

/**
 * Bounds on what one client may hold of a service: slow or idle senders cannot keep sockets open for
 * long, and the number of open connections has a cap.
 */
export interface ConnectionLimits {
  /** Time for a request's headers to arrive in full. */
  headersTimeoutMs: number;
  /** Time for a whole request, headers and body, to arrive. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
}

/** SNS gives up on a delivery after 15 s; a request still arriving after that helps nobody. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 4_096,
};

export interface ServiceHttpOptions {
  host: string;
  port: number;
  limits?: Partial<ConnectionLimits>;
  health: () => HealthReport | Promise<HealthReport>;
  /** Temporal core's Prometheus endpoint, appended to ours so one scrape gets both. */
  coreMetricsUrl?: string;
  /** Further routes (the ingest endpoint); return false to fall through to 404. */
  handle?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
}

export interface ServiceHttp {
  port: number;
  close(): Promise<void>;
}

/** The small HTTP face every long-lived service has: `/healthz` and `/metrics`. */
export async function startServiceHttp(options: ServiceHttpOptions): Promise<ServiceHttp> {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts only this often (30 s by default), which would stretch them.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 4)),
    },
    (req, res) => {
      void route(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err instanceof Error ? safeErrorText(err) : 'internal error');
      });
    },
  );
  server.maxConnections = limits.maxConnections;
  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      const report = await options.health();
      res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: report.ok ? 'ok' : 'unavailable', ...report.detail }));
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      let text = await registry.metrics();
      if (options.coreMetricsUrl) {
        try {
          const core = await fetch(options.coreMetricsUrl, { signal: AbortSignal.timeout(2_000) });
          if (core.ok) text += `\n${await core.text()}`;
        } catch {
          // Our own metrics are still worth serving when the core exporter is not up yet.
        }
      }
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    if (options.handle && (await options.handle(req, res))) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
