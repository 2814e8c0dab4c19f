/** The event-ingest service: public entry points. */
export {
  startIngestService,
  DEFAULT_MAX_MESSAGE_AGE_MS,
  type IngestService,
  type IngestServiceOptions,
} from './service';
export { runIngestService, type IngestRunOverrides } from './run-service';
export { registerIngestCommand } from './cli';
export { DEFAULT_RESUME_WORDS, DEFAULT_STOP_WORDS, OptOutKeywords } from './apply/keywords';
export { reprocessEvents, type ReprocessResult } from './reprocess';
