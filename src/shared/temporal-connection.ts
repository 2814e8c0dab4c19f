import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnection } from '@temporalio/worker';

/** Temporal could not be reached; the message names the setting that says where it is. */
export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
}

interface ConnectSettings {
  address: string;
  namespace: string;
  options: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

/** Connection settings from TEMPORAL_* variables and the optional TOML profile (@temporalio/envconfig). */
export function temporalSettings(): ConnectSettings {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    address: connectionOptions.address ?? 'localhost:7233',
    namespace: namespace ?? 'default',
    options: connectionOptions,
  };
}

function unavailable(address: string, err: unknown): TemporalUnavailableError {
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new TemporalUnavailableError(`TEMPORAL_ADDRESS (${address}): cannot reach Temporal: ${reason}`);
}

/** A worker connection to the configured Temporal service. */
export async function connectWorker(): Promise<{ connection: NativeConnection; namespace: string }> {
  const s = temporalSettings();
  // Loaded here: the worker package takes longer to load than the rest of a CLI command needs.
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    const connection = await NativeConnection.connect({ ...s.options, address: s.address });
    return { connection, namespace: s.namespace };
  } catch (err) {
    throw unavailable(s.address, err);
  }
}

export interface ConnectClientOptions {
  /**
   * Payload codec and failure converter: the one WA_CODEC_KEYS configures (codecDataConverter), so the
   * client reads and writes the same encrypted payloads as the worker. Absent: Temporal's defaults.
   */
  dataConverter?: DataConverter;
}

/** A client for the configured Temporal service, checked with one round trip. */
export async function connectClient(
  options: ConnectClientOptions = {},
): Promise<{ client: Client; close: () => Promise<void> }> {
  const s = temporalSettings();
  const { dataConverter } = options;
  try {
    const connection = await Connection.connect({
      ...(s.options as Parameters<typeof Connection.connect>[0]),
      address: s.address,
      connectTimeout: '5s',
    });
    await connection.ensureConnected();
    const client = new Client({
      connection,
      namespace: s.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    });
    return { client, close: () => connection.close() };
  } catch (err) {
    throw unavailable(s.address, err);
  }
}
