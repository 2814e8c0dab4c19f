/**
 * Number- and account-level events (FLAGGED, RESTRICTED, ACCOUNT_RESTRICTION, their UN… counterparts,
 * CONNECTED …) as the engine reads them. Pure: the number workflow and the campaign workflow both decide
 * by it, so a number they call restricted is the same number.
 */

/** The part of a number event the rule looks at (the number status signal has this shape). */
export interface NumberEventLike {
  event: string;
  /** Set when the campaigns on the number must stop rather than pause. */
  stop?: boolean;
}

/**
 * Whether a number event lifts an earlier restriction instead of imposing one: the platform names the
 * lifting events UN… (UNFLAGGED, UNRESTRICTED …) or reports the number CONNECTED again, in any case. An
 * event that stops the campaigns never clears, whatever its name.
 */
export function isClearedNumberEvent(e: NumberEventLike): boolean {
  if (e.stop) return false;
  const event = e.event.toUpperCase();
  return event.startsWith('UN') || event === 'CONNECTED';
}
