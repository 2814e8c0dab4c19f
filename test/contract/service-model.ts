/**
 * AWS's published service models (botocore's JSON form, vendored in ./aws-models) and a checker that
 * holds a value against one of their shapes: members known, required members present, types, lengths,
 * ranges, patterns and enums, as the model states them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface MemberRef {
  shape: string;
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
}

export interface Shape {
  type:
    | 'structure'
    | 'list'
    | 'map'
    | 'string'
    | 'integer'
    | 'long'
    | 'float'
    | 'double'
    | 'boolean'
    | 'timestamp'
    | 'blob';
  members?: Record<string, MemberRef>;
  required?: string[];
  union?: boolean;
  member?: MemberRef;
  key?: MemberRef;
  value?: MemberRef;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  exception?: boolean;
  fault?: boolean;
  error?: { httpStatusCode?: number; code?: string; senderFault?: boolean };
}

export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: { shape: string };
  output?: { shape: string; resultWrapper?: string };
  errors?: { shape: string }[];
}

export interface ServiceModel {
  metadata: {
    apiVersion: string;
    protocol: 'rest-json' | 'json' | 'query';
    serviceId: string;
    targetPrefix?: string;
  };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

const MODELS_DIR = path.join(__dirname, 'aws-models');

/** One vendored model by file stem, e.g. `socialmessaging-2024-01-01`. */
export function loadServiceModel(stem: string): ServiceModel {
  const raw = gunzipSync(readFileSync(path.join(MODELS_DIR, `${stem}.json.gz`))).toString('utf8');
  return JSON.parse(raw) as ServiceModel;
}

/** How timestamps travel: JSON protocols as epoch seconds, the query protocol's XML as ISO 8601. */
export type TimestampFormat = 'epoch-seconds' | 'iso8601';

/** Holds values against the shapes of one model. */
export class ShapeChecker {
  private readonly patterns = new Map<string, RegExp>();

  constructor(
    readonly model: ServiceModel,
    private readonly timestamps: TimestampFormat,
  ) {}

  /** The shape named, or a thrown error: a missing shape is a broken model, not a finding. */
  shape(name: string): Shape {
    const shape = this.model.shapes[name];
    if (!shape) throw new Error(`${this.model.metadata.serviceId} model has no shape ${name}`);
    return shape;
  }

  /** Every way `value` breaks shape `name`, each with the path to it; empty when it conforms. */
  check(name: string, value: unknown, at = '$'): string[] {
    const problems: string[] = [];
    this.walk(name, value, at, problems);
    return problems;
  }

  private walk(name: string, value: unknown, at: string, out: string[]): void {
    const shape = this.shape(name);
    switch (shape.type) {
      case 'structure':
        return this.structure(name, shape, value, at, out);
      case 'list': {
        if (!Array.isArray(value))
          return void out.push(`${at}: expected a list (${name}), got ${kind(value)}`);
        this.bounds(shape, value.length, 'items', at, out);
        value.forEach((item, i) => this.walk((shape.member as MemberRef).shape, item, `${at}[${i}]`, out));
        return;
      }
      case 'map': {
        if (!isObject(value)) return void out.push(`${at}: expected a map (${name}), got ${kind(value)}`);
        const entries = Object.entries(value);
        this.bounds(shape, entries.length, 'entries', at, out);
        for (const [k, v] of entries) {
          this.walk((shape.key as MemberRef).shape, k, `${at} key ${JSON.stringify(k)}`, out);
          this.walk((shape.value as MemberRef).shape, v, `${at}[${JSON.stringify(k)}]`, out);
        }
        return;
      }
      case 'string': {
        if (typeof value !== 'string')
          return void out.push(`${at}: expected a string (${name}), got ${kind(value)}`);
        if (shape.enum && !shape.enum.includes(value)) {
          out.push(`${at}: ${JSON.stringify(value)} is not one of ${name}'s values ${shape.enum.join(', ')}`);
        }
        // Smithy counts a string's length in Unicode scalar values.
        this.bounds(shape, [...value].length, 'characters', at, out);
        if (shape.pattern && !this.regex(shape.pattern).test(value)) {
          out.push(`${at}: ${JSON.stringify(value)} does not match ${name}'s pattern ${shape.pattern}`);
        }
        return;
      }
      case 'integer':
      case 'long':
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          return void out.push(`${at}: expected an integer (${name}), got ${JSON.stringify(value)}`);
        }
        return this.range(shape, value, at, out);
      case 'float':
      case 'double':
        if (typeof value !== 'number')
          return void out.push(`${at}: expected a number (${name}), got ${kind(value)}`);
        return this.range(shape, value, at, out);
      case 'boolean':
        if (typeof value !== 'boolean') out.push(`${at}: expected a boolean (${name}), got ${kind(value)}`);
        return;
      case 'timestamp':
        if (this.timestamps === 'epoch-seconds' ? typeof value !== 'number' : !isIsoTime(value)) {
          out.push(
            `${at}: expected a timestamp as ${this.timestamps} (${name}), got ${JSON.stringify(value)}`,
          );
        }
        return;
      case 'blob': {
        if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
          return void out.push(`${at}: expected base64 (${name}), got ${kind(value)}`);
        }
        this.bounds(shape, Buffer.from(value, 'base64').length, 'bytes', at, out);
        return;
      }
    }
  }

  private structure(name: string, shape: Shape, value: unknown, at: string, out: string[]): void {
    if (!isObject(value)) return void out.push(`${at}: expected a structure (${name}), got ${kind(value)}`);
    const members = shape.members ?? {};
    for (const key of Object.keys(value)) {
      if (!(key in members)) out.push(`${at}.${key}: ${name} has no member ${key}`);
    }
    for (const req of shape.required ?? []) {
      if (value[req] === undefined || value[req] === null)
        out.push(`${at}.${req}: required by ${name}, missing`);
    }
    const present = Object.keys(members).filter((m) => value[m] !== undefined && value[m] !== null);
    if (shape.union && present.length !== 1) {
      out.push(`${at}: ${name} is a union and needs exactly one member, has ${present.length}`);
    }
    for (const m of present) this.walk((members[m] as MemberRef).shape, value[m], `${at}.${m}`, out);
  }

  private bounds(shape: Shape, n: number, unit: string, at: string, out: string[]): void {
    if (shape.min !== undefined && n < shape.min)
      out.push(`${at}: ${n} ${unit}, fewer than the minimum ${shape.min}`);
    if (shape.max !== undefined && n > shape.max)
      out.push(`${at}: ${n} ${unit}, more than the maximum ${shape.max}`);
  }

  private range(shape: Shape, n: number, at: string, out: string[]): void {
    if (shape.min !== undefined && n < shape.min) out.push(`${at}: ${n} is below the minimum ${shape.min}`);
    if (shape.max !== undefined && n > shape.max) out.push(`${at}: ${n} is above the maximum ${shape.max}`);
  }

  /** Smithy patterns are ECMA-262 expressions and not anchored: a match anywhere counts. */
  private regex(pattern: string): RegExp {
    let re = this.patterns.get(pattern);
    if (!re) {
      try {
        re = new RegExp(pattern, 'u');
      } catch {
        re = new RegExp(pattern);
      }
      this.patterns.set(pattern, re);
    }
    return re;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function isIsoTime(value: unknown): boolean {
  return (
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/.test(value)
  );
}
