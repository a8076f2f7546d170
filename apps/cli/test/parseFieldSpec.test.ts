import { describe, expect, it } from 'vitest';
import { CliError } from '../src/CliError.js';
import { parseFieldSpec } from '../src/commands/entitiesCreate.js';

describe('entities create --field NAME:TYPE[:required][:unique]', () => {
  it('reads the type and the flags, in any order, as KameleonDB list entries', () => {
    expect(parseFieldSpec('notes:text')).toEqual({ name: 'notes', type: 'text' });
    expect(parseFieldSpec('email:string:required:unique')).toEqual({ name: 'email', type: 'string', required: true, unique: true });
    expect(parseFieldSpec('email:string:unique')).toEqual({ name: 'email', type: 'string', unique: true });
    expect(parseFieldSpec('born:date:unique:required')).toEqual({ name: 'born', type: 'date', required: true, unique: true });
  });

  it('refuses a malformed spec as a usage error (exit 2) naming it', () => {
    for (const [spec, why] of [
      ['notype', /name and type are needed/],
      [':text', /name and type are needed/],
      ['email:', /name and type are needed/],
      ['email:string:optional', /unknown flag "optional"; flags are required, unique/],
      ['email:string:unique:unique', /"unique" is given twice/],
    ] as const) {
      let err: unknown;
      try {
        parseFieldSpec(spec);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(2);
      expect((err as CliError).message).toMatch(new RegExp(`^--field "${spec}" must look like NAME:TYPE\\[:required\\]\\[:unique\\]`));
      expect((err as CliError).message).toMatch(why);
    }
  });
});
