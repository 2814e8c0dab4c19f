/**
 * Where signing certificates (and SubscribeURLs) may come from. Real SNS signs with certificates under
 * https://sns.<region>.amazonaws.com; the emulator serves its own over plain HTTP, which only a
 * deliberately configured list of trusted URLs lets through.
 */

// SNS in a region: the host's middle label must be a region name (us-east-1, us-gov-west-1, cn-north-1).
// The validator library accepts any label there, which also admits other services' hosts of the same
// shape, such as S3's legacy virtual-hosted name for a bucket called "sns" (`sns.s3-external-1.…`).
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d{1,2}';
const AWS_SNS_HOST = new RegExp(`^sns\\.${REGION}\\.amazonaws\\.com(?:\\.cn)?$`);
const AWS_CERT_URL = new RegExp(
  `^https://sns\\.${REGION}\\.amazonaws\\.com(?:\\.cn)?/SimpleNotificationService-[a-zA-Z0-9]{32}\\.pem$`,
);

export function isAwsCertUrl(url: string): boolean {
  return AWS_CERT_URL.test(url);
}

/**
 * Signing-certificate URLs trusted besides the real SNS ones. An entry is a URL matched exactly, a URL
 * ending in `*` matched as a prefix, or a regular expression.
 */
export class TrustedCertUrls {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly patterns: RegExp[] = [];

  constructor(entries: readonly (string | RegExp)[] = []) {
    for (const entry of entries) {
      if (entry instanceof RegExp) this.patterns.push(entry);
      else if (entry.trim().endsWith('*')) this.prefixes.push(entry.trim().slice(0, -1));
      else if (entry.trim()) this.exact.add(entry.trim());
    }
  }

  trusts(url: string): boolean {
    return (
      this.exact.has(url) ||
      this.prefixes.some((p) => url.startsWith(p)) ||
      this.patterns.some((p) => p.test(url))
    );
  }
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * A SubscribeURL is only visited on SNS itself, or on the very service whose trusted certificate signed
 * the message (the emulator): never on a host that a message merely names.
 */
export function isConfirmableSubscribeUrl(
  url: string,
  signingCertUrl: string,
  trusted: TrustedCertUrls,
): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:' && AWS_SNS_HOST.test(parsed.hostname) && !parsed.port) return true;
  return trusted.trusts(signingCertUrl) && safeOrigin(signingCertUrl) === parsed.origin;
}
