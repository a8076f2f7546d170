import { expect } from 'vitest';
import { KameleonApiError } from '@kameleondb/client';

/** What a call threw, as a KameleonApiError (the test fails if it resolved or threw something else). */
export async function apiError(p: Promise<unknown>): Promise<KameleonApiError> {
  const err = await p.then(
    () => new Error('the call succeeded'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KameleonApiError);
  return err as KameleonApiError;
}
