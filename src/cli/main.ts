import { Command, CommanderError } from 'commander';
import { registerIngestCommand } from '../ingest/cli';
import { registerCampaignCommands } from './campaign';
import { registerOnboardCommands } from './onboard';
import { registerWorkerCommand } from './worker';
import { safeErrorText } from '../shared/safe-error';

/**
 * Registers `wa-campaigns emulator` as a stand-in that loads the emulator's own command only when it is
 * used: that module brings the whole emulator with it, which would double the start-up of every other
 * command. The real command then parses the arguments, `--help` included, exactly as it always has.
 */
function registerEmulatorStandIn(program: Command): void {
  program
    .command('emulator')
    .description('Run the local AWS End User Messaging Social emulator')
    .usage('[options]')
    .addHelpText('after', '\nRun `wa-campaigns emulator --help` for its options.')
    // --help goes to the real command, which knows the options.
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]')
    .action(async (_options: string[], _opts: unknown, standIn: Command) => {
      const { registerEmulatorCommand } = await import('../emulator/cli.js');
      const real = new Command('wa-campaigns').showHelpAfterError();
      registerEmulatorCommand(real);
      await real.parseAsync(['emulator', ...standIn.args], { from: 'user' });
    });
}

/** Builds the `wa-campaigns` command tree; each area registers its own sub-commands. */
export function buildProgram(): Command {
  const program = new Command('wa-campaigns')
    .description('Durable WhatsApp template campaigns and number onboarding on Temporal')
    .version('0.1.0')
    .showHelpAfterError()
    // The parent's term for the stand-in would otherwise read `emulator [options...]`.
    .configureHelp({ subcommandTerm: (cmd) => cmd.name() + (cmd.options.length > 0 ? ' [options]' : '') })
    // Before any command runs: every command's logs (the emulator's too) follow LOG_LEVEL, and the AWS
    // SDK, loaded by the commands that use it, is told to keep its Node-version notice to itself.
    .hook('preAction', async () => {
      const [{ loadLogLevel, quietAwsNodeVersionWarning }, { logger }] = await Promise.all([
        import('../shared/config.js'),
        import('../shared/logger.js'),
      ]);
      quietAwsNodeVersionWarning();
      logger.level = loadLogLevel();
    });
  registerWorkerCommand(program);
  registerCampaignCommands(program);
  registerOnboardCommands(program);
  registerEmulatorStandIn(program);
  registerIngestCommand(program);
  return program;
}

/** The CLI's entry: runs one command line (process.argv by default) to its end; the bin calls it. */
export async function run(argv: string[] = process.argv): Promise<void> {
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
    const { showErrorDetail } = await import('../shared/config.js');
    if (showErrorDetail()) console.error(err);
    process.exit(1);
  }
}

// Run from source as a script (`npm run wa-campaigns`, `tsx src/cli/main.ts`); the bin calls run() itself.
if (require.main === module) void run();
