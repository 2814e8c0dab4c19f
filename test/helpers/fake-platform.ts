import type { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { ThrottledRequestException, ValidationException } from '@aws-sdk/client-socialmessaging';
import { Context } from '@temporalio/activity';

/**
 * An in-memory stand-in for AWS End User Messaging Social, for workflow tests on the time-skipping
 * server, where the HTTP emulator's real clock would not follow skipped time. It answers the commands the
 * engine uses and records every accepted send with the (virtual) time it was made.
 */
export class FakePlatform {
  readonly wabaId = 'waba-fake';
  readonly templates = new Map<
    string,
    { status: string; quality?: string; category: string; params: number }
  >();
  readonly sends: { to: string; template: string; atMs: number; callbackData?: string }[] = [];
  /** Meta codes to answer for a recipient, one per attempt, before it succeeds. */
  readonly failures = new Map<string, number[]>();
  /** Recipients whose next send is accepted but whose answer is lost (the caller sees a time-out). */
  readonly lostAnswers = new Set<string>();
  /**
   * Runs after a send is accepted and before its answer reaches the caller: a status event that overtakes
   * the answer (the ingest service is quick, the sender records its outcomes a little later).
   */
  beforeAnswer:
    ((send: { to: string; messageId: string; callbackData?: string }) => Promise<void>) | undefined;
  private nextId = 1;

  constructor(private readonly clock: () => number) {}

  setTemplate(
    name: string,
    language: string,
    t: { status: string; quality?: string; category?: string; params?: number },
  ) {
    this.templates.set(`${name}/${language}`, { category: 'MARKETING', params: 0, ...t });
  }

  client(): SocialMessagingClient {
    const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      switch (command.constructor.name) {
        case 'GetLinkedWhatsAppBusinessAccountPhoneNumberCommand':
          return { linkedWhatsAppBusinessAccountId: this.wabaId };
        case 'ListWhatsAppMessageTemplatesCommand':
          return {
            templates: [...this.templates.entries()].map(([key, t]) => {
              const [name, language] = key.split('/');
              return {
                templateName: name,
                templateLanguage: language,
                metaTemplateId: key,
                templateStatus: t.status,
              };
            }),
          };
        case 'GetWhatsAppMessageTemplateCommand': {
          const key = command.input.metaTemplateId as string;
          const t = this.templates.get(key);
          const body = Array.from({ length: t?.params ?? 0 }, (_, i) => `{{${i + 1}}}`).join(' ');
          return {
            template: JSON.stringify({
              status: t?.status,
              category: t?.category,
              quality_score: t?.quality ? { score: t.quality } : undefined,
              components: [{ type: 'BODY', text: `Hello ${body}` }],
            }),
          };
        }
        case 'SendWhatsAppMessageCommand': {
          const message = JSON.parse(Buffer.from(command.input.message as Uint8Array).toString('utf8')) as {
            to: string;
            template: { name: string };
            biz_opaque_callback_data?: string;
          };
          const queue = this.failures.get(message.to);
          const code = queue?.shift();
          if (code !== undefined) {
            const ErrorType =
              code === 130429 || code === 131056 ? ThrottledRequestException : ValidationException;
            throw new ErrorType({ message: `Meta rejected the message (#${code})`, $metadata: {} });
          }
          this.sends.push({
            to: message.to,
            template: message.template.name,
            atMs: this.clock(),
            callbackData: message.biz_opaque_callback_data,
          });
          const messageId = `wamid.fake${this.nextId++}`;
          await this.beforeAnswer?.({
            to: message.to,
            messageId,
            ...(message.biz_opaque_callback_data ? { callbackData: message.biz_opaque_callback_data } : {}),
          });
          if (this.lostAnswers.delete(message.to)) {
            throw Object.assign(new Error('socket hang up while waiting for the answer'), {
              name: 'TimeoutError',
            });
          }
          return { messageId };
        }
        default:
          throw new Error(`fake platform does not know ${command.constructor.name}`);
      }
    };
    return { send } as unknown as SocialMessagingClient;
  }
}

/**
 * A clock for activities that follows the time-skipping server: the server's (virtual) time when the
 * activity attempt was scheduled, plus the real time spent in it since.
 */
export function virtualActivityClock(): () => number {
  const seen = new WeakMap<object, { scheduled: number; realStart: number }>();
  return () => {
    let info;
    try {
      info = Context.current().info;
    } catch {
      return Date.now();
    }
    let entry = seen.get(info);
    if (!entry) {
      entry = { scheduled: info.currentAttemptScheduledTimestampMs, realStart: Date.now() };
      seen.set(info, entry);
    }
    return entry.scheduled + (Date.now() - entry.realStart);
  };
}
