import type { AwsExceptionName } from '../config';
import { metaError, metaErrorMessage } from '../meta/error-catalog';

/** AWS error names the emulator may return: the modelled ones plus the service framework's own. */
export type AwsErrorName = AwsExceptionName | 'UnknownOperationException' | 'SerializationException';

const STATUS: Record<AwsErrorName, number> = {
  ValidationException: 400,
  InvalidParametersException: 400,
  LimitExceededException: 400,
  SerializationException: 400,
  AccessDeniedException: 403,
  AccessDeniedByMetaException: 403,
  ResourceNotFoundException: 404,
  UnknownOperationException: 404,
  ThrottledRequestException: 429,
  InternalServiceException: 500,
  DependencyException: 502,
};

/**
 * An error an AWS operation returns. The restJson1 client picks the exception class from the
 * `x-amzn-ErrorType` header and the text from the body's `message`, so that is all we must get right.
 */
export class AwsError extends Error {
  readonly status: number;

  constructor(
    readonly awsName: AwsErrorName,
    message: string,
    /** The Meta code inside the message, when there is one. */
    readonly metaCode?: number,
    status?: number,
  ) {
    super(message);
    this.name = awsName;
    this.status = status ?? STATUS[awsName];
  }
}

/** A Meta code surfaced synchronously, as the AWS exception the catalogue (or an override) names. */
export function metaAwsError(code: number, details?: string, awsName?: AwsExceptionName): AwsError {
  return new AwsError(awsName ?? metaError(code).awsError, metaErrorMessage(code, details), code);
}

/** AWS's wording for a request that breaks the operation's input constraints. */
export function validationError(problems: string[]): AwsError {
  const n = problems.length;
  return new AwsError(
    'ValidationException',
    `${n} validation error${n === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
  );
}

/** Header value and body of an AWS error response. */
export function awsErrorResponse(err: AwsError): {
  status: number;
  headers: Record<string, string>;
  body: string;
} {
  return {
    status: err.status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': `${err.awsName}:http://internal.amazon.com/coral/com.amazonaws.socialmessaging/`,
    },
    body: JSON.stringify({ message: err.message }),
  };
}
