import type http from 'node:http';
import type { Logger } from '../../shared/logger';
import { requestSeconds } from '../metrics';
import type { SnsReceiver } from '../receiver';
import { BodyTooLarge, readBody } from './read-body';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The HTTP side of the SNS subscription: every POST (whatever its path, so the subscription URL can be
 * chosen freely) is one SNS delivery. While the service drains for shutdown it answers 503, which SNS
 * retries, and the requests already inside are allowed to finish.
 */
export class SnsEndpoint {
  private draining = false;
  private readonly active = new Set<Promise<void>>();

  constructor(
    private readonly receiver: SnsReceiver,
    private readonly logger: Logger,
  ) {}

  /** The `handle` hook of startServiceHttp: true when the request was ours. */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.method !== 'POST') return false;
    const work = this.serve(req, res);
    this.active.add(work);
    void work.finally(() => this.active.delete(work));
    return true;
  };

  /** Stops taking new deliveries and waits (up to `graceMs`) for those under way. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const all = Promise.allSettled([...this.active]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let status: number;
    let body: unknown;
    try {
      if (this.draining) {
        status = 503;
        body = { outcome: 'shutting-down' };
      } else {
        const text = await readBody(req, MAX_BODY_BYTES);
        const result = await this.receiver.receive(text);
        status = result.status;
        body = result;
      }
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        status = 413;
        body = { outcome: 'rejected', detail: err.message };
      } else {
        status = 500;
        body = { outcome: 'error' };
        this.logger.error({ err }, 'SNS delivery failed');
      }
    }
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }
    requestSeconds.observe(
      { status: `${Math.floor(status / 100)}xx` },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  }
}
