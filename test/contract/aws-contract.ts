/**
 * Holds the emulator's HTTP exchanges against AWS's published models: which operation a request is (by
 * the model's own routing: restJson1 method and path, awsJson1_0 `X-Amz-Target`, query `Action`),
 * whether the request is one the model admits, and whether the answer is: the operation's HTTP status,
 * the output shape, and for an error one of the operation's modelled errors, with that error's status.
 */
import { XMLParser } from 'fast-xml-parser';
import type { HttpExchange } from '../../src/emulator';
import { messageSchemaProblems } from './meta-schema';
import {
  loadServiceModel,
  ShapeChecker,
  type Operation,
  type ServiceModel,
  type Shape,
} from './service-model';

/**
 * Errors the AWS request framework answers before any operation runs, so no operation models them:
 * a path or target that names no operation, and a body that is not JSON. Each with the status AWS gives it.
 */
export const FRAMEWORK_ERRORS: Readonly<Record<string, number>> = {
  UnknownOperationException: 404,
  SerializationException: 400,
  /** SNS's query API for an `Action` it does not have. */
  InvalidAction: 400,
};

export interface ContractViolation {
  /** `Service.Operation`, or the request line when no operation matched. */
  operation: string;
  direction: 'request' | 'response';
  status: number;
  problems: string[];
}

interface Service {
  model: ServiceModel;
  checker: ShapeChecker;
  label: string;
}

function service(stem: string, timestamps: 'epoch-seconds' | 'iso8601'): Service {
  const model = loadServiceModel(stem);
  return { model, checker: new ShapeChecker(model, timestamps), label: model.metadata.serviceId };
}

let services: { social: Service; sns: Service; sms: Service } | undefined;

function loadServices(): { social: Service; sns: Service; sms: Service } {
  services ??= {
    social: service('socialmessaging-2024-01-01', 'epoch-seconds'),
    sns: service('sns-2010-03-31', 'iso8601'),
    sms: service('pinpoint-sms-voice-v2-2022-03-31', 'epoch-seconds'),
  };
  return services;
}

const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });

/** Collects every exchange's findings; `observe` goes to the emulator as its `onAwsExchange`. */
export class AwsContract {
  readonly violations: ContractViolation[] = [];
  /** `Service.Operation status` → how many answers were checked. */
  readonly checked = new Map<string, number>();

  readonly observe = (exchange: HttpExchange): void => {
    const found = this.identify(exchange);
    if (!found) return;
    const { svc, op } = found;
    const name = op ? `${svc.label}.${op.name}` : `${svc.label} ${exchange.method} ${exchange.path}`;
    const key = `${name} ${exchange.status}`;
    this.checked.set(key, (this.checked.get(key) ?? 0) + 1);
    // An operation the emulator does not serve is answered as AWS answers an unsupported call; its
    // request is nobody's to judge.
    const served = !(op && isUnsupported(svc, exchange));
    const request = op && served ? this.checkRequest(svc, op, exchange) : [];
    // AWS checks a request against the model before the operation runs: one that breaks it gets the
    // framework's validation error, whoever sent it. Anything else means the emulator took (or judged
    // otherwise) what AWS refuses, or the engine sent what AWS would refuse.
    if (request.length && !isValidationRefusal(svc, exchange)) {
      this.violations.push({
        operation: name,
        direction: 'request',
        status: exchange.status,
        problems: [
          ...request,
          `AWS refuses such a request with a validation error; the emulator answered ${describeAnswer(svc, exchange)}`,
        ],
      });
    }
    if (op?.name === 'SendWhatsAppMessage' && exchange.status < 300) {
      const body = sentMessage(exchange);
      if (body.length) {
        this.violations.push({
          operation: name,
          direction: 'request',
          status: exchange.status,
          problems: body,
        });
      }
    }
    const response = this.checkResponse(svc, op, exchange);
    if (response.length) {
      this.violations.push({
        operation: name,
        direction: 'response',
        status: exchange.status,
        problems: response,
      });
    }
  };

  /** The findings as text, one line each, for a failing assertion. */
  report(): string {
    return this.violations
      .map((v) => `${v.operation} ${v.direction} (HTTP ${v.status}):\n    ${v.problems.join('\n    ')}`)
      .join('\n');
  }

  /** The service and operation an exchange addressed; no operation when the model has none for it. */
  private identify(ex: HttpExchange): { svc: Service; op: Operation | undefined } | undefined {
    const { social, sns, sms } = loadServices();
    if (ex.path.startsWith('/v1/')) {
      const op = Object.values(social.model.operations).find(
        (o) => o.http.method === ex.method && o.http.requestUri === ex.path,
      );
      return { svc: social, op };
    }
    if (ex.path !== '/') return undefined;
    const target = ex.requestHeaders['x-amz-target'];
    if (typeof target === 'string') {
      const [prefix, opName] = target.split('.');
      return {
        svc: sms,
        op: prefix === sms.model.metadata.targetPrefix ? sms.model.operations[opName ?? ''] : undefined,
      };
    }
    const action = queryParams(ex).get('Action');
    return action === null ? undefined : { svc: sns, op: sns.model.operations[action] };
  }

  private checkRequest(svc: Service, op: Operation, ex: HttpExchange): string[] {
    if (!op.input) return [];
    const input = svc.checker.shape(op.input.shape);
    if (svc.model.metadata.protocol === 'query') return queryRequestProblems(input, queryParams(ex));
    const value: Record<string, unknown> = {};
    const problems: string[] = [];
    const members = input.members ?? {};
    let body: Record<string, unknown> = {};
    if (ex.requestBody.length) {
      try {
        body = JSON.parse(ex.requestBody.toString('utf8')) as Record<string, unknown>;
      } catch {
        // A body that is not JSON is the framework's SerializationException, checked on the answer.
        return [];
      }
    }
    for (const [member, ref] of Object.entries(members)) {
      if (ref.location === 'querystring') {
        const raw = ex.query.get(ref.locationName ?? member);
        if (raw !== null) value[member] = fromText(svc.checker.shape(ref.shape), raw);
      } else if (ref.location === 'header') {
        const raw = ex.requestHeaders[(ref.locationName ?? member).toLowerCase()];
        if (typeof raw === 'string') value[member] = fromText(svc.checker.shape(ref.shape), raw);
      } else if (ref.location === undefined && body[member] !== undefined) {
        value[member] = body[member];
      }
    }
    const queryNames = new Set(
      Object.entries(members)
        .filter(([, r]) => r.location === 'querystring')
        .map(([m, r]) => r.locationName ?? m),
    );
    for (const q of ex.query.keys()) {
      if (!queryNames.has(q)) problems.push(`query parameter ${q}: not in ${op.input.shape}`);
    }
    const bodyMembers = new Set(
      Object.entries(members)
        .filter(([, r]) => !r.location)
        .map(([m]) => m),
    );
    for (const k of Object.keys(body)) {
      if (!bodyMembers.has(k)) problems.push(`$.${k}: ${op.input.shape} has no body member ${k}`);
    }
    return [...problems, ...svc.checker.check(op.input.shape, value)];
  }

  private checkResponse(svc: Service, op: Operation | undefined, ex: HttpExchange): string[] {
    if (svc.model.metadata.protocol === 'query') return this.checkQueryResponse(svc, op, ex);
    const errorName = jsonErrorName(ex);
    if (errorName !== undefined) return this.checkError(svc, op, ex.status, errorName, () => jsonBody(ex));
    if (!op) return [`answered ${ex.status} without an error, but the model has no such operation`];
    const problems: string[] = [];
    const expected = op.http.responseCode ?? 200;
    if (ex.status !== expected) problems.push(`HTTP ${ex.status}, the model says ${expected}`);
    if (!op.output) return problems;
    const body = jsonBody(ex);
    if (body === undefined) return [...problems, 'the answer is not a JSON object'];
    return [...problems, ...svc.checker.check(op.output.shape, body)];
  }

  private checkError(
    svc: Service,
    op: Operation | undefined,
    status: number,
    name: string,
    body: () => Record<string, unknown> | undefined,
  ): string[] {
    const framework = FRAMEWORK_ERRORS[name];
    if (framework !== undefined) {
      return status === framework ? [] : [`${name} with HTTP ${status}, AWS answers it with ${framework}`];
    }
    if (!op) return [`${name} for a request that names no operation`];
    const modelled = (op.errors ?? []).map((e) => e.shape);
    if (!modelled.includes(name))
      return [`${name} is not among ${op.name}'s errors (${modelled.join(', ')})`];
    const shape = svc.checker.shape(name);
    const problems: string[] = [];
    const expected = errorStatus(shape);
    if (status !== expected) problems.push(`${name} with HTTP ${status}, the model says ${expected}`);
    const value = body();
    if (value === undefined) return [...problems, 'the error answer is not a JSON object'];
    // `__type` is the protocol's; clients read the message from `message` or `Message`, whichever of the
    // two the shape calls its member.
    const { __type: _type, message, Message, ...members } = value;
    const text = message ?? Message;
    if (typeof text !== 'string') return [...problems, 'the error answer has no message'];
    const messageMember = Object.keys(shape.members ?? {}).find((m) => m.toLowerCase() === 'message');
    if (messageMember) members[messageMember] = text;
    return [...problems, ...svc.checker.check(name, members)];
  }

  private checkQueryResponse(svc: Service, op: Operation | undefined, ex: HttpExchange): string[] {
    let doc: Record<string, unknown>;
    try {
      doc = xml.parse(ex.responseBody) as Record<string, unknown>;
    } catch (err) {
      return [`the answer is not XML: ${String(err)}`];
    }
    const errorDoc = doc.ErrorResponse as Record<string, unknown> | undefined;
    if (errorDoc) {
      const problems: string[] = [];
      const error = errorDoc.Error as Record<string, unknown> | undefined;
      if (typeof errorDoc.RequestId !== 'string' || !errorDoc.RequestId)
        problems.push('ErrorResponse has no RequestId');
      if (!error || typeof error.Code !== 'string') return [...problems, 'ErrorResponse has no Error.Code'];
      if (error.Type !== 'Sender' && error.Type !== 'Receiver')
        problems.push(`Error.Type ${String(error.Type)}`);
      if (typeof error.Message !== 'string') problems.push('Error has no Message');
      const code = error.Code;
      const framework = FRAMEWORK_ERRORS[code];
      if (framework !== undefined) {
        return framework === ex.status
          ? problems
          : [...problems, `${code} with HTTP ${ex.status}, AWS answers ${framework}`];
      }
      if (!op) return [...problems, `${code} for an Action the model does not have`];
      const modelled = (op.errors ?? []).map((e) => ({ name: e.shape, shape: svc.checker.shape(e.shape) }));
      const match = modelled.find((e) => (e.shape.error?.code ?? e.name) === code);
      if (!match) {
        const codes = modelled.map((e) => e.shape.error?.code ?? e.name);
        return [...problems, `error code ${code} is not among ${op.name}'s errors (${codes.join(', ')})`];
      }
      const expected = errorStatus(match.shape);
      if (ex.status !== expected) problems.push(`${code} with HTTP ${ex.status}, the model says ${expected}`);
      return problems;
    }
    if (!op) return ['a successful answer to an Action the model does not have'];
    const problems: string[] = [];
    if (ex.status !== 200) problems.push(`HTTP ${ex.status}, the model says 200`);
    const root = doc[`${op.name}Response`] as Record<string, unknown> | undefined;
    if (!root)
      return [...problems, `the answer's root is not ${op.name}Response: ${Object.keys(doc).join(', ')}`];
    const meta = root.ResponseMetadata as Record<string, unknown> | undefined;
    if (typeof meta?.RequestId !== 'string' || !meta.RequestId)
      problems.push('no ResponseMetadata.RequestId');
    for (const k of Object.keys(root)) {
      if (k !== 'ResponseMetadata' && k !== op.output?.resultWrapper)
        problems.push(`unexpected element ${k}`);
    }
    if (!op.output) return problems;
    const wrapper = op.output.resultWrapper ?? `${op.name}Result`;
    const result = root[wrapper];
    if (result === undefined) return [...problems, `no ${wrapper} element`];
    const converted = fromXml(svc.checker, op.output.shape, result, `$`, problems);
    return [...problems, ...svc.checker.check(op.output.shape, converted)];
  }
}

function isUnsupported(svc: Service, ex: HttpExchange): boolean {
  return svc.model.metadata.protocol === 'query'
    ? /<Code>InvalidAction<\/Code>/.test(ex.responseBody)
    : jsonErrorName(ex) === 'UnknownOperationException';
}

/** Whether the answer is the refusal AWS gives a request that breaks the model's constraints. */
function isValidationRefusal(svc: Service, ex: HttpExchange): boolean {
  if (ex.status !== 400) return false;
  if (svc.model.metadata.protocol !== 'query') return jsonErrorName(ex) === 'ValidationException';
  return /<Code>(ValidationError|InvalidParameter)<\/Code>/.test(ex.responseBody);
}

function describeAnswer(svc: Service, ex: HttpExchange): string {
  if (ex.status < 300) return `HTTP ${ex.status} (accepted)`;
  if (svc.model.metadata.protocol === 'query') {
    return `HTTP ${ex.status} ${/<Code>([^<]*)<\/Code>/.exec(ex.responseBody)?.[1] ?? ''}`;
  }
  return `HTTP ${ex.status} ${jsonErrorName(ex) ?? ''}`;
}

/**
 * The Cloud API message a SendWhatsAppMessage carried (its `message` blob), held to Meta's `Message`
 * schema. Only for sends the emulator took: Meta refuses a body its schema refuses, so taking one is the
 * emulator's fault, and sending one the engine's.
 */
function sentMessage(ex: HttpExchange): string[] {
  let body: unknown;
  try {
    const blob = (JSON.parse(ex.requestBody.toString('utf8')) as { message?: unknown }).message;
    body = JSON.parse(Buffer.from(String(blob), 'base64').toString('utf8'));
  } catch {
    return ['the accepted message blob is not base64 of a JSON object'];
  }
  // Marking a message read goes to the same endpoint with a body of its own, not a Message.
  if (typeof body === 'object' && body !== null && (body as { status?: unknown }).status === 'read')
    return [];
  return messageSchemaProblems(body).map((p) => `message ${p} (Meta's Message schema, v23.0)`);
}

/** An error shape's HTTP status: its own, else 400 for the caller's fault and 500 for the service's. */
function errorStatus(shape: Shape): number {
  return shape.error?.httpStatusCode ?? (shape.fault ? 500 : 400);
}

function queryParams(ex: HttpExchange): URLSearchParams {
  if (ex.method === 'GET') return ex.query;
  return new URLSearchParams(ex.requestBody.toString('utf8'));
}

/** A query request's top-level parameters must be the input's members (flattened lists and maps too). */
function queryRequestProblems(input: Shape, params: URLSearchParams): string[] {
  const members = new Set(Object.keys(input.members ?? {}));
  const problems: string[] = [];
  for (const key of new Set(params.keys())) {
    if (key === 'Action' || key === 'Version') continue;
    const top = key.split('.')[0] ?? key;
    if (!members.has(top)) problems.push(`parameter ${key}: the input has no member ${top}`);
  }
  for (const req of input.required ?? []) {
    if (![...params.keys()].some((k) => k === req || k.startsWith(`${req}.`))) {
      problems.push(`parameter ${req}: required, missing`);
    }
  }
  return problems;
}

function jsonErrorName(ex: HttpExchange): string | undefined {
  const header = ex.responseHeaders['x-amzn-errortype'];
  if (typeof header === 'string') return header.split(':')[0];
  if (ex.status < 300) return undefined;
  const body = jsonBody(ex);
  const type = body?.__type ?? body?.code;
  return typeof type === 'string' ? (type.split('#').pop() ?? type) : `(no error type, HTTP ${ex.status})`;
}

function jsonBody(ex: HttpExchange): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(ex.responseBody || '{}');
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A scalar that travelled as text (query string, header) read as its shape's type. */
function fromText(shape: Shape, raw: string): unknown {
  switch (shape.type) {
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
      return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    default:
      return raw;
  }
}

/** The query protocol's XML (lists as `member`, maps as `entry` with `key`/`value`) read by shape. */
function fromXml(checker: ShapeChecker, name: string, node: unknown, at: string, out: string[]): unknown {
  const shape = checker.shape(name);
  const asList = (v: unknown): unknown[] => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]);
  switch (shape.type) {
    case 'structure': {
      if (node === '') return {};
      if (typeof node !== 'object' || node === null) return node;
      const value: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) {
        const ref = shape.members?.[k];
        value[k] = ref ? fromXml(checker, ref.shape, v, `${at}.${k}`, out) : v;
      }
      return value;
    }
    case 'list': {
      if (node === '') return [];
      const items = asList((node as Record<string, unknown>).member);
      return items.map((item, i) =>
        fromXml(checker, (shape.member as { shape: string }).shape, item, `${at}[${i}]`, out),
      );
    }
    case 'map': {
      if (node === '') return {};
      const entries = asList((node as Record<string, unknown>).entry) as Record<string, unknown>[];
      const value: Record<string, unknown> = {};
      for (const e of entries) {
        if (typeof e.key !== 'string') {
          out.push(`${at}: a map entry without a key`);
          continue;
        }
        value[e.key] = fromXml(
          checker,
          (shape.value as { shape: string }).shape,
          e.value ?? '',
          `${at}[${e.key}]`,
          out,
        );
      }
      return value;
    }
    default:
      return typeof node === 'string' ? fromText(shape, node) : node;
  }
}
