/**
 * Names every plain JavaScript object already answers to (`__proto__`,
 * `constructor`, `toString`, ...). As field or entity names they break code
 * that reads `obj[name]` or tests `name in obj`, and `__proto__` cannot even
 * be assigned as a plain key, so they are refused as names.
 */
const BUILTIN_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

export function isBuiltinName(name: string): boolean {
  return BUILTIN_NAMES.has(name);
}

export function builtinNameMessage(kind: string, name: string): string {
  return `${kind} "${name}" is refused: it is a built-in property of every JavaScript object (${[...BUILTIN_NAMES].join(', ')}); choose another name`;
}
