/**
 * Meta's published schema for a Cloud API message (test/contract/meta-openapi, Graph API v23.0), held by
 * a real JSON Schema validator (Ajv, draft 2020-12, which OpenAPI 3.1 uses).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const SPEC = path.join(__dirname, 'meta-openapi', 'business-messaging-api_v23.0.yaml');

interface MessageSchemas {
  /** The `Message` schema as a whole. */
  message: ValidateFunction;
  /** Each message type's own schema, from the discriminator's mapping, for errors that name one branch. */
  byType: Map<string, ValidateFunction>;
}

let loaded: MessageSchemas | undefined;

/**
 * Meta writes its message types as `allOf: [BaseMessageProperties, {…, additionalProperties: false}]`.
 * Under draft 2020-12 a closed branch refuses the base's members too, so no message could pass; what is
 * meant is that the composite is closed. That is `unevaluatedProperties: false` on the composite, which
 * this moves the closure to, and nothing else is changed.
 */
function closeComposites(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(closeComposites);
  if (typeof node !== 'object' || node === null) return;
  const obj = node as Record<string, unknown>;
  if (Array.isArray(obj.allOf)) {
    for (const branch of obj.allOf as Record<string, unknown>[]) {
      if (branch && branch.additionalProperties === false) {
        delete branch.additionalProperties;
        obj.unevaluatedProperties = false;
      }
    }
  }
  Object.values(obj).forEach(closeComposites);
}

function load(): MessageSchemas {
  if (loaded) return loaded;
  const doc = parse(readFileSync(SPEC, 'utf8')) as {
    components: { schemas: Record<string, { discriminator?: { mapping?: Record<string, string> } }> };
  };
  closeComposites(doc.components);
  // The spec leans on OpenAPI's own keywords (discriminator, example, nullable…): not JSON Schema's to judge.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'meta', components: doc.components });
  const get = (ref: string): ValidateFunction => {
    const fn = ajv.getSchema(`meta${ref}`);
    if (!fn) throw new Error(`Meta's spec has no schema ${ref}`);
    return fn;
  };
  const mapping = doc.components.schemas.Message?.discriminator?.mapping ?? {};
  loaded = {
    message: get('#/components/schemas/Message'),
    byType: new Map(Object.entries(mapping).map(([type, ref]) => [type, get(ref)])),
  };
  return loaded;
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${paramsText(e)}`);
}

function paramsText(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (typeof p.additionalProperty === 'string') return ` (${p.additionalProperty})`;
  if (typeof p.unevaluatedProperty === 'string') return ` (${p.unevaluatedProperty})`;
  if (Array.isArray(p.allowedValues)) return ` (${p.allowedValues.join(', ')})`;
  return '';
}

/**
 * Loads and compiles the schema now (about a second, synchronously). Done before an emulator starts, so
 * the pause cannot fall into its traffic: an emulator stalled that long would take the queued sends in
 * one burst and refuse them for throughput, as if the engine had sent them together.
 */
export function preloadMessageSchema(): void {
  load();
}

/** Every way a message body breaks Meta's `Message` schema; empty when it conforms. */
export function messageSchemaProblems(body: unknown): string[] {
  const { message, byType } = load();
  if (message(body)) return [];
  // Errors of the one branch the message's `type` names, rather than of all eleven.
  const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
  const branch = typeof type === 'string' ? byType.get(type) : undefined;
  if (branch && !branch(body)) return describe(branch.errors);
  return typeof type === 'string' && !branch
    ? [`/type "${type}" is none of Meta's message types (${[...byType.keys()].join(', ')})`]
    : describe(message.errors);
}
