/**
 * Workflow history <-> proto3 JSON (the format of `temporal workflow show --output json` and of
 * test/fixtures/histories), done the way @temporalio/common's historyFromJSON / historyToJSON do it, but
 * robust to how npm laid out this install.
 *
 * Why not the SDK's functions: with this lockfile npm hoists protobufjs 7 (for @grpc/proto-loader) and gives
 * @temporalio/common and @temporalio/proto each their own protobufjs 8. The SDK's helpers then pass a Type
 * built by one copy to the ProtoJSON extension of the other, which fails its instanceof check with
 * "type must be a Type" - so do Worker.runReplayHistories on JSON input, which call historyFromJSON.
 * Loading the extension from the protobufjs copy that @temporalio/proto itself uses keeps everything on one
 * copy, and handing the replay worker a decoded History (not JSON) keeps it away from the broken path.
 */
import { createRequire } from 'node:module';
import type { History } from '@temporalio/common/lib/proto-utils';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(type: unknown, message: unknown): unknown;
}

interface LookupRoot {
  lookupType(name: string): unknown;
}

// Both loaded with require on purpose: patchProtobufRoot must walk the real CommonJS export object, not the
// namespace wrapper an ESM import (as in vitest) puts around it.
const requireHere = createRequire(__filename);
const protoEntry = requireHere.resolve('@temporalio/proto');
const proto = requireHere(protoEntry) as typeof import('@temporalio/proto');
const protojson = createRequire(protoEntry)('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as LookupRoot).lookupType(
  'temporal.api.history.v1.History',
);

/** Parses a JSON history; fields unknown to this SDK version (newer server) are ignored, as the SDK does. */
export function historyFromJson(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}

/** Formats a history (e.g. from WorkflowHandle.fetchHistory) as a proto3 JSON object. */
export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
}
