import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { AwsError, type AwsErrorName } from '../http/aws-errors';
import { jsonBody, parseInput, queryInput } from '../http/aws-input';
import type { EmulatorRequest, HandlerResult } from '../http/router';
import { normalizePhoneNumberId, normalizeWabaId } from '../ids';
import type { WabaState } from '../world/state';
import { paginate } from './pagination';
import { phoneNumberDetail, validateEventDestinations, wabaDetail, wabaSummary } from './views';

const maxResults = (max: number) => z.coerce.number().int().min(1).max(max).optional();

/**
 * Finds a linked WABA by id or ARN. An unknown one is ResourceNotFoundException where the operation
 * models it; operations that do not (PutWhatsAppBusinessAccountEventDestinations) name another.
 */
export function requireWaba(
  ctx: EmulatorContext,
  idOrArn: string,
  notFound: AwsErrorName = 'ResourceNotFoundException',
): WabaState {
  const waba = ctx.world.wabas.get(normalizeWabaId(idOrArn));
  if (!waba) throw new AwsError(notFound, `WhatsApp Business Account ${idOrArn} was not found`);
  return waba;
}

/** GetLinkedWhatsAppBusinessAccount. */
export function getLinkedWhatsAppBusinessAccount(ctx: EmulatorContext, req: EmulatorRequest): HandlerResult {
  const { id } = parseInput(z.object({ id: z.string().min(1) }), queryInput(req));
  return { json: { account: wabaDetail(ctx.world, requireWaba(ctx, id)) } };
}

/** ListLinkedWhatsAppBusinessAccounts. */
export function listLinkedWhatsAppBusinessAccounts(
  ctx: EmulatorContext,
  req: EmulatorRequest,
): HandlerResult {
  const input = parseInput(
    z.object({ nextToken: z.string().optional(), maxResults: maxResults(100) }),
    queryInput(req),
  );
  const all = [...ctx.world.wabas.values()].map((w) => wabaSummary(ctx.world, w));
  const { page, nextToken } = paginate(all, input.nextToken, input.maxResults);
  return { json: { linkedAccounts: page, ...(nextToken ? { nextToken } : {}) } };
}

/** GetLinkedWhatsAppBusinessAccountPhoneNumber. */
export function getLinkedWhatsAppBusinessAccountPhoneNumber(
  ctx: EmulatorContext,
  req: EmulatorRequest,
): HandlerResult {
  const { id } = parseInput(z.object({ id: z.string().min(1) }), queryInput(req));
  const phone = ctx.world.numbers.get(normalizePhoneNumberId(id));
  if (!phone) throw new AwsError('ResourceNotFoundException', `Phone number ${id} was not found`);
  return { json: { phoneNumber: phoneNumberDetail(phone), linkedWhatsAppBusinessAccountId: phone.waba.id } };
}

/** PutWhatsAppBusinessAccountEventDestinations: one destination per WABA (or none, to remove it). */
export function putWhatsAppBusinessAccountEventDestinations(
  ctx: EmulatorContext,
  req: EmulatorRequest,
): HandlerResult {
  const input = parseInput(
    z.object({
      id: z.string().min(1),
      eventDestinations: z.array(
        z.object({ eventDestinationArn: z.string().min(1), roleArn: z.string().optional() }),
      ),
    }),
    jsonBody(req),
  );
  const waba = requireWaba(ctx, input.id, 'InvalidParametersException');
  validateEventDestinations(input.eventDestinations);
  waba.eventDestinations = input.eventDestinations;
  return { json: {} };
}
