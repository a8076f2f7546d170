import { describe, expect, it } from 'vitest';
import { normalizeText } from '../src/content/normalizeText.js';
import { textHash } from '../src/content/textHash.js';
import { composeContent } from '../src/content/composeContent.js';

describe('normalizeText', () => {
  it('applies NFC, trims and collapses whitespace', () => {
    expect(normalizeText('  Cafe\u0301\n\t au  lait ')).toBe('Café au lait');
  });
});

describe('composeContent', () => {
  it('joins embed fields in entity order and hashes the normalized text', () => {
    const c = composeContent({ body: ' World ', title: 'Hello', other: 'x' }, ['title', 'body']);
    expect(c.content).toBe('title: Hello | body: World');
    expect(c.hash).toBe(textHash('title: Hello | body: World'));
  });
  it('leaves out empty fields, so whitespace-only changes keep the same hash', () => {
    expect(composeContent({ title: 'A', body: '  ' }, ['title', 'body']).hash).toBe(composeContent({ title: ' A' }, ['title', 'body']).hash);
    expect(composeContent({}, ['title']).content).toBe('');
  });
  it('renders numbers, booleans and JSON values', () => {
    expect(composeContent({ a: 3, b: true, c: { k: 1 } }, ['a', 'b', 'c']).content).toBe('a: 3 | b: true | c: {"k":1}');
  });
});
