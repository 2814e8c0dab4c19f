import type { EmulatorContext } from '../context';
import type { EmulatorRequest, HandlerResult, Router } from '../http/router';
import { receiveSms } from '../sms/inbound';
import type { PhoneNumberState } from '../world/state';

/** Where the emulator serves Meta's Graph API: point WA_META_GRAPH_URL at `<url>/graph`. */
export const GRAPH_PREFIX = '/graph/';

/** The number Meta's verification SMS come from. */
export const META_OTP_SENDER = '+15550009999';

function graphError(status: number, code: number, message: string): HandlerResult {
  return { status, json: { error: { message, type: 'OAuthException', code, fbtrace_id: 'emulator' } } };
}

function formOf(req: EmulatorRequest): URLSearchParams {
  const text = req.body.toString('utf8');
  if (text.trim().startsWith('{')) {
    try {
      return new URLSearchParams(JSON.parse(text) as Record<string, string>);
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(text);
}

/** The caller must hold the access token of the signup that brought the number in. */
function authorized(ctx: EmulatorContext, req: EmulatorRequest, phone: PhoneNumberState): boolean {
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  return token !== undefined && ctx.world.wabaByAccessToken.get(token) === phone.waba.id;
}

/**
 * The two Cloud API calls of phone verification: `POST /<version>/<phone-number-id>/request_code`
 * sends a 6-digit code by SMS to the number (an SMS number of this account with two-way SMS publishes
 * it to its topic), and `verify_code` checks it. Addressed by Meta's phone number id, authorised by
 * the signup's access token.
 */
function graphCall(ctx: EmulatorContext, req: EmulatorRequest): HandlerResult {
  const [, , metaId, edge] = req.path.slice(1).split('/');
  const phone = [...ctx.world.numbers.values()].find((p) => p.metaPhoneNumberId === metaId);
  if (!phone)
    return graphError(400, 100, `Unsupported post request. Object with ID '${metaId ?? ''}' does not exist`);
  if (!authorized(ctx, req, phone)) return graphError(401, 190, 'Invalid OAuth access token');
  const form = formOf(req);
  if (edge === 'request_code') {
    const method = (form.get('code_method') ?? '').toUpperCase();
    if (method !== 'SMS' && method !== 'VOICE')
      return graphError(400, 100, 'code_method must be SMS or VOICE');
    const code = ctx.rng.ids.digits(6);
    phone.verificationCode = code;
    if (method === 'SMS') {
      receiveSms(ctx, {
        to: phone.phoneNumber,
        from: META_OTP_SENDER,
        body: `Your WhatsApp Business code ${code.slice(0, 3)}-${code.slice(3)}. Don't share this code with others.`,
      });
    }
    return { json: { success: true } };
  }
  if (edge === 'verify_code') {
    const code = form.get('code') ?? '';
    if (!phone.verificationCode || code !== phone.verificationCode) {
      return graphError(400, 136025, 'Verify code error: the code does not match the last one sent');
    }
    phone.verified = true;
    phone.verificationCode = undefined;
    ctx.logger.info({ id: phone.id }, 'phone number verified');
    return { json: { success: true } };
  }
  return graphError(400, 100, `Unknown edge ${edge ?? ''}`);
}

/** Registers the Graph API routes. */
export function registerGraphRoutes(router: Router, ctx: EmulatorContext): void {
  router.addPrefix('POST', GRAPH_PREFIX, 'control', (req) => graphCall(ctx, req));
}
