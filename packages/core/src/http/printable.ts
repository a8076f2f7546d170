/**
 * A bounded, escaped excerpt of untrusted text for an error message: control
 * characters, lone surrogates and non-ASCII become `\uXXXX`, so a message
 * about a binary or hostile body never carries that body's bytes.
 */
export function printable(text: string, max = 120): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = cut.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > max ? `${escaped}…` : escaped;
}
