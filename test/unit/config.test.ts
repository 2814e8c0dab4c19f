/**
 * The settings read outside loadConfig: LOG_LEVEL on its own (for every command), and the AWS region,
 * which the SDK's chain finds and which falls back to us-east-1 instead of failing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { awsRegionDefaults } from '../../src/platform/aws-client';
import { ConfigError, loadLogLevel, showErrorDetail } from '../../src/shared/config';

describe('LOG_LEVEL', () => {
  it('defaults to info and accepts the known levels', () => {
    expect(loadLogLevel({})).toBe('info');
    expect(loadLogLevel({ LOG_LEVEL: 'silent' })).toBe('silent');
  });

  it('refuses an unknown level, naming the setting', () => {
    expect(() => loadLogLevel({ LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => loadLogLevel({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});

describe('DEBUG', () => {
  it('asks for the whole error when set to anything', () => {
    expect(showErrorDetail({})).toBe(false);
    expect(showErrorDetail({ DEBUG: '1' })).toBe(true);
  });
});

describe('AWS region', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  /** An AWS profile of our own, so the machine's ~/.aws never decides the outcome. */
  function useProfile(region?: string): void {
    const dir = mkdtempSync(path.join(tmpdir(), 'wa-aws-'));
    const config = path.join(dir, 'config');
    writeFileSync(config, region ? `[default]\nregion = ${region}\n` : '[default]\n');
    process.env.AWS_CONFIG_FILE = config;
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_REGION;
  }

  it('takes AWS_REGION first', async () => {
    useProfile('eu-central-1');
    process.env.AWS_REGION = 'eu-west-1';
    expect(await awsRegionDefaults().region()).toBe('eu-west-1');
  });

  it("takes the profile's region when AWS_REGION is unset", async () => {
    useProfile('eu-central-1');
    expect(await awsRegionDefaults().region()).toBe('eu-central-1');
  });

  it('falls back to us-east-1 when nothing names a region', async () => {
    useProfile();
    expect(await awsRegionDefaults().region()).toBe('us-east-1');
  });
});
