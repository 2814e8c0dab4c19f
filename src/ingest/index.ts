/** The event-ingest service: public entry points. */
export {
  startIngestService,
  DEFAULT_MAX_MESSAGE_AGE_MS,
  hasPayloadCodec,
  type IngestService,
  type IngestServiceOptions,
} from './service';
export {
  ingestClientOptions,
  runIngestService,
  type IngestClientOptionsInput,
  type IngestRunOverrides,
} from './run-service';
export { registerIngestCommand } from './cli';
export { DEFAULT_RESUME_WORDS, DEFAULT_STOP_WORDS, OptOutKeywords } from './apply/keywords';
export { reprocessEvents, type ReprocessResult } from './reprocess';
