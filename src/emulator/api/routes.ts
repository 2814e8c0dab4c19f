import type { EmulatorContext } from '../context';
import type { EmulatorRequest, HandlerResult, Router } from '../http/router';
import { associateWhatsAppBusinessAccount } from './associate';
import { withFaults } from './faults';
import { deleteWhatsAppMessageMedia, postWhatsAppMessageMedia } from './media';
import { sendWhatsAppMessage } from './send-message';
import { getWhatsAppMessageTemplate, listWhatsAppMessageTemplates } from './templates';
import {
  getLinkedWhatsAppBusinessAccount,
  getLinkedWhatsAppBusinessAccountPhoneNumber,
  listLinkedWhatsAppBusinessAccounts,
  putWhatsAppBusinessAccountEventDestinations,
} from './waba-queries';

type Operation = (ctx: EmulatorContext, req: EmulatorRequest) => HandlerResult | Promise<HandlerResult>;

// Paths and methods as in the SDK's restJson1 model of AWS End User Messaging Social.
const OPERATIONS: [method: string, path: string, name: string, op: Operation][] = [
  ['POST', '/v1/whatsapp/signup', 'AssociateWhatsAppBusinessAccount', associateWhatsAppBusinessAccount],
  ['GET', '/v1/whatsapp/waba/details', 'GetLinkedWhatsAppBusinessAccount', getLinkedWhatsAppBusinessAccount],
  ['GET', '/v1/whatsapp/waba/phone/details', 'GetLinkedWhatsAppBusinessAccountPhoneNumber', getLinkedWhatsAppBusinessAccountPhoneNumber],
  ['GET', '/v1/whatsapp/waba/list', 'ListLinkedWhatsAppBusinessAccounts', listLinkedWhatsAppBusinessAccounts],
  ['PUT', '/v1/whatsapp/waba/eventdestinations', 'PutWhatsAppBusinessAccountEventDestinations', putWhatsAppBusinessAccountEventDestinations],
  ['GET', '/v1/whatsapp/template/list', 'ListWhatsAppMessageTemplates', listWhatsAppMessageTemplates],
  ['GET', '/v1/whatsapp/template', 'GetWhatsAppMessageTemplate', getWhatsAppMessageTemplate],
  ['POST', '/v1/whatsapp/media', 'PostWhatsAppMessageMedia', postWhatsAppMessageMedia],
  ['DELETE', '/v1/whatsapp/media', 'DeleteWhatsAppMessageMedia', deleteWhatsAppMessageMedia],
]; // prettier-ignore

/** Registers the AWS End User Messaging Social operations the emulator implements. */
export function registerSocialMessagingRoutes(router: Router, ctx: EmulatorContext): void {
  router.add('POST', '/v1/whatsapp/send', 'aws', (req) => sendWhatsAppMessage(ctx, req));
  for (const [method, path, name, op] of OPERATIONS) {
    router.add(
      method,
      path,
      'aws',
      withFaults(ctx, name, (req) => op(ctx, req)),
    );
  }
}
