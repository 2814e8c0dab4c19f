import { InvalidArgumentError, type Command } from 'commander';
import { logger } from '../shared/logger';
import { loadConfigFile, resolveConfig } from './config';
import { startEmulator } from './index';

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** Registers `wa-campaigns emulator`. */
export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('Run the local AWS End User Messaging Social emulator')
    .option('--port <port>', 'port to listen on (0 = any free port)', integer('--port', 0, 65_535), 4010)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--config <file>', 'world configuration (JSON); see docs/emulator.md')
    .option('--seed <n>', 'seed for ids, faults and delays', integer('--seed', 0, 2 ** 31 - 1))
    .option(
      '--public-url <url>',
      'base URL subscribers reach the emulator at (e.g. http://emulator:4010 in compose)',
    )
    .action(
      async (opts: { port: number; host: string; config?: string; seed?: number; publicUrl?: string }) => {
        const loaded = opts.config ? await loadConfigFile(opts.config) : undefined;
        const config = opts.publicUrl ? resolveConfig({ ...loaded, publicUrl: opts.publicUrl }) : loaded;
        const emulator = await startEmulator({ port: opts.port, host: opts.host, config, seed: opts.seed });
        process.stdout.write(
          `emulator ready at ${emulator.url}\n  export AWS_ENDPOINT_URL_SOCIALMESSAGING=${emulator.url}\n` +
            `  control: ${emulator.url}/_emulator/state\n  SNS signing certificate: ${emulator.publicUrl}/_emulator/sns/cert.pem\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = (signal: NodeJS.Signals): void => {
            logger.info({ signal }, 'emulator stopping');
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await emulator.close();
      },
    );
}
