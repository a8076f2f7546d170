import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';

/**
 * Asks a yes/no question on `output` and reads the answer from `input`
 * (a terminal in use; any stream in tests). Only `y` or `yes` (any case)
 * is a yes; an empty line, anything else or the end of input is a no.
 */
export async function confirm(question: string, io: { input: Readable; output: Writable }): Promise<boolean> {
  const rl = createInterface({ input: io.input, output: io.output, terminal: false });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('close', () => resolve(''));
      rl.question(`${question} [y/N] `).then(resolve, () => resolve(''));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
