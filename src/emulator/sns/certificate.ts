import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** The key SNS messages are signed with and the self-signed certificate that vouches for it. */
export interface SigningIdentity {
  privateKey: KeyObject;
  certificatePem: string;
}

/**
 * Creates a fresh signing identity. The RSA key comes from node:crypto (native, fast); node-forge
 * wraps its public half in an X.509 certificate, which is what SNS validators download and check.
 */
export function createSigningIdentity(commonName = 'sns.emulator.local', now = new Date()): SigningIdentity {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3_600_000);
  cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 3_600_000);
  const attrs = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'wa-campaigns emulator' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { privateKey: createPrivateKey(pem), certificatePem: forge.pki.certificateToPem(cert) };
}
