import { startEmulator, type EmulatorHandle, type StartEmulatorOptions } from '../../src/emulator';
import { AwsContract } from '../contract/aws-contract';
import { preloadMessageSchema } from '../contract/meta-schema';

/** An emulator whose every AWS answer is held against AWS's published service models. */
export interface CheckedEmulator extends EmulatorHandle {
  contract: AwsContract;
}

/** Fails with every finding, when the emulator or the engine strayed from AWS's models. */
export function assertConforms(contract: AwsContract): void {
  if (contract.violations.length > 0) {
    throw new Error(
      `${contract.violations.length} exchange(s) with the emulator break AWS's service models:\n${contract.report()}`,
    );
  }
}

/**
 * Starts the emulator as every test should: each request (the engine's, through the real SDK) and each
 * answer (the emulator's) is checked against the vendored models, and `close()` fails the test file on
 * any finding, so neither side can drift from AWS unseen.
 */
export async function startCheckedEmulator(opts: StartEmulatorOptions = {}): Promise<CheckedEmulator> {
  const contract = new AwsContract();
  preloadMessageSchema();
  const emu = await startEmulator({ ...opts, onAwsExchange: contract.observe });
  return {
    ...emu,
    contract,
    close: async () => {
      await emu.close();
      assertConforms(contract);
    },
  };
}
