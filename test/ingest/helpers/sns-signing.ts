import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';

/** A throwaway signing key and the self-signed certificate that carries its public half. */
export interface TestSigner {
  key: KeyObject;
  certPem: string;
}

/**
 * Makes a signer. node:crypto generates the RSA key (fast); node-forge builds and signs the X.509
 * certificate, valid from `notBefore` to `notAfter` (default: yesterday to next year).
 */
export function makeSigner(validity: { notBefore?: Date; notAfter?: Date } = {}): TestSigner {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = `0${Date.now().toString(16)}`;
  cert.validity.notBefore = validity.notBefore ?? new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = validity.notAfter ?? new Date(Date.now() + 365 * 86_400_000);
  const subject = [{ name: 'commonName', value: 'ingest-test-signer' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { key: createPrivateKey(pem), certPem: forge.pki.certificateToPem(cert) };
}

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'];
const CONFIRMATION_KEYS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];

/** Signs an SNS message the way SNS does: `key\nvalue\n` for each signed key present, RSA-SHA1 or -SHA256. */
export function signSns(
  fields: Record<string, string>,
  signer: TestSigner,
  version: '1' | '2' = '1',
): string {
  const keys = fields.Type === 'Notification' ? NOTIFICATION_KEYS : CONFIRMATION_KEYS;
  const text = keys
    .filter((k) => fields[k] !== undefined)
    .map((k) => `${k}\n${fields[k]}\n`)
    .join('');
  return sign(version === '1' ? 'sha1' : 'sha256', Buffer.from(text, 'utf8'), signer.key).toString('base64');
}

/**
 * A local stand-in for the SNS side: serves certificates at /certs/<name>.pem and records visits to
 * /confirm (the SubscribeURL). Certificates can be swapped to simulate a key change.
 */
export class CertServer {
  readonly certs = new Map<string, string>();
  readonly confirmations: string[] = [];
  confirmStatus = 200;
  private server?: http.Server;
  baseUrl = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      const cert = /^\/certs\/([\w-]+)\.pem$/.exec(url);
      if (cert && this.certs.has(cert[1]!)) {
        res.writeHead(200, { 'content-type': 'application/x-pem-file' });
        res.end(this.certs.get(cert[1]!));
      } else if (url.startsWith('/confirm')) {
        this.confirmations.push(url);
        res.writeHead(this.confirmStatus, { 'content-type': 'text/xml' });
        res.end('<ConfirmSubscriptionResponse/>');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  certUrl(name: string): string {
    return `${this.baseUrl}/certs/${name}.pem`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}
