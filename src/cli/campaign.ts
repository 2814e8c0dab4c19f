import { createWriteStream } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { FINAL_CAMPAIGN_STATES, type CampaignState } from '../workflows/definitions';
import type { CampaignClient, Category } from '../client/campaign-client';
import type { CliContext } from './context';
import { formatStatus } from './format';

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

/** Registers `wa-campaigns campaign …`. */
export function registerCampaignCommands(program: Command): void {
  const campaign = program.command('campaign').description('Start, watch and control template campaigns');

  campaignOptions(
    campaign.command('start').description('Check a campaign, import its recipients and start sending'),
  )
    .option('--json', 'print {"campaignId": …} only')
    .action(async (opts: StartOptions) => {
      await withCampaigns(async ({ campaigns }) => {
        const result = await campaigns.start(startInput(opts));
        if (opts.json) {
          print(JSON.stringify({ campaignId: result.campaignId }));
          return;
        }
        print(
          `campaign ${result.campaignId} started: ${result.accepted} recipients accepted, ${result.rejected} rejected`,
        );
        for (const r of result.rejections) print(`  line ${r.line}: ${r.reason}`);
        if (result.rejected > result.rejections.length) {
          print(`  … see all with: wa-campaigns campaign rejections ${result.campaignId}`);
        }
      });
    });

  campaignOptions(
    campaign.command('plan').description('Run every check and estimate the sending time, without sending'),
  )
    .option('--json', 'machine-readable output')
    .action(async (opts: StartOptions) => {
      await withCampaigns(async ({ campaigns }) => {
        const plan = await campaigns.plan(startInput(opts));
        if (opts.json) return printJson(plan);
        print(
          `template ${plan.template.name}/${plan.template.language}: ${plan.template.status}, ` +
            `${plan.template.bodyParameters} body parameters, ${plan.template.category ?? 'unknown category'}`,
        );
        print(
          `number ${plan.number.phoneNumberId}: ${plan.number.mps} messages/s, tier ${plan.tier.used}/${plan.number.tierLimit ?? 'unlimited'} used`,
        );
        print(
          `rows ${plan.rows}: ${plan.valid} would be sent, ${plan.rejectedCount} rejected, ${plan.openServiceWindows} with an open service window`,
        );
        for (const r of plan.rejected) print(`  line ${r.line}: ${r.reason}`);
        print(`estimated finish ${plan.eta} (${formatDuration(plan.etaSeconds)})`);
        for (const a of plan.assumptions) print(`  assuming ${a}`);
      });
    });

  campaign
    .command('status <id>')
    .description('Where a campaign stands')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withCampaigns(async ({ campaigns }) => {
        const status = await campaigns.status(id);
        if (opts.json) printJson(status);
        else print(formatStatus(status));
      });
    });

  campaign
    .command('watch <id>')
    .description('Live progress until the campaign ends')
    .option('--interval <ms>', 'refresh interval', parsePositiveInt, 1000)
    .action(async (id: string, opts: { interval: number }) => {
      await withCampaigns(async ({ campaigns }) => {
        print(formatStatus(await watchCampaign(campaigns, id, opts.interval)));
      });
    });

  campaign
    .command('list')
    .description('Recent campaigns')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await withCampaigns(async ({ campaigns }) => {
        const items = await campaigns.list();
        if (opts.json) return printJson(items);
        for (const c of items)
          print(
            `${c.campaignId}  ${c.state.padEnd(10)} ${c.template}  ${c.total} recipients  ${c.createdAt}`,
          );
        if (items.length === 0) print('no campaigns yet');
      });
    });

  campaign
    .command('report <id>')
    .description('Write one CSV line per recipient: state, message id, error, timestamps')
    .option('--out <file>', 'output file (default: standard output)')
    .action(async (id: string, opts: { out?: string }) => {
      await withCampaigns(async ({ campaigns }) => {
        const out = opts.out ? createWriteStream(opts.out) : process.stdout;
        const n = await campaigns.report(id, out);
        if (opts.out) process.stderr.write(`${n} recipients written to ${opts.out}\n`);
      });
    });

  campaign
    .command('rejections <id>')
    .description('Rows refused at import, with the reason')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withCampaigns(async ({ campaigns }) => {
        const rows = await campaigns.rejections(id, 100_000);
        if (opts.json) return printJson(rows);
        for (const r of rows) print(`line ${r.line}: ${r.reason}  [${r.input}]`);
      });
    });

  for (const verb of ['pause', 'resume', 'cancel'] as const) {
    campaign
      .command(`${verb} <id>`)
      .description(`${verb[0]!.toUpperCase()}${verb.slice(1)} a campaign`)
      .option('--reason <text>', 'recorded with the state change')
      .action(async (id: string, opts: { reason?: string }) => {
        await withCampaigns(async ({ campaigns }) => {
          if (verb === 'pause') print(`campaign ${id}: ${await campaigns.pause(id, opts.reason)}`);
          else if (verb === 'resume') print(`campaign ${id}: ${await campaigns.resume(id)}`);
          else print(formatStatus(await campaigns.cancel(id, opts.reason)));
        });
      });
  }

  const number = program.command('number').description('Sending numbers');
  number
    .command('set-rate <phone-number-id> <mps>')
    .description('Change the messages per second a number sends at (1 to 1000), at run time')
    .action(async (id: string, mps: string) => {
      const value = parsePositiveInt(mps);
      await withCampaigns(async ({ campaigns }) => {
        const status = await campaigns.setRate(id, value);
        print(`number ${id}: ${status.mps ?? value} messages/s`);
      });
    });
}

/**
 * Runs `fn` with the database, Temporal and AWS clients open. They are loaded here, when a command runs,
 * not when the CLI starts: loading them takes longer than the whole of `wa-campaigns --help` may.
 */
async function withCampaigns<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const { withCampaignClient } = await import('./context.js');
  return withCampaignClient(fn);
}

interface StartOptions {
  template: string;
  language: string;
  from: string;
  recipients: string;
  category?: string;
  startAt?: string;
  sendWindow?: string;
  deadline?: string;
  name?: string;
  defaultCountry?: string;
  ambiguous?: 'at-most-once' | 'at-least-once';
  json?: boolean;
}

/** The options `start` and `plan` share. */
function campaignOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--template <name>', 'approved template name')
    .requiredOption('--language <code>', 'template language code, e.g. en_US')
    .requiredOption('--from <phone-number-id>', 'sending number (phone-number-id-…)')
    .requiredOption(
      '--recipients <file>',
      'recipients, .csv (header: phone, parameters…, timezone, locale) or .jsonl',
    )
    .addOption(
      new Option('--category <category>', 'template category').choices([
        'marketing',
        'utility',
        'authentication',
      ]),
    )
    .option('--start-at <iso>', 'start no earlier than this time')
    .option('--send-window <HH:MM-HH:MM>', "send only inside this window of each recipient's local time")
    .option('--deadline <iso>', 'stop at this time and report what was not sent')
    .option('--name <name>', 'a label for listings')
    .option('--default-country <cc>', 'country (ISO code) for numbers written without +prefix')
    .addOption(
      new Option(
        '--ambiguous <policy>',
        'a send with no answer and no status event: record it, or send again',
      )
        .choices(['at-most-once', 'at-least-once'])
        .default('at-most-once'),
    );
}

function startInput(opts: StartOptions) {
  return {
    templateName: opts.template,
    templateLanguage: opts.language,
    phoneNumberId: opts.from,
    recipientsFile: opts.recipients,
    category: opts.category?.toUpperCase() as Category | undefined,
    startAt: opts.startAt,
    sendWindow: opts.sendWindow,
    deadline: opts.deadline,
    name: opts.name,
    defaultCountry: opts.defaultCountry,
    ambiguityPolicy: opts.ambiguous,
  };
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

/** Shows a progress bar until the campaign reaches a final state; returns that status. */
export async function watchCampaign(campaigns: CampaignClient, id: string, intervalMs: number) {
  // Here rather than at the top: the progress bar's terminal handling takes longer to load than all the
  // rest of `wa-campaigns --help`.
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} done | {state} {detail}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  let status = await campaigns.status(id);
  const done = () => status.counts.total - status.counts.pending;
  bar.start(status.counts.total, done(), { state: status.state, detail: '' });
  while (!FINAL_CAMPAIGN_STATES.includes(status.state as CampaignState)) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    status = await campaigns.status(id);
    bar.update(done(), {
      state: status.state,
      detail: `sent ${status.counts.sent + status.counts.delivered + status.counts.read} failed ${status.counts.failed}`,
    });
  }
  bar.stop();
  return status;
}
