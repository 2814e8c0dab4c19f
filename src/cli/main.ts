import { Command, CommanderError } from 'commander';
import { registerEmulatorCommand } from '../emulator/cli';
import { registerIngestCommand } from '../ingest/cli';
import { registerCampaignCommands } from './campaign';
import { registerOnboardCommands } from './onboard';
import { registerWorkerCommand } from './worker';

/** Builds the `wa-campaigns` command tree; each area registers its own sub-commands. */
export function buildProgram(): Command {
  const program = new Command('wa-campaigns')
    .description('Durable WhatsApp template campaigns and number onboarding on Temporal')
    .version('0.1.0')
    .showHelpAfterError();
  registerWorkerCommand(program);
  registerCampaignCommands(program);
  registerOnboardCommands(program);
  registerEmulatorCommand(program);
  registerIngestCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    // One clear line for the user; the stack only on request.
    // Temporal wraps a refused update or a failed workflow: the cause says what is wrong.
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    const message = err instanceof Error ? `${err.message}${cause}` : String(err);
    process.stderr.write(`wa-campaigns: ${message}\n`);
    if (process.env.DEBUG) console.error(err);
    process.exit(1);
  }
}

if (require.main === module || process.argv[1]?.endsWith('wa-campaigns.js')) {
  void main(process.argv);
}
