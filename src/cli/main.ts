import { Command, CommanderError } from 'commander';
import { registerEmulatorCommand } from '../emulator/cli';
import { registerIngestCommand } from '../ingest/cli';
import { registerCampaignCommands } from './campaign';
import { registerOnboardCommands } from './onboard';
import { registerWorkerCommand } from './worker';
import { loadLogLevel, quietAwsNodeVersionWarning, showErrorDetail } from '../shared/config';
import { logger } from '../shared/logger';
import { safeErrorText } from '../shared/safe-error';

/** Builds the `wa-campaigns` command tree; each area registers its own sub-commands. */
export function buildProgram(): Command {
  const program = new Command('wa-campaigns')
    .description('Durable WhatsApp template campaigns and number onboarding on Temporal')
    .version('0.1.0')
    .showHelpAfterError()
    // Before any command runs, so every command's logs (the emulator's too) follow LOG_LEVEL.
    .hook('preAction', () => {
      logger.level = loadLogLevel();
    });
  registerWorkerCommand(program);
  registerCampaignCommands(program);
  registerOnboardCommands(program);
  registerEmulatorCommand(program);
  registerIngestCommand(program);
  return program;
}

/** The CLI's entry: runs one command line (process.argv by default) to its end; the bin calls it. */
export async function run(argv: string[] = process.argv): Promise<void> {
  quietAwsNodeVersionWarning();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    // One clear line for the user; the stack only on request.
    // Temporal wraps a refused update or a failed workflow: the cause says what is wrong.
    // A failed query is told without its parameters (phone numbers of an import, for one).
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${safeErrorText(err.cause)}` : '';
    const message = `${safeErrorText(err)}${cause}`;
    process.stderr.write(`wa-campaigns: ${message}\n`);
    if (showErrorDetail()) console.error(err);
    process.exit(1);
  }
}

// Run from source as a script (`npm run wa-campaigns`, `tsx src/cli/main.ts`); the bin calls run() itself.
if (require.main === module) void run();
