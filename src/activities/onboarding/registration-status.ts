import { GetLinkedWhatsAppBusinessAccountCommand } from '@aws-sdk/client-socialmessaging';
import type { ActivityDeps } from '../deps';
import { rethrowAws } from './aws-failures';

export interface RegistrationStatusResult {
  complete: boolean;
  /** The WABA's event destinations as the platform holds them. */
  eventDestinationArns: string[];
}

/** GetLinkedWhatsAppBusinessAccount: whether every number of the WABA is registered. */
export async function registrationStatus(
  deps: ActivityDeps,
  input: { wabaId: string },
): Promise<RegistrationStatusResult> {
  try {
    const { account } = await deps.socialMessaging.send(
      new GetLinkedWhatsAppBusinessAccountCommand({ id: input.wabaId }),
    );
    return {
      complete: account?.registrationStatus === 'COMPLETE',
      eventDestinationArns: (account?.eventDestinations ?? []).flatMap((d) =>
        d.eventDestinationArn ? [d.eventDestinationArn] : [],
      ),
    };
  } catch (err) {
    rethrowAws(err, `reading account ${input.wabaId}`);
  }
}
