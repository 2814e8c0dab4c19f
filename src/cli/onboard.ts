import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { OnboardingClient } from '../client/onboarding-client';
import {
  DATA_LOCALIZATION_REGIONS,
  EventDestinationKind,
  WabaMode,
  type EventDestinationChoice,
  type OnboardingStatus,
} from '../workflows/definitions';

const print = (text: string) => process.stdout.write(`${text}\n`);

/** The CLI could not do what was asked; the message says what to change. */
export class OnboardCommandError extends Error {
  override name = 'OnboardCommandError';
}

/**
 * Opens a Temporal client with the product's payload codec and runs `fn` with an onboarding client.
 * Onboarding carries secrets, so without WA_CODEC_KEYS it refuses to run at all. The clients are loaded
 * only when a command runs, so that `--help` and the other commands start without them.
 */
async function withOnboardingClient<T>(fn: (onboarding: OnboardingClient) => Promise<T>): Promise<T> {
  const [{ OnboardingClient }, { loadConfig }, { codecDataConverter }, { connectClient }] = await Promise.all(
    [
      import('../client/onboarding-client.js'),
      import('../shared/config.js'),
      import('../shared/data-converter.js'),
      import('../shared/temporal-connection.js'),
    ],
  );
  const config = loadConfig();
  if (!config.WA_CODEC_KEYS) {
    throw new OnboardCommandError(
      'WA_CODEC_KEYS is not set: access tokens and PINs must never reach Temporal unencrypted (see docs/onboarding.md)',
    );
  }
  const temporal = await connectClient({ dataConverter: codecDataConverter(config.WA_CODEC_KEYS) });
  try {
    return await fn(
      new OnboardingClient({
        temporal: temporal.client,
        taskQueue: config.WA_TASK_QUEUE,
        ...(config.WA_INGEST_PUBLIC_URL ? { ingestUrl: config.WA_INGEST_PUBLIC_URL } : {}),
      }),
    );
  } finally {
    await temporal.close();
  }
}

/** Reads a secret from a file or `-` (standard input); first line, trimmed. */
async function readSecretFile(path: string): Promise<string> {
  const text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  const value = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (!value) throw new OnboardCommandError(`${path === '-' ? 'standard input' : path} is empty`);
  return value;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks on the terminal without echoing what is typed; from a pipe, reads standard input instead. */
async function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readSecretFile('-');
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (data: Buffer) => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(value.trim());
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new OnboardCommandError('cancelled'));
            return;
          }
          value = ch === '\u007f' ? value.slice(0, -1) : value + ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

function eventDestinationOf(opts: StartOptions): EventDestinationChoice {
  const chosen = [opts.topicArn, opts.createTopic, opts.connectInstance].filter((v) => v !== undefined);
  if (chosen.length !== 1) {
    throw new OnboardCommandError(
      'choose one event destination: --topic-arn, --create-topic or --connect-instance',
    );
  }
  if (opts.topicArn) return { kind: EventDestinationKind.ExistingTopic, topicArn: opts.topicArn };
  if (opts.connectInstance) {
    if (!opts.connectRole)
      throw new OnboardCommandError('--connect-instance needs --connect-role <role ARN>');
    return {
      kind: EventDestinationKind.Connect,
      instanceArn: opts.connectInstance,
      roleArn: opts.connectRole,
    };
  }
  return {
    kind: EventDestinationKind.NewTopic,
    ...(typeof opts.createTopic === 'string' ? { topicName: opts.createTopic } : {}),
    ...(opts.kmsKey ? { kmsKeyId: opts.kmsKey } : {}),
  };
}

function parseIsoTime(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new InvalidArgumentError('expected an ISO time, e.g. 2030-01-31T10:00:00Z');
  return d;
}

/** An onboarding status as a few readable lines. */
export function formatOnboardingStatus(s: OnboardingStatus): string {
  const lines = [`onboarding ${s.onboardingId}: ${s.step}${s.reason ? ` (${s.reason})` : ''}`];
  if (s.waitingFor) lines.push(`  waiting for ${s.waitingFor}`);
  lines.push(`  registration deadline ${s.deadline} (signup completed ${s.signupCompletedAt})`);
  if (s.wabaId) lines.push(`  account ${s.wabaId} (${s.wabaMode})`);
  for (const n of s.numbers) {
    const bits = [n.registered ? 'registered' : n.pinProvided ? 'PIN given' : 'needs PIN'];
    if (n.dataLocalizationRegion) bits.push(`data in ${n.dataLocalizationRegion}`);
    if (n.limits)
      bits.push(
        `${n.limits.mps} msg/s, tier ${n.limits.tierLimit ?? 'unlimited'}, quality ${n.limits.qualityRating ?? '?'}`,
      );
    lines.push(
      `  number ${n.displayPhoneNumber} ${n.phoneNumberId}: ${bits.join(', ')}${n.problem ? ` — ${n.problem}` : ''}`,
    );
  }
  if (s.eventDestination)
    lines.push(`  events to ${s.eventDestination.arn} (subscription ${s.eventDestination.subscription})`);
  if (s.blockedUntil) lines.push(`  registration blocked until ${s.blockedUntil}`);
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  if (s.reminders.sent > 0) lines.push(`  ${s.reminders.sent} reminder(s), last ${s.reminders.last}`);
  // The topic policy is applied by the workflow; these are for the operator to put in place.
  const docs: [string, string | undefined][] = [
    [
      'KMS key policy statement (add it to the key that encrypts the topic)',
      s.documents.kmsKeyPolicyStatement,
    ],
    ['Connect role permissions policy', s.documents.connectRolePermissions],
    ['Connect role trust policy', s.documents.connectRoleTrust],
  ];
  for (const [title, doc] of docs) if (doc) lines.push(`  ${title}:`, indent(doc, 4));
  return lines.join('\n');
}

const indent = (text: string, n: number) =>
  text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

interface StartOptions {
  tokenFile: string;
  waba: WabaMode;
  topicArn?: string;
  createTopic?: string | boolean;
  kmsKey?: string;
  connectInstance?: string;
  connectRole?: string;
  signupCompletedAt?: Date;
  ingestUrl?: string;
  smsNumber?: string;
  smsRole?: string;
  id?: string;
  json?: boolean;
}

/** Registers `wa-campaigns onboard …`. */
export function registerOnboardCommands(program: Command): void {
  const onboard = program
    .command('onboard')
    .description('Bring a WhatsApp number into service after embedded signup');

  onboard
    .command('start')
    .description('Start onboarding the numbers of one embedded signup')
    .requiredOption(
      '--token-file <path>',
      "file holding the signup's access token, or - for standard input (never an argument)",
    )
    .addOption(
      new Option('--waba <mode>', 'a WABA created by the signup, or an existing one imported')
        .choices(Object.values(WabaMode))
        .default(WabaMode.New),
    )
    .option('--topic-arn <arn>', 'existing standard SNS topic for the events')
    .option('--create-topic [name]', 'create an SNS topic for the events (default name wa-events-<id>)')
    .option('--kms-key <key-id>', 'with --create-topic: encrypt the topic with this KMS key')
    .option('--connect-instance <arn>', 'send the events to this Amazon Connect instance')
    .option('--connect-role <arn>', 'with --connect-instance: the IAM role Social Messaging assumes')
    .option(
      '--signup-completed-at <iso>',
      'when embedded signup finished (default now); the 14-day deadline runs from it',
      parseIsoTime,
    )
    .option('--ingest-url <url>', 'public URL of the ingest service (default WA_INGEST_PUBLIC_URL)')
    .option(
      '--sms-number <phone-id>',
      'AWS End User Messaging SMS number that receives the verification code (two-way SMS)',
    )
    .option('--sms-role <arn>', 'with --sms-number: IAM role SMS uses to publish inbound SMS')
    .option('--id <onboarding-id>', 'onboarding id (default derived from the token)')
    .option('--json', 'print {"onboardingId": …} only')
    .action(async (opts: StartOptions) => {
      const accessToken = await readSecretFile(opts.tokenFile);
      const eventDestination = eventDestinationOf(opts);
      await withOnboardingClient(async (onboarding) => {
        const started = await onboarding.start({
          accessToken,
          wabaMode: opts.waba,
          eventDestination,
          ...(opts.id ? { onboardingId: opts.id } : {}),
          ...(opts.signupCompletedAt ? { signupCompletedAt: opts.signupCompletedAt } : {}),
          ...(opts.ingestUrl ? { ingestUrl: opts.ingestUrl } : {}),
          ...(opts.smsNumber
            ? {
                twoWaySms: {
                  smsPhoneNumberId: opts.smsNumber,
                  ...(opts.smsRole ? { roleArn: opts.smsRole } : {}),
                },
              }
            : {}),
        });
        if (opts.json)
          return print(JSON.stringify({ onboardingId: started.onboardingId, started: started.started }));
        print(`onboarding ${started.onboardingId} ${started.started ? 'started' : 'was already running'}`);
        print(
          `  next: wa-campaigns onboard status ${started.onboardingId}; give PINs with: wa-campaigns onboard pin ${started.onboardingId}`,
        );
      });
    });

  onboard
    .command('pin <id>')
    .description(
      "Give a number's 6-digit two-step verification PIN (prompted, or from a file / standard input)",
    )
    .option('--number <phone-number-id>', 'which number (needed when several still lack a PIN)')
    .option('--pin-file <path>', 'file holding the PIN, or - for standard input')
    .addOption(
      new Option('--region <code>', "keep the number's data in this region").choices([
        ...DATA_LOCALIZATION_REGIONS,
      ]),
    )
    .option('--json', 'print the status as JSON')
    .action(
      async (id: string, opts: { number?: string; pinFile?: string; region?: string; json?: boolean }) => {
        const pin = opts.pinFile
          ? await readSecretFile(opts.pinFile)
          : await promptSecret('two-step verification PIN: ');
        await withOnboardingClient(async (onboarding) => {
          const status = await onboarding.submitPin(id, {
            pin,
            ...(opts.number ? { phoneNumberId: opts.number } : {}),
            ...(opts.region ? { dataLocalizationRegion: opts.region } : {}),
          });
          print(opts.json ? JSON.stringify(status, null, 2) : formatOnboardingStatus(status));
        });
      },
    );

  onboard
    .command('code <id>')
    .description(
      'Give the verification code Meta sent to a number by SMS (when no two-way SMS number receives it)',
    )
    .option('--number <phone-number-id>', 'which number (needed when several wait for a code)')
    .option('--code-file <path>', 'file holding the code, or - for standard input')
    .action(async (id: string, opts: { number?: string; codeFile?: string }) => {
      const code = opts.codeFile
        ? await readSecretFile(opts.codeFile)
        : await promptSecret('verification code: ');
      await withOnboardingClient(async (onboarding) => {
        print(
          formatOnboardingStatus(
            await onboarding.submitCode(id, { code, ...(opts.number ? { phoneNumberId: opts.number } : {}) }),
          ),
        );
      });
    });

  onboard
    .command('status <id>')
    .description('Current step, what it waits for, the deadline, each number and the policy documents')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withOnboardingClient(async (onboarding) => {
        const status = await onboarding.status(id);
        print(opts.json ? JSON.stringify(status, null, 2) : formatOnboardingStatus(status));
      });
    });

  onboard
    .command('cancel <id>')
    .description('Stop an onboarding')
    .option('--reason <text>', 'recorded with the cancellation')
    .action(async (id: string, opts: { reason?: string }) => {
      await withOnboardingClient(async (onboarding) => {
        await onboarding.cancel(id, opts.reason);
        const result = await onboarding.result(id);
        print(
          `onboarding ${result.onboardingId}: ${result.step}${result.reason ? ` (${result.reason})` : ''}`,
        );
      });
    });
}
