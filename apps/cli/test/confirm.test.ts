import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm } from '../src/confirm.js';

/** Asks with `typed` as what the person types (null: the input ends without a line); returns the answer and what was shown. */
async function ask(typed: string | null): Promise<{ yes: boolean; shown: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (c: Buffer) => (shown += c.toString()));
  const answer = confirm('delete all 12 embedding cache entries?', { input, output });
  if (typed === null) input.end();
  else input.write(typed);
  return { yes: await answer, shown };
}

describe('confirm', () => {
  it('shows the question with [y/N] and takes y or yes, in any case, as a yes', async () => {
    for (const typed of ['y\n', 'Y\n', 'yes\n', ' YES \n']) {
      const r = await ask(typed);
      expect(r.yes, JSON.stringify(typed)).toBe(true);
      expect(r.shown).toBe('delete all 12 embedding cache entries? [y/N] ');
    }
  });

  it('takes anything else, an empty line or the end of input as a no', async () => {
    for (const typed of ['\n', 'n\n', 'no\n', 'yep\n', 'sure\n', null]) expect((await ask(typed)).yes, JSON.stringify(typed)).toBe(false);
  });
});
