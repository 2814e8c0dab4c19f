/**
 * Customer-service windows: an inbound message from a user opens (or renews) a window on the number it
 * was sent to. Inside it any message type may be sent and no business-initiated conversation starts.
 */
export class ServiceWindows {
  private lastInbound = new Map<string, number>();

  /** Records an inbound message from `user` to `phoneNumberId`. */
  open(phoneNumberId: string, user: string, at: number): void {
    this.lastInbound.set(`${phoneNumberId}|${user}`, at);
  }

  /** Whether the window between the number and the user is open at `now`. */
  isOpen(phoneNumberId: string, user: string, now: number, windowMs: number): boolean {
    const at = this.lastInbound.get(`${phoneNumberId}|${user}`);
    return at !== undefined && now - at < windowMs;
  }
}
