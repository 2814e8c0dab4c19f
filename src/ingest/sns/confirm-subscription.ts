/** Visits a SubscribeURL, which is how an HTTP endpoint tells SNS that it wants the topic's messages. */
export async function visitSubscribeUrl(url: string, timeoutMs = 10_000): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  // The answer is an XML document naming the subscription; only its success matters.
  await res.text();
  if (!res.ok) throw new Error(`SubscribeURL answered HTTP ${res.status}`);
}
