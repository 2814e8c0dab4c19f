import type { z } from 'zod';
import { AwsError, validationError } from './aws-errors';
import type { EmulatorRequest } from './router';

/** Parses a restJson1 body; a body that is not a JSON object is a SerializationException, as on AWS. */
export function jsonBody(req: EmulatorRequest): Record<string, unknown> {
  if (req.body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AwsError('SerializationException', 'Request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AwsError('SerializationException', 'Request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** The query string as a plain object (restJson1 puts GET/DELETE inputs there). */
export function queryInput(req: EmulatorRequest): Record<string, string> {
  return Object.fromEntries(req.query.entries());
}

/**
 * Validates an operation's input against its schema and answers like AWS's framework does:
 * `ValidationException: 1 validation error detected: Value null at 'x' failed to satisfy constraint: …`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (valueAt(input, issue.path) === undefined && issue.code === 'invalid_type') {
      return `Value null at '${path}' failed to satisfy constraint: Member must not be null`;
    }
    return `Value at '${path}' failed to satisfy constraint: ${issue.message}`;
  });
  throw validationError(problems);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
