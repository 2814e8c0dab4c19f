import type { NumberStatusSignal, TemplateStatusSignal } from '../../workflows/definitions';

/** A workflow signal decided while applying an event, sent once the event's transaction commits. */
export type PlannedSignal =
  | { kind: 'campaign-template'; workflowId: string; payload: TemplateStatusSignal }
  | { kind: 'campaign-stop'; workflowId: string; payload: NumberStatusSignal }
  | { kind: 'number-status'; workflowId: string; phoneNumberId: string; payload: NumberStatusSignal };
