import type { Command } from 'commander';

/** Registers `wa-campaigns worker`. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run the Temporal worker (all workflows and activities) until SIGINT/SIGTERM')
    .action(async () => {
      // Loaded when the worker starts, not with the CLI: the worker pulls in most of the product.
      const [{ loadConfig }, { runWorkerService }] = await Promise.all([
        import('../shared/config.js'),
        import('../worker/service.js'),
      ]);
      await runWorkerService(loadConfig());
    });
}
