import { describe, expect, it } from 'vitest';
import { isClosedSocketWrite } from '../../src/db/driver-guard';

function errorWith(message: string, frames: string[], type: ErrorConstructor = TypeError): Error {
  const err = new type(message);
  err.stack = [`${type.name}: ${message}`, ...frames.map((f) => `    at ${f}`)].join('\n');
  return err;
}

const DRIVER_FRAME = 'Immediate.nextWrite (/app/node_modules/postgres/cjs/src/connection.js:255:22)';

describe('the postgres driver guard', () => {
  it("recognises the driver's deferred write to a closed socket", () => {
    expect(
      isClosedSocketWrite(
        errorWith("Cannot read properties of null (reading 'write')", [
          DRIVER_FRAME,
          'process.processImmediate (node:internal/timers:485:21)',
        ]),
      ),
    ).toBe(true);
  });

  it('leaves every other error fatal', () => {
    // Same message, not from the driver.
    expect(
      isClosedSocketWrite(
        errorWith("Cannot read properties of null (reading 'write')", ['nextWrite (/app/src/mine.js:1:1)']),
      ),
    ).toBe(false);
    // From the driver, another failure.
    expect(
      isClosedSocketWrite(
        errorWith("Cannot read properties of undefined (reading 'replace')", [DRIVER_FRAME]),
      ),
    ).toBe(false);
    // Not a TypeError.
    expect(
      isClosedSocketWrite(
        errorWith("Cannot read properties of null (reading 'write')", [DRIVER_FRAME], Error),
      ),
    ).toBe(false);
    expect(isClosedSocketWrite('boom')).toBe(false);
  });
});
