import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceHttp, type ServiceHttp } from '../../src/shared/http-service';

let service: ServiceHttp;

beforeAll(async () => {
  service = await startServiceHttp({
    host: '127.0.0.1',
    port: 0,
    health: () => ({ ok: true, detail: {} }),
    limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, maxConnections: 3 },
  });
});
afterAll(() => service?.close());

/** Opens a raw connection, writes `text`, and resolves with what came back once the server closes it. */
function slowClient(text: string, port = service.port): { closed: Promise<string>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.write(text);
  const closed = new Promise<string>((resolve, reject) => {
    socket.on('close', () => resolve(received));
    socket.on('error', () => undefined);
    // Far beyond the limits: reaching it means the server kept the connection.
    setTimeout(() => reject(new Error('the server kept the connection open')), 10_000).unref();
  });
  return { closed, socket };
}

describe("a service's HTTP connection limits", () => {
  it('closes a connection whose headers never finish, answering 408', async () => {
    const { closed } = slowClient('POST /sns HTTP/1.1\r\nHost: x\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes a connection whose body trickles in slower than the request limit', async () => {
    const { closed, socket } = slowClient(
      'POST /sns HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(10),
    );
    const drip = setInterval(() => socket.writable && socket.write('x'), 100);
    try {
      expect(await closed).toMatch(/408|^$/);
    } finally {
      clearInterval(drip);
    }
  });

  it('refuses connections past the cap and still serves once they are gone', async () => {
    // Long timeouts here, so the held connections stay until the test lets them go.
    const capped = await startServiceHttp({
      host: '127.0.0.1',
      port: 0,
      health: () => ({ ok: true, detail: {} }),
      limits: { headersTimeoutMs: 8_000, requestTimeoutMs: 9_000, maxConnections: 3 },
    });
    try {
      const held = [0, 1, 2].map(() => slowClient('GET /healthz HTTP/1.1\r\nHost: x\r\n', capped.port));
      await new Promise((r) => setTimeout(r, 200));
      const extra = slowClient('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', capped.port);
      // Dropped at once, unanswered.
      expect(await extra.closed).toBe('');
      for (const h of held) h.socket.destroy();
      await Promise.all(held.map((h) => h.closed));
      const res = await fetch(`http://127.0.0.1:${capped.port}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      await capped.close();
    }
  });
});
