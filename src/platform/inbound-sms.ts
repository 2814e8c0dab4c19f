/** An inbound SMS as AWS End User Messaging SMS publishes it to SNS (two-way SMS). */
export interface InboundSms {
  originationNumber: string;
  destinationNumber: string;
  messageBody: string;
  inboundMessageId?: string;
  /** A 6-digit verification code found in the text (WhatsApp writes it `123-456`). */
  code?: string;
}

/**
 * Reads an SNS `Message` as an inbound SMS; undefined when it is something else (a WhatsApp event).
 * Pure, so the ingest service can use it to route codes to the onboarding waiting for them.
 */
export function parseInboundSms(message: unknown): InboundSms | undefined {
  let obj: Record<string, unknown>;
  try {
    obj = (typeof message === 'string' ? JSON.parse(message) : message) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object') return undefined;
  const { originationNumber, destinationNumber, messageBody, inboundMessageId } = obj;
  if (typeof destinationNumber !== 'string' || typeof messageBody !== 'string') return undefined;
  const match = /(?<!\d)(\d{3})[- ]?(\d{3})(?!\d)/.exec(messageBody);
  return {
    originationNumber: typeof originationNumber === 'string' ? originationNumber : '',
    destinationNumber,
    messageBody,
    ...(typeof inboundMessageId === 'string' ? { inboundMessageId } : {}),
    ...(match ? { code: `${match[1]}${match[2]}` } : {}),
  };
}
