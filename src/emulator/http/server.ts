import http from 'node:http';
import type { Logger } from '../../shared/logger';
import { AwsError, awsErrorResponse } from './aws-errors';
import { ControlError } from './control-errors';
import type { EmulatorRequest, HandlerResult, HttpExchange, Router, RouteKind } from './router';

export interface HttpServerOptions {
  router: Router;
  maxBodyBytes: number;
  logger: Logger;
  /** Sees every answer of an AWS-protocol route, errors included (not the ones a fault withholds). */
  onAwsExchange?: ((exchange: HttpExchange) => void) | undefined;
}

/** Writes one answer, telling the observer, if any, what went out. */
type Reply = (status: number, headers: Record<string, string | number>, body: string) => void;

/**
 * The plain node:http front: reads each body up to the limit, routes it, and writes the answer in the
 * route's dialect. Every failure becomes an HTTP answer; nothing a client sends can crash the process.
 */
export function createHttpServer({
  router,
  maxBodyBytes,
  logger,
  onAwsExchange,
}: HttpServerOptions): http.Server {
  let requestSeq = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining past the limit so the client can read our answer instead of a reset.
      if (size > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const requestId = `emu-${(++requestSeq).toString(16).padStart(8, '0')}`;
      const url = new URL(req.url ?? '/', 'http://emulator.local');
      const method = req.method ?? 'GET';
      const route = router.match(method, url.pathname, url.searchParams);
      const kind: RouteKind = route?.kind ?? (url.pathname.startsWith('/_emulator/') ? 'control' : 'aws');
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const reply: Reply = (status, headers, text) => {
        res.writeHead(status, headers);
        res.end(text);
        if (kind === 'aws' && onAwsExchange) {
          onAwsExchange({
            method,
            path: url.pathname,
            query: url.searchParams,
            requestHeaders: req.headers,
            requestBody: body,
            status,
            responseHeaders: headers,
            responseBody: text,
          });
        }
      };
      const fail = (err: unknown): void => writeError(res, reply, kind, err, requestId, logger);
      if (tooLarge) {
        // AWS answers an oversize request as any other broken input: ValidationException, status 400.
        fail(
          kind === 'aws'
            ? new AwsError(
                'ValidationException',
                `Request body of ${size} bytes exceeds the limit of ${maxBodyBytes} bytes`,
              )
            : new ControlError(413, `body of ${size} bytes exceeds the limit of ${maxBodyBytes} bytes`),
        );
        return;
      }
      if (!route) {
        fail(
          kind === 'aws'
            ? new AwsError('UnknownOperationException', `No operation matches ${method} ${url.pathname}`)
            : new ControlError(404, `no control endpoint ${method} ${url.pathname}`),
        );
        return;
      }
      const request: EmulatorRequest = {
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        raw: req,
      };
      try {
        const result = route.handler(request);
        if (result instanceof Promise) result.then((r) => write(res, reply, r, requestId), fail);
        else write(res, reply, result, requestId);
      } catch (err) {
        fail(err);
      }
    });
  });
  // SDK clients keep connections alive; let idle ones live a little longer than Node's 5 s default.
  server.keepAliveTimeout = 30_000;
  return server;
}

function write(res: http.ServerResponse, reply: Reply, result: HandlerResult, requestId: string): void {
  if (res.destroyed) return;
  if ('lost' in result) {
    // Fault injection: the work is done but the caller never hears about it.
    if (result.lost === 'destroy') res.socket?.destroy();
    return;
  }
  if ('json' in result) {
    const body = JSON.stringify(result.json ?? {});
    reply(
      result.status ?? 200,
      {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-amzn-requestid': requestId,
        ...result.headers,
      },
      body,
    );
    return;
  }
  reply(
    result.status ?? 200,
    { 'content-type': result.contentType, 'content-length': Buffer.byteLength(result.text) },
    result.text,
  );
}

function writeError(
  res: http.ServerResponse,
  reply: Reply,
  kind: RouteKind,
  err: unknown,
  requestId: string,
  logger: Logger,
): void {
  if (res.destroyed || res.headersSent) return;
  let status: number;
  let headers: Record<string, string>;
  let body: string;
  if (err instanceof AwsError) {
    ({ status, headers, body } = awsErrorResponse(err));
  } else if (err instanceof ControlError) {
    status = err.status;
    headers = { 'content-type': 'application/json' };
    body = JSON.stringify({ error: err.message });
  } else {
    logger.error({ err }, 'emulator handler failed');
    const internal =
      kind === 'aws'
        ? awsErrorResponse(new AwsError('InternalServiceException', 'The emulator hit an internal error'))
        : {
            status: 500,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ error: String(err) }),
          };
    ({ status, headers, body } = internal);
  }
  reply(
    status,
    { ...headers, 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId },
    body,
  );
}
