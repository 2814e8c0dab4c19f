/**
 * Temporal servers for tests, the demo and local development, obtained without Docker and without
 * temporal.download:
 *
 * - the dev server (`temporal server start-dev`) is built once with `go install` from the Go module proxy;
 * - the time-skipping test server is the Maven artifact `io.temporal:temporal-test-server` plus its
 *   dependencies, started by a generated shell wrapper with JVM flags and an AppCDS archive chosen so the
 *   JVM answers well inside the 5 s the TypeScript SDK waits for it.
 *
 * Both land in a cache outside git (`$WA_CAMPAIGNS_CACHE`, default `~/.cache/wa-campaigns`). The fast path
 * is a stat and a small JSON read. Builds run under a lock file and only ever publish results by atomic
 * rename, so two processes provisioning at once waste work at worst, never see half-written files.
 *
 * When neither an override nor a cached build exists and the toolchain (Go, resp. Java and Maven) is
 * missing, the SDK's own `cached-download` executable is returned instead: machines with internet need
 * neither toolchain. If that download fails, {@link explainServerStartFailure} turns the SDK's error into
 * one paragraph that says what to install or which variable to set.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
// @temporalio/proto comes with the pinned SDK packages (client and common depend on it exactly).
import { temporal } from '@temporalio/proto';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { freePort } from '../test/helpers/net';

/** The newest temporalio/cli tag that `go install` can still build (later tags use replace directives). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** Version of `io.temporal:temporal-test-server` fetched from Maven Central. */
export const TEST_SERVER_VERSION = '1.38.0';
/** slf4j-api version the test server depends on; the matching no-op binding silences SLF4J's start-up warning. */
const SLF4J_VERSION = '1.7.36';
/** Pinned so the build does not depend on whichever plugin version the local Maven defaults to. */
const MAVEN_DEPENDENCY_PLUGIN_VERSION = '3.8.1';
const MIN_GO = [1, 22] as const;
const MIN_JAVA = 11;
/** Dynamic AppCDS (`-XX:ArchiveClassesAtExit`) exists from JDK 13 on. */
const MIN_JAVA_FOR_CDS = 13;

export const DEV_SERVER_ENV = 'WA_TEMPORAL_CLI_PATH';
export const TEST_SERVER_ENV = 'WA_TEMPORAL_TEST_SERVER_PATH';
export const CACHE_DIR_ENV = 'WA_CAMPAIGNS_CACHE';

export type ServerKind = 'dev-server' | 'test-server';

/**
 * Where a server came from:
 * `env` an override variable, `cache` an earlier build, `built` built just now,
 * `sdk-download` the SDK will download its own copy when the server is started.
 */
export type ServerSource = 'env' | 'cache' | 'built' | 'sdk-download';

export interface ProvisionedServer {
  kind: ServerKind;
  /** Pass as `server.executable` to `TestWorkflowEnvironment.createLocal` / `createTimeSkipping`. */
  executable: EphemeralServerExecutable;
  /** The executable on disk; undefined when the SDK is to download it. */
  path: string | undefined;
  source: ServerSource;
  /** One line for humans: what was found or built, or (source `sdk-download`) why nothing local is available. */
  detail: string;
  /** Wall-clock time spent in `ensure*` (mostly build time when `source` is `built`). */
  elapsedMs: number;
  /** Test server only: measured start-up to first gRPC answer, without and with the start-up tuning. */
  startup?: StartupFigures;
}

export interface StartupFigures {
  /** Plain `java -cp … TestServer`, no tuning flags, no class-data archive. */
  untunedMs: number;
  /** The generated wrapper: C1 only, serial GC, AppCDS archive. */
  tunedMs: number;
}

export interface EnsureOptions {
  /** Cache root; defaults to {@link resolveCacheDir}. */
  cacheDir?: string;
  /** Build when nothing usable is cached (default true). With false, a missing build falls back to the SDK download. */
  build?: boolean;
  /** Rebuild even when a cached build exists (default false). Overrides still win. */
  force?: boolean;
  /** Progress lines (build steps, waiting for another process). Defaults to silence. */
  log?: (line: string) => void;
  /** Environment to read overrides and tool locations from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

export function resolveCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[CACHE_DIR_ENV];
  return path.resolve(
    fromEnv && fromEnv.length > 0 ? fromEnv : path.join(os.homedir(), '.cache', 'wa-campaigns'),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Dev server
// ---------------------------------------------------------------------------------------------------------

interface DevServerStamp {
  cliVersion: string;
  /** `temporal --version` output; a go-installed build reports 0.0.0-DEV plus the embedded server version. */
  versionOutput: string;
}

/** Finds or builds the `temporal` CLI that runs the dev server. Fast (a stat and a JSON read) once cached. */
export async function ensureDevServer(options: EnsureOptions = {}): Promise<ProvisionedServer> {
  const started = performance.now();
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const done = (partial: Omit<ProvisionedServer, 'kind' | 'elapsedMs'>): ProvisionedServer => ({
    kind: 'dev-server',
    elapsedMs: Math.round(performance.now() - started),
    ...partial,
  });

  const override = env[DEV_SERVER_ENV];
  if (override) {
    const exe = await requireExecutable(override, DEV_SERVER_ENV);
    return done({ ...existing(exe), source: 'env', detail: `${DEV_SERVER_ENV}=${exe}` });
  }

  const cacheDir = resolveCacheDir(env);
  const binDir = path.join(cacheDir, 'go-bin');
  const binary = path.join(binDir, 'temporal');
  const stampFile = `${binary}.stamp.json`;

  const cached = async (): Promise<DevServerStamp | undefined> => {
    if (!isExecutable(binary)) return undefined;
    const stamp = await readJson<DevServerStamp>(stampFile);
    if (stamp?.cliVersion === TEMPORAL_CLI_VERSION) return stamp;
    if (stamp) return undefined; // built from another tag: rebuild
    // A binary without a stamp was put there by hand or by an earlier `GOBIN=… go install` (as the README
    // describes). Adopt it if it runs; writing the stamp means this check happens only once.
    const res = await run(binary, ['--version'], { env, timeoutMs: 30_000 });
    if (res.code !== 0 || !res.stdout.startsWith('temporal version')) return undefined;
    const adopted = { cliVersion: TEMPORAL_CLI_VERSION, versionOutput: res.stdout.trim() };
    await writeFileAtomic(stampFile, JSON.stringify(adopted, null, 2));
    return adopted;
  };

  if (!options.force) {
    const stamp = await cached();
    if (stamp)
      return done({ ...existing(binary), source: 'cache', detail: `${binary} (${stamp.versionOutput})` });
  }

  const go = options.build === false ? undefined : await findGo(env);
  if (!go?.ok) {
    const reason = go ? go.reason : 'no cached build and building was not requested';
    return done({
      executable: sdkDownload(cacheDir),
      path: undefined,
      source: 'sdk-download',
      detail: reason,
    });
  }

  return withLock(
    path.join(cacheDir, 'locks', 'dev-server.lock'),
    'the Temporal dev server',
    log,
    async () => {
      // Another process may have finished the build while this one waited for the lock.
      if (!options.force) {
        const stamp = await cached();
        if (stamp)
          return done({
            ...existing(binary),
            source: 'cache',
            detail: `${binary} (built by another process)`,
          });
      }
      await fsp.mkdir(binDir, { recursive: true });
      // go install writes into GOBIN in place; a private GOBIN plus a rename publishes the binary atomically.
      const tmpBin = await fsp.mkdtemp(path.join(binDir, '.tmp-'));
      const logFile = path.join(cacheDir, 'logs', `go-install-${timestamp()}.log`);
      log(
        `building temporal CLI ${TEMPORAL_CLI_VERSION} with ${go.version} (several minutes the first time; log: ${logFile})`,
      );
      try {
        const res = await run(
          go.path,
          ['install', '-ldflags=-s -w', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`],
          {
            env: { ...env, GOBIN: tmpBin, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
            logFile,
            heartbeat: { everyMs: 30_000, log, what: 'go install' },
          },
        );
        if (res.code !== 0) {
          throw new Error(
            `go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION} failed (exit ${res.code}). ` +
              `It needs the Go module proxy (GOPROXY) to be reachable. Last lines of ${logFile}:\n${tail(res.output, 15)}`,
          );
        }
        const versionRes = await run(path.join(tmpBin, 'temporal'), ['--version'], {
          env,
          timeoutMs: 30_000,
        });
        if (versionRes.code !== 0)
          throw new Error(`the freshly built temporal CLI does not run: ${versionRes.output}`);
        await fsp.rename(path.join(tmpBin, 'temporal'), binary);
        const stamp: DevServerStamp = {
          cliVersion: TEMPORAL_CLI_VERSION,
          versionOutput: versionRes.stdout.trim(),
        };
        await writeFileAtomic(stampFile, JSON.stringify(stamp, null, 2));
        const result = done({
          ...existing(binary),
          source: 'built',
          detail: `${binary} (${stamp.versionOutput})`,
        });
        log(`built ${binary} in ${seconds(result.elapsedMs)}`);
        return result;
      } finally {
        await fsp.rm(tmpBin, { recursive: true, force: true });
      }
    },
  );
}

// ---------------------------------------------------------------------------------------------------------
// Time-skipping test server
// ---------------------------------------------------------------------------------------------------------

interface TestServerStamp {
  version: string;
  java: string;
  /** Changes when the JDK is upgraded in place; a class-data archive is only valid for the exact JVM build. */
  jvmFingerprint: string;
  /** Archive file name inside the version directory, or null when this JVM cannot use one. */
  cdsArchive: string | null;
  startup: StartupFigures;
}

/**
 * Finds or builds the time-skipping test server and returns the wrapper script the SDK should launch.
 * Layout under `<cache>/test-server/`: `temporal-test-server` (the wrapper), `stamp.json`, and
 * `<version>/lib/*.jar` plus the AppCDS archive.
 */
export async function ensureTestServer(options: EnsureOptions = {}): Promise<ProvisionedServer> {
  const started = performance.now();
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const done = (partial: Omit<ProvisionedServer, 'kind' | 'elapsedMs'>): ProvisionedServer => ({
    kind: 'test-server',
    elapsedMs: Math.round(performance.now() - started),
    ...partial,
  });

  const override = env[TEST_SERVER_ENV];
  if (override) {
    const exe = await requireExecutable(override, TEST_SERVER_ENV);
    return done({ ...existing(exe), source: 'env', detail: `${TEST_SERVER_ENV}=${exe}` });
  }

  const cacheDir = resolveCacheDir(env);
  const rootDir = path.join(cacheDir, 'test-server');
  const wrapper = path.join(rootDir, 'temporal-test-server');
  const stampFile = path.join(rootDir, 'stamp.json');

  const cached = async (): Promise<TestServerStamp | undefined> => {
    const stamp = await readJson<TestServerStamp>(stampFile);
    if (
      !stamp ||
      stamp.version !== TEST_SERVER_VERSION ||
      !isExecutable(wrapper) ||
      !isExecutable(stamp.java)
    ) {
      return undefined;
    }
    // Cheap check (a few stats) that the JDK the archive was made for is still the one installed.
    if ((await jvmFingerprint(stamp.java)) !== stamp.jvmFingerprint) return undefined;
    return stamp;
  };

  if (!options.force) {
    const stamp = await cached();
    if (stamp) {
      return done({
        ...existing(wrapper),
        source: 'cache',
        detail: describeTestServer(wrapper, stamp),
        startup: stamp.startup,
      });
    }
  }

  const java = options.build === false ? undefined : await findJava(env);
  const mvn = findOnPath(
    'mvn',
    env,
    [env.MAVEN_HOME, env.M2_HOME].filter(isSet).map((d) => path.join(d, 'bin')),
  );
  if (!java?.ok || !mvn) {
    const reason = !java
      ? 'no cached build and building was not requested'
      : !java.ok
        ? java.reason
        : 'Maven (mvn) is not installed';
    return done({
      executable: sdkDownload(cacheDir),
      path: undefined,
      source: 'sdk-download',
      detail: reason,
    });
  }

  return withLock(
    path.join(cacheDir, 'locks', 'test-server.lock'),
    'the Temporal test server',
    log,
    async () => {
      if (!options.force) {
        const stamp = await cached();
        if (stamp) {
          return done({
            ...existing(wrapper),
            source: 'cache',
            detail: `${describeTestServer(wrapper, stamp)}, built by another process`,
            startup: stamp.startup,
          });
        }
      }
      const versionDir = path.join(rootDir, TEST_SERVER_VERSION);
      const libDir = path.join(versionDir, 'lib');
      await fetchTestServerJars({
        rootDir,
        versionDir,
        mvn,
        env,
        log,
        force: options.force === true,
        cacheDir,
      });

      // The JVM matches a class-data archive to the classpath string it was made with, so the jar list is
      // spelled out in a fixed order rather than left to the launcher's `lib/*` expansion.
      const jars = (await fsp.readdir(libDir)).filter((f) => f.endsWith('.jar')).sort();
      const classpath = jars.map((j) => path.join(libDir, j)).join(':');
      const fingerprint = await jvmFingerprint(java.path);
      const cdsArchive = java.major >= MIN_JAVA_FOR_CDS ? `cds-${shortHash(fingerprint)}.jsa` : null;

      if (cdsArchive) {
        log(`recording a class-data archive (AppCDS) for ${java.path}`);
        await trainCdsArchive({
          java: java.path,
          classpath,
          archive: path.join(versionDir, cdsArchive),
          env,
        });
      }
      await writeFileAtomic(
        wrapper,
        wrapperScript({ java: java.path, classpath, versionDir, cdsArchive }),
        0o755,
      );

      log('measuring test-server start-up (untuned vs. tuned)');
      const untunedScript = path.join(versionDir, 'untuned-test-server');
      await writeFileAtomic(
        untunedScript,
        `#!/bin/sh\n# Baseline for start-up measurements only.\nexec '${shq(java.path)}' -cp '${shq(classpath)}' io.temporal.testserver.TestServer "$@"\n`,
        0o755,
      );
      const startup: StartupFigures = {
        untunedMs: median(await measureServerStartup(untunedScript, { runs: 3 })),
        tunedMs: median(await measureServerStartup(wrapper, { runs: 3 })),
      };
      const stamp: TestServerStamp = {
        version: TEST_SERVER_VERSION,
        java: java.path,
        jvmFingerprint: fingerprint,
        cdsArchive,
        startup,
      };
      await writeFileAtomic(stampFile, JSON.stringify(stamp, null, 2));
      const result = done({
        ...existing(wrapper),
        source: 'built',
        detail: describeTestServer(wrapper, stamp),
        startup,
      });
      log(
        `test server ready in ${seconds(result.elapsedMs)}: start-up ${startup.untunedMs} ms untuned, ${startup.tunedMs} ms tuned`,
      );
      return result;
    },
  );
}

function describeTestServer(wrapper: string, stamp: TestServerStamp): string {
  const cds = stamp.cdsArchive ? 'AppCDS' : 'no AppCDS';
  return `${wrapper} (temporal-test-server ${stamp.version}, ${cds}, start-up ${stamp.startup.tunedMs} ms)`;
}

async function fetchTestServerJars(args: {
  rootDir: string;
  versionDir: string;
  mvn: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  force: boolean;
  cacheDir: string;
}): Promise<void> {
  const { rootDir, versionDir, mvn, env, log } = args;
  if (
    !args.force &&
    existsSync(path.join(versionDir, 'lib', `temporal-test-server-${TEST_SERVER_VERSION}.jar`))
  ) {
    return; // jars are complete (the directory is only ever published whole), only the wrapper/stamp is missing
  }
  await fsp.mkdir(rootDir, { recursive: true });
  const tmpDir = await fsp.mkdtemp(path.join(rootDir, '.tmp-'));
  const logFile = path.join(args.cacheDir, 'logs', `maven-${timestamp()}.log`);
  try {
    await fsp.writeFile(path.join(tmpDir, 'pom.xml'), testServerPom());
    log(
      `fetching io.temporal:temporal-test-server:${TEST_SERVER_VERSION} and its dependencies with Maven (log: ${logFile})`,
    );
    const res = await run(
      mvn,
      [
        '-B',
        '-q',
        '-f',
        path.join(tmpDir, 'pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${path.join(tmpDir, 'lib')}`,
        '-DincludeScope=runtime',
      ],
      { env, logFile, heartbeat: { everyMs: 30_000, log, what: 'mvn' } },
    );
    if (res.code !== 0) {
      throw new Error(
        `Maven could not fetch io.temporal:temporal-test-server:${TEST_SERVER_VERSION} (exit ${res.code}); it needs ` +
          `Maven Central (or a mirror in ~/.m2/settings.xml). Last lines of ${logFile}:\n${tail(res.output, 15)}`,
      );
    }
    // Publish the whole directory at once. A leftover from an older --force run is moved aside first;
    // if another process published meanwhile (rename fails with ENOTEMPTY/EEXIST) its copy is as good.
    if (args.force && existsSync(versionDir)) {
      const trash = `${versionDir}.old-${process.pid}`;
      await fsp.rename(versionDir, trash);
      await fsp.rm(trash, { recursive: true, force: true });
    }
    await fsp.chmod(tmpDir, 0o755); // mkdtemp makes it private; the published copy is shared like any cache
    try {
      await fsp.rename(tmpDir, versionDir);
    } catch (err) {
      if (!isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EEXIST')) throw err;
    }
  } finally {
    await fsp.rm(tmpDir, { recursive: true, force: true });
  }
}

function testServerPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by wa-campaigns (tools/temporal-binaries.ts): only used to download the test server's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.wa-campaigns</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${MAVEN_DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

/**
 * JVM flags for a short-lived, lightly loaded test server whose start-up time matters more than peak speed:
 * C1 only (no C2 compile threads competing for 2 cores), the serial collector (no GC worker threads to
 * start), small thread stacks and no perf-data mmap. The heap cap keeps two parallel servers modest.
 */
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xss512k', '-XX:-UsePerfData', '-Xmx512m'];
const TEST_SERVER_MAIN = 'io.temporal.testserver.TestServer';

function wrapperScript(args: {
  java: string;
  classpath: string;
  versionDir: string;
  cdsArchive: string | null;
}): string {
  const flags = JVM_FLAGS.join(' ');
  const launch = (extra: string): string =>
    `exec '${shq(args.java)}' ${extra}${flags} -cp "$CP" ${TEST_SERVER_MAIN} "$@"`;
  const lines = [
    '#!/bin/sh',
    `# Temporal time-skipping test server ${TEST_SERVER_VERSION}, generated by wa-campaigns provisioning`,
    '# (tools/temporal-binaries.ts; rebuild with `npm run provision -- --force`, do not edit).',
    '# The TypeScript SDK runs it as `temporal-test-server <port>` and gives it 5 s to answer, hence the',
    '# start-up flags. Time skipping stays off until the SDK unlocks it, which it does by itself.',
    `CP='${shq(args.classpath)}'`,
  ];
  if (args.cdsArchive) {
    // -Xshare:auto (the default) means a stale or missing archive only costs speed, never a failed start.
    lines.push(`JSA='${shq(path.join(args.versionDir, args.cdsArchive))}'`);
    lines.push(`if [ -f "$JSA" ]; then`);
    lines.push(`  ${launch('-XX:SharedArchiveFile="$JSA" -Xshare:auto ')}`);
    lines.push('fi');
  }
  lines.push(launch(''));
  return `${lines.join('\n')}\n`;
}

/**
 * Records which classes a start-up plus a first round of requests loads, as a dynamic AppCDS archive. The
 * JVM writes it on a normal exit, so the server is stopped with SIGTERM (its shutdown hook exits cleanly);
 * the archive is written under a temporary name and renamed so a concurrent reader never maps half a file.
 */
async function trainCdsArchive(args: {
  java: string;
  classpath: string;
  archive: string;
  env: NodeJS.ProcessEnv;
}): Promise<void> {
  const tmpArchive = `${args.archive}.tmp-${process.pid}`;
  const port = await freePort();
  const child = spawn(
    args.java,
    [
      `-XX:ArchiveClassesAtExit=${tmpArchive}`,
      ...JVM_FLAGS,
      '-cp',
      args.classpath,
      TEST_SERVER_MAIN,
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: args.env },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitForFirstAnswer(port, 60_000, exited);
    await exerciseTestServer(port);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await fsp.rm(tmpArchive, { force: true });
    throw err;
  }
  child.kill('SIGTERM');
  // Writing the archive takes a second or two; the timer is unref'd so it never holds the process open.
  await Promise.race([exited, sleep(60_000, { unref: true })]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  if (!existsSync(tmpArchive)) {
    throw new Error(
      `the JVM did not write a class-data archive (${tmpArchive}); its output:\n${tail(stderr, 15)}`,
    );
  }
  await fsp.rename(tmpArchive, args.archive);
}

/**
 * A representative workload for the training run: the calls the SDK and a worker make in a typical test
 * (system info, start, workflow-task poll and completion, history). Classes loaded here are archived too.
 */
async function exerciseTestServer(port: number): Promise<void> {
  const { Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  try {
    const svc = connection.workflowService;
    await svc.getSystemInfo({});
    await svc.describeNamespace({ namespace: 'default' });
    const taskQueue = { name: 'cds-training' };
    const started = await svc.startWorkflowExecution({
      namespace: 'default',
      workflowId: 'cds-training',
      requestId: randomBytes(16).toString('hex'),
      workflowType: { name: 'CdsTraining' },
      taskQueue,
    });
    const task = await svc.pollWorkflowTaskQueue({
      namespace: 'default',
      taskQueue,
      identity: 'cds-training',
    });
    if (task.taskToken && task.taskToken.length > 0) {
      await svc.respondWorkflowTaskCompleted({
        namespace: 'default',
        taskToken: task.taskToken,
        identity: 'cds-training',
        commands: [
          {
            commandType: temporal.api.enums.v1.CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
            completeWorkflowExecutionCommandAttributes: {},
          },
        ],
      });
    }
    await svc.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: 'cds-training', runId: started.runId ?? '' },
    });
  } finally {
    await connection.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Start-up measurement
// ---------------------------------------------------------------------------------------------------------

/**
 * Starts `executable <port>` `runs` times and returns, per run, the milliseconds from spawn to the first
 * answered gRPC call (what the SDK waits for). Measures the wrapper exactly as the SDK would launch it.
 */
export async function measureServerStartup(
  executable: string,
  options: { runs?: number; timeoutMs?: number } = {},
): Promise<number[]> {
  const results: number[] = [];
  for (let i = 0; i < (options.runs ?? 3); i++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(executable, [String(port)], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitForFirstAnswer(port, options.timeoutMs ?? 30_000, exited);
      results.push(Math.round(performance.now() - t0));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }
  return results;
}

/**
 * Polls the port with cheap TCP connects until something listens, then needs one answered RPC. A gRPC
 * client is only created once the port is open because a failed gRPC channel backs off for a whole second,
 * which would swamp what is being measured.
 */
async function waitForFirstAnswer(
  port: number,
  timeoutMs: number,
  exited: Promise<number | null>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const { Connection } = await import('@temporalio/client');
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`the server exited (code ${String(exitCode)}) before answering`);
    if (performance.now() > deadline) throw new Error(`no answer on port ${port} within ${timeoutMs} ms`);
    if (await tcpAccepts(port)) {
      try {
        const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 2_000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return;
        } finally {
          await connection.close();
        }
      } catch {
        // listening but not serving yet
      }
    }
    await sleep(10);
  }
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Starting environments, with a readable error when that fails
// ---------------------------------------------------------------------------------------------------------

/**
 * Turns a failure to start a provisioned server into one paragraph saying what to do. Meant for the error
 * of `TestWorkflowEnvironment.createLocal` / `createTimeSkipping`; the original error is kept as `cause`.
 */
export function explainServerStartFailure(server: ProvisionedServer, error: unknown): Error {
  // The SDK repeats the download URL twice per failure; the reason at the end is what helps.
  const cause = firstLine(error).replace(/error sending request for url \([^)]*\): /g, '');
  const isDev = server.kind === 'dev-server';
  const name = isDev ? 'Temporal dev server' : 'Temporal time-skipping test server';
  const envVar = isDev ? DEV_SERVER_ENV : TEST_SERVER_ENV;
  let message: string;
  if (server.source === 'sdk-download') {
    const install = isDev
      ? "install Go >= 1.22 (https://go.dev/dl; Debian bookworm's own golang-go is too old) and run `npm run provision`, " +
        'which builds the `temporal` CLI from the Go module proxy'
      : 'install Java 17 and Maven (`apt-get install openjdk-17-jdk-headless maven`) and run `npm run provision`, ' +
        'which fetches the test server from Maven Central';
    message =
      `Could not start the ${name}: there is no local build (${server.detail}), and downloading the SDK's own copy ` +
      `from temporal.download failed (${cause}). To fix it, ${install}; or set ${envVar} to an existing ` +
      `${isDev ? '`temporal` CLI binary' : 'temporal-test-server executable'}; or give this machine access to temporal.download.`;
  } else {
    message =
      `Could not start the ${name} at ${server.path ?? '?'} (${server.source === 'env' ? `from ${envVar}` : 'cached build'}): ` +
      `${cause}. ${server.source === 'env' ? `Check ${envVar}` : 'Rebuild it with `npm run provision -- --force`'}, ` +
      `or point ${envVar} at a working executable.`;
  }
  return new Error(message, { cause: error });
}

// ---------------------------------------------------------------------------------------------------------
// Tool discovery
// ---------------------------------------------------------------------------------------------------------

type Tool = { ok: true; path: string; version: string; major: number } | { ok: false; reason: string };

async function findGo(env: NodeJS.ProcessEnv): Promise<Tool> {
  // /usr/local/go/bin is where the official tarball goes and is often missing from non-login PATHs.
  const go = findOnPath(
    'go',
    env,
    [env.GOROOT ? path.join(env.GOROOT, 'bin') : undefined, '/usr/local/go/bin'].filter(isSet),
  );
  if (!go) return { ok: false, reason: 'Go is not installed' };
  const res = await run(go, ['env', 'GOVERSION'], { env, timeoutMs: 30_000 });
  const m = /go(\d+)\.(\d+)/.exec(res.stdout);
  if (res.code !== 0 || !m) return { ok: false, reason: `could not determine the version of ${go}` };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < MIN_GO[0] || (major === MIN_GO[0] && minor < MIN_GO[1])) {
    return { ok: false, reason: `${go} is go${major}.${minor}, older than go${MIN_GO.join('.')}` };
  }
  return { ok: true, path: go, version: res.stdout.trim(), major };
}

async function findJava(env: NodeJS.ProcessEnv): Promise<Tool> {
  const fromHome = env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', 'java') : undefined;
  const found = fromHome && isExecutable(fromHome) ? fromHome : findOnPath('java', env);
  if (!found) return { ok: false, reason: 'Java is not installed' };
  // The wrapper names the real binary: the class-data archive belongs to that exact JVM, and an
  // update-alternatives switch must not silently hand the archive to a different one.
  const java = await fsp.realpath(found);
  const res = await run(java, ['-version'], { env, timeoutMs: 30_000 });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(res.output);
  if (res.code !== 0 || !m) return { ok: false, reason: `could not determine the version of ${java}` };
  const major = Number(m[1]) === 1 ? Number(m[2]) : Number(m[1]); // "1.8.0" style before Java 9
  if (major < MIN_JAVA) return { ok: false, reason: `${java} is Java ${major}, older than Java ${MIN_JAVA}` };
  return { ok: true, path: java, version: firstLine(res.output), major };
}

async function jvmFingerprint(java: string): Promise<string> {
  const javaHome = path.dirname(path.dirname(java));
  const parts = [java];
  for (const f of [
    java,
    path.join(javaHome, 'lib', 'server', 'libjvm.so'),
    path.join(javaHome, 'lib', 'modules'),
  ]) {
    try {
      const s = await fsp.stat(f);
      parts.push(`${f}:${s.size}:${Math.round(s.mtimeMs)}`);
    } catch {
      parts.push(`${f}:missing`);
    }
  }
  return parts.join('|');
}

function findOnPath(name: string, env: NodeJS.ProcessEnv, extraDirs: string[] = []): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter((d) => d.length > 0), ...extraDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function requireExecutable(file: string, envVar: string): Promise<string> {
  const resolved = path.resolve(file);
  let stat;
  try {
    stat = await fsp.stat(resolved);
  } catch {
    throw new Error(
      `${envVar} points at ${resolved}, which does not exist. Unset it to use the cached build.`,
    );
  }
  if (!stat.isFile() || !isExecutable(resolved)) {
    throw new Error(`${envVar} points at ${resolved}, which is not an executable file.`);
  }
  return resolved;
}

function existing(file: string): Pick<ProvisionedServer, 'executable' | 'path'> {
  return { executable: { type: 'existing-path', path: file }, path: file };
}

function sdkDownload(cacheDir: string): EphemeralServerExecutable {
  // Inside our cache rather than the OS temp dir, so the download survives reboots and tmp cleaners.
  return { type: 'cached-download', downloadDir: path.join(cacheDir, 'sdk-download'), ttl: '30 days' };
}

// ---------------------------------------------------------------------------------------------------------
// Locking, files, processes
// ---------------------------------------------------------------------------------------------------------

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/**
 * Serialises builds across processes with an exclusive-create lock file. A lock left by a dead process
 * (same host, pid gone) is broken. Every result is published by atomic rename, so even if two processes
 * ever did build at once they would only duplicate work.
 */
async function withLock<T>(
  lockFile: string,
  what: string,
  log: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  await fsp.mkdir(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + 30 * 60_000;
  let announced = false;
  for (;;) {
    try {
      const handle = await fsp.open(lockFile, 'wx');
      const owner: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
      await handle.writeFile(JSON.stringify(owner));
      await handle.close();
      break;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const owner = await readJson<LockOwner>(lockFile);
    if (await isStaleLock(lockFile, owner)) {
      await fsp.rm(lockFile, { force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for process ${owner?.pid ?? '?'} which is provisioning ${what} (lock ${lockFile})`);
      announced = true;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${lockFile}; delete it if no provisioning is running`);
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockFile, { force: true });
  }
}

async function isStaleLock(lockFile: string, owner: LockOwner | undefined): Promise<boolean> {
  if (!owner) {
    // Unreadable: either being written this very moment, or its writer died mid-write.
    try {
      const s = await fsp.stat(lockFile);
      return Date.now() - s.mtimeMs > 10_000;
    } catch {
      return false; // gone already; the next attempt will create it
    }
  }
  if (owner.host !== os.hostname()) return false; // cannot check another machine's processes
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return isErrno(err, 'ESRCH');
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeFileAtomic(file: string, content: string, mode = 0o644): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fsp.writeFile(tmp, content, { mode });
  await fsp.chmod(tmp, mode); // writeFile's mode is filtered by the umask
  await fsp.rename(tmp, file);
}

interface RunResult {
  code: number | null;
  stdout: string;
  /** stdout and stderr interleaved, for error messages. */
  output: string;
}

function run(
  cmd: string,
  args: string[],
  opts: {
    env: NodeJS.ProcessEnv;
    timeoutMs?: number;
    logFile?: string;
    heartbeat?: { everyMs: number; log: (line: string) => void; what: string };
  },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    const logStream = opts.logFile ? openLog(opts.logFile) : undefined;
    const onData = (isStdout: boolean) => (chunk: Buffer) => {
      const text = chunk.toString();
      if (isStdout) stdout += text;
      output = (output + text).slice(-64_000); // only the tail is ever shown
      logStream?.write(chunk);
    };
    child.stdout.on('data', onData(true));
    child.stderr.on('data', onData(false));
    const t0 = Date.now();
    const beat = opts.heartbeat
      ? setInterval(
          () =>
            opts.heartbeat?.log(
              `  … ${opts.heartbeat.what} still running (${Math.round((Date.now() - t0) / 1000)} s)`,
            ),
          opts.heartbeat.everyMs,
        )
      : undefined;
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', (err) => {
      clearInterval(beat);
      clearTimeout(timer);
      logStream?.end();
      reject(err);
    });
    child.once('close', (code) => {
      clearInterval(beat);
      clearTimeout(timer);
      logStream?.end();
      resolve({ code, stdout, output });
    });
  });
}

function openLog(file: string): NodeJS.WritableStream {
  // Synchronous so run() stays a plain Promise constructor; it is one mkdir per build.
  mkdirSync(path.dirname(file), { recursive: true });
  return createWriteStream(file);
}

function sleep(ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (options.unref) timer.unref();
  });
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function isSet(value: string | undefined): value is string {
  return typeof value === 'string' && value.length > 0;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (
    text
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? text
  );
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Quote for the inside of a single-quoted POSIX shell string. */
function shq(text: string): string {
  return text.replace(/'/g, `'\\''`);
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
