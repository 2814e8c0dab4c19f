import type { AwsExceptionName } from '../config';

/** How a Meta error reaches the caller of SendWhatsAppMessage. */
export type Surface = 'sync' | 'async';

/** One Meta error code as the emulator reports it. */
export interface MetaErrorInfo {
  code: number;
  title: string;
  /** Default way it surfaces; `errorSurfaces` in the config overrides it per code. */
  surface: Surface;
  /** The AWS exception carrying it when it surfaces synchronously. */
  awsError: AwsExceptionName;
}

// Our own short wording of Meta's published meanings. The surface defaults follow what Meta's Cloud
// API does: request problems and rate limits come back on the call; what Meta learns only while
// delivering (the user, their preferences, their window) comes back as a `failed` status event.
const CATALOGUE: MetaErrorInfo[] = [
  { code: 2, title: 'Service temporarily unavailable', surface: 'sync', awsError: 'DependencyException' },
  { code: 4, title: 'Too many API calls for this app', surface: 'sync', awsError: 'ThrottledRequestException' },
  { code: 100, title: 'Invalid parameter', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 190, title: 'Access token is invalid or expired', surface: 'sync', awsError: 'AccessDeniedException' },
  { code: 368, title: 'Temporarily blocked for policy violations', surface: 'sync', awsError: 'AccessDeniedException' },
  { code: 80007, title: 'WhatsApp Business Account rate limit hit', surface: 'sync', awsError: 'ThrottledRequestException' },
  { code: 130429, title: 'Throughput limit reached for this phone number', surface: 'sync', awsError: 'ThrottledRequestException' },
  { code: 130472, title: "User's number is part of an experiment", surface: 'async', awsError: 'InvalidParametersException' },
  { code: 131000, title: 'Something went wrong', surface: 'sync', awsError: 'DependencyException' },
  { code: 131008, title: 'Required parameter is missing', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 131009, title: 'Parameter value is not valid', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 131016, title: 'Service unavailable', surface: 'sync', awsError: 'DependencyException' },
  { code: 131026, title: 'Message undeliverable to this user', surface: 'async', awsError: 'InvalidParametersException' },
  { code: 131031, title: 'Business account has been locked', surface: 'sync', awsError: 'AccessDeniedException' },
  { code: 131042, title: 'Business eligibility problem with payment', surface: 'sync', awsError: 'AccessDeniedException' },
  { code: 131047, title: 'More than 24 hours since the user last replied', surface: 'async', awsError: 'InvalidParametersException' },
  { code: 131048, title: 'Spam rate limit hit: this number may not send more now', surface: 'async', awsError: 'AccessDeniedException' },
  { code: 131049, title: 'Not delivered to keep engagement healthy (per-user marketing limit)', surface: 'async', awsError: 'AccessDeniedException' },
  { code: 131050, title: 'User has stopped marketing messages from this business', surface: 'async', awsError: 'AccessDeniedException' },
  { code: 131053, title: 'Media upload error', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 131056, title: 'Pair rate limit hit: too many messages to this user', surface: 'sync', awsError: 'ThrottledRequestException' },
  { code: 131057, title: 'Account in maintenance mode (throughput upgrade)', surface: 'sync', awsError: 'DependencyException' },
  { code: 132000, title: 'Number of parameters does not match the template', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132001, title: 'Template does not exist in this language or is not approved', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132005, title: 'Translated text too long', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132007, title: 'Template format character policy violated', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132012, title: 'Parameter format does not match the template', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132015, title: 'Template is paused because of low quality', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132016, title: 'Template is disabled because of low quality', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 132018, title: 'Problem with the template parameters', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 133004, title: 'Server temporarily unavailable', surface: 'sync', awsError: 'DependencyException' },
  { code: 133005, title: 'Two-step verification PIN mismatch', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 133006, title: 'Phone number must be verified before registering', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 133010, title: 'Phone number is not registered', surface: 'sync', awsError: 'AccessDeniedException' },
  { code: 133015, title: 'Number was deleted recently; try again in 5 minutes', surface: 'sync', awsError: 'InvalidParametersException' },
  { code: 133016, title: 'Register/deregister attempts exceeded (10 in 72 hours)', surface: 'sync', awsError: 'ThrottledRequestException' },
  { code: 2494100, title: 'Maintenance in progress', surface: 'sync', awsError: 'DependencyException' },
]; // prettier-ignore

const BY_CODE = new Map(CATALOGUE.map((e) => [e.code, e]));

/** Catalogue entry for a code; unknown codes (fault injection) default to a sync DependencyException. */
export function metaError(code: number): MetaErrorInfo {
  return BY_CODE.get(code) ?? { code, title: 'Meta error', surface: 'sync', awsError: 'DependencyException' };
}

/** Every catalogued code, for the docs and the state view. */
export function metaErrorCatalogue(): readonly MetaErrorInfo[] {
  return CATALOGUE;
}

/** The text of a synchronous error: Meta's convention `(#code) title: details`. */
export function metaErrorMessage(code: number, details?: string): string {
  const { title } = metaError(code);
  return details ? `(#${code}) ${title}: ${details}` : `(#${code}) ${title}`;
}
