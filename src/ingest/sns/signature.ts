import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import SnsPayloadValidator from 'sns-payload-validator';
import { isAwsCertUrl, TrustedCertUrls } from './cert-urls';
import type { SnsBody } from './envelope';

/** The message is not authentic (bad signature, certificate from an untrusted place, expired certificate). */
export class SignatureRejected extends Error {
  override name = 'SignatureRejected';
}

/** The signing certificate could not be fetched: not the sender's fault, so SNS should try again. */
export class CertificateUnavailable extends Error {
  override name = 'CertificateUnavailable';
}

export interface SignatureVerifierOptions {
  /** Certificate URLs trusted besides real SNS (the emulator's, in tests and demos). */
  trusted?: TrustedCertUrls;
  /** Downloads a certificate; replaceable in tests. */
  fetchCertificate?: (url: string) => Promise<string>;
  now?: () => number;
}

// What the library says when the message itself is at fault.
const LIBRARY_REJECTIONS = new Set([
  'Invalid Signature',
  'Invalid SigningCertURL',
  'Invalid SignatureVersion',
  'Invalid Type',
]);
const CERT_MAX_BYTES = 64 * 1024;

interface SigningCert {
  publicKey: KeyObject;
  validFrom: number;
  validTo: number;
}

/** The library's certificate cache, which it consults before downloading anything. */
interface CertCache {
  set(key: string, value: unknown): unknown;
}

/**
 * Checks SNS signatures with the maintained `sns-payload-validator` library: it checks the signature
 * version (1 = SHA1withRSA, 2 = SHA256withRSA), that SigningCertURL is an SNS certificate URL, builds
 * the canonical string and verifies the signature.
 *
 * Two things it cannot do are added around it, minimally. It accepts only
 * https://sns.<region>.amazonaws.com certificates, with no setting to trust another (the emulator's, on
 * plain HTTP), and it re-reads the certificate PEM on every message, which costs more CPU than the rest
 * of handling an event. So this class downloads each certificate itself (with a time limit and a size
 * limit), checks its validity period, and places the parsed public key in the library's cache, which
 * the library then uses as is. A real SNS certificate goes in under its own URL, so the library's URL
 * check still applies; a trusted non-SNS certificate goes in under an amazonaws.com-shaped alias made
 * from its URL. SigningCertURL is not a signed field, so the alias changes nothing the signature covers.
 */
export class SnsSignatureVerifier {
  private readonly validator = new SnsPayloadValidator({ useCache: true, maxCerts: 200 });
  private readonly trusted: TrustedCertUrls;
  private readonly fetchCertificate: (url: string) => Promise<string>;
  private readonly now: () => number;
  private readonly certs = new Map<string, SigningCert>();
  private readonly downloads = new Map<string, Promise<SigningCert>>();

  constructor(options: SignatureVerifierOptions = {}) {
    this.trusted = options.trusted ?? new TrustedCertUrls();
    this.fetchCertificate = options.fetchCertificate ?? downloadCertificate;
    this.now = options.now ?? Date.now;
  }

  async verify(body: SnsBody): Promise<void> {
    const url = body.SigningCertURL;
    const aws = isAwsCertUrl(url);
    if (!aws && !this.trusted.trusts(url)) {
      throw new SignatureRejected(`SigningCertURL ${url} is not an SNS certificate URL`);
    }
    const cacheKey = aws ? url : aliasOf(url);
    const cached = this.certs.get(url);
    if (cached) {
      try {
        return await this.validateWith(body, cacheKey, cached);
      } catch (err) {
        // A trusted service (the emulator) makes a new key when it restarts: look again before calling
        // the message forged. A real SNS certificate URL always serves the same certificate.
        if (!(err instanceof SignatureRejected) || aws) throw err;
      }
    }
    await this.validateWith(body, cacheKey, await this.download(url));
  }

  /** One download per URL at a time, however many messages are waiting for it. */
  private download(url: string): Promise<SigningCert> {
    let pending = this.downloads.get(url);
    if (!pending) {
      pending = this.fetchAndParse(url).finally(() => this.downloads.delete(url));
      this.downloads.set(url, pending);
    }
    return pending;
  }

  private async fetchAndParse(url: string): Promise<SigningCert> {
    let pem: string;
    try {
      pem = await this.fetchCertificate(url);
    } catch (err) {
      throw new CertificateUnavailable(
        `signing certificate ${url}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw new CertificateUnavailable(`signing certificate ${url} is not a PEM certificate`);
    }
    const parsed = {
      publicKey: cert.publicKey,
      validFrom: Date.parse(cert.validFrom),
      validTo: Date.parse(cert.validTo),
    };
    this.certs.set(url, parsed);
    return parsed;
  }

  private async validateWith(body: SnsBody, cacheKey: string, cert: SigningCert): Promise<void> {
    const now = this.now();
    if (now < cert.validFrom || now > cert.validTo) {
      const range = `${new Date(cert.validFrom).toISOString()} – ${new Date(cert.validTo).toISOString()}`;
      throw new SignatureRejected(`signing certificate ${body.SigningCertURL} is not valid now (${range})`);
    }
    const cache = (this.validator as unknown as { certCache?: CertCache }).certCache;
    if (!cache || typeof cache.set !== 'function') {
      throw new Error(
        'sns-payload-validator no longer exposes its certificate cache; see src/ingest/sns/signature.ts',
      );
    }
    // No await between filling the cache and the library reading it, so no other message can interleave.
    cache.set(cacheKey, cert.publicKey);
    try {
      await this.validator.validate({
        ...body,
        SigningCertURL: cacheKey,
      } as unknown as SnsPayloadValidator.SnsPayload);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (LIBRARY_REJECTIONS.has(message)) {
        throw new SignatureRejected(`${message} (certificate ${body.SigningCertURL})`);
      }
      throw new CertificateUnavailable(`signing certificate ${body.SigningCertURL}: ${message}`);
    }
  }
}

/** An amazonaws.com-shaped cache key for a trusted certificate URL, which no real SNS URL can equal. */
function aliasOf(url: string): string {
  const digest = createHash('sha256').update(url).digest('hex').slice(0, 32);
  return `https://sns.trusted-local.amazonaws.com/SimpleNotificationService-${digest}.pem`;
}

/** GETs a certificate with a time limit and a size limit. */
async function downloadCertificate(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > CERT_MAX_BYTES) throw new Error('certificate too large');
  return text;
}
