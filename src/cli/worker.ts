import type { Command } from 'commander';
import { loadConfig } from '../shared/config';
import { runWorkerService } from '../worker/service';

/** Registers `wa-campaigns worker`. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run the Temporal worker (all workflows and activities) until SIGINT/SIGTERM')
    .action(async () => {
      await runWorkerService(loadConfig());
    });
}
