import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** One request as the handlers see it: the body is already read (and bounded). */
export interface EmulatorRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  raw: IncomingMessage;
}

/** One request and the answer it got, as seen on the wire: for observers such as contract tests. */
export interface HttpExchange {
  method: string;
  path: string;
  query: URLSearchParams;
  requestHeaders: IncomingHttpHeaders;
  requestBody: Buffer;
  status: number;
  responseHeaders: Record<string, string | number>;
  responseBody: string;
}

/** What a handler answers: JSON, other text, or (fault injection) no answer at all. */
export type HandlerResult =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; text: string; contentType: string }
  | { lost: 'destroy' | 'hang' };

export type Handler = (req: EmulatorRequest) => HandlerResult | Promise<HandlerResult>;

/**
 * Which error dialect a route speaks: `aws` routes answer like the AWS service they emulate (the SDK
 * must raise the right typed exception), `control` routes answer plain JSON `{error}` for scripts.
 */
export type RouteKind = 'aws' | 'control';

export interface Route {
  kind: RouteKind;
  handler: Handler;
}

/**
 * Exact method + path routing, plus `/?Action=…` routing for the query-style URLs SNS hands out
 * (SubscribeURL, UnsubscribeURL). Later services that share `POST /` (SNS's query API, JSON-RPC
 * services addressed by `X-Amz-Target`) can add their own dispatch beside these two.
 */
export class Router {
  private routes = new Map<string, Route>();
  private actions = new Map<string, Route>();
  private prefixes: { method: string; prefix: string; route: Route }[] = [];

  /** Adds a route for `method path`. */
  add(method: string, path: string, kind: RouteKind, handler: Handler): void {
    this.routes.set(`${method} ${path}`, { kind, handler });
  }

  /** Adds a route for `method /?Action=<action>`. */
  addAction(method: string, action: string, kind: RouteKind, handler: Handler): void {
    this.actions.set(`${method} ${action}`, { kind, handler });
  }

  /** Adds a route for every path under `prefix` (APIs with ids in the path, like Meta's Graph API). */
  addPrefix(method: string, prefix: string, kind: RouteKind, handler: Handler): void {
    this.prefixes.push({ method, prefix, route: { kind, handler } });
  }

  /** The route for a request, if any. */
  match(method: string, path: string, query: URLSearchParams): Route | undefined {
    const direct = this.routes.get(`${method} ${path}`);
    if (direct) return direct;
    const action = query.get('Action');
    if (path === '/' && action) return this.actions.get(`${method} ${action}`);
    return this.prefixes.find((p) => p.method === method && path.startsWith(p.prefix))?.route;
  }
}
