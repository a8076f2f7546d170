import { z } from 'zod';
import { builtinNameMessage, isBuiltinName } from './isBuiltinName.js';
import { FIELD_TYPES, type FieldType } from './fieldTypes.js';
import { fieldNames, type FieldsInput } from './normalizeFields.js';
import { analyzerSchema, type Analyzer } from './analyzer.js';

export { FIELD_TYPES, type FieldType } from './fieldTypes.js';

/** Entity names as KameleonDB writes them (`Contact`); unique regardless of case. */
export const ENTITY_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const fieldName = z.string().regex(FIELD_RE, 'field names must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$');
const fieldType = z.enum(FIELD_TYPES, { message: `field type must be one of ${FIELD_TYPES.join(', ')}` });
const constraints = {
  /** Every record must hold a non-null value. Default false. */
  required: z.boolean().optional(),
  /** No two records of the entity may hold the same value (nulls excepted). Default false. */
  unique: z.boolean().optional(),
};
const fieldSpec = z.object({ type: fieldType, ...constraints }).strict();

/** A spec `{type, required, unique}` where a bare type may stand: the branch chosen by the shape, as for fieldsSchema below. */
const fieldValue = z.preprocess((raw, ctx) => {
  const parsed = (typeof raw === 'string' ? fieldType : fieldSpec).safeParse(raw);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, input: raw, message: issue.message });
  return raw;
}, z.union([fieldType, fieldSpec]));

const fieldsMap = z.record(fieldName, fieldValue);

// Checked on the raw object: z.record drops a `__proto__` key without a word.
const checkedFieldsMap = z.preprocess((raw, ctx) => {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    for (const key of Object.keys(raw)) {
      if (isBuiltinName(key)) ctx.addIssue({ code: 'custom', path: [key], input: key, message: builtinNameMessage('field name', key) });
    }
  }
  return raw;
}, fieldsMap);

/** KameleonDB's form: `[{"name": "email", "type": "string", "required": true, "unique": true}]`. */
const fieldsList = z
  .array(
    z
      .object({
        name: fieldName.refine((n) => !isBuiltinName(n), { error: (i) => builtinNameMessage('field name', String(i.input)) }),
        type: fieldType,
        ...constraints,
      })
      .strict(),
  )
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `field "${f.name}" is listed twice` });
      seen.add(f.name);
    });
  });

/**
 * A map `{field: type | {type, required, unique}}` or KameleonDB's list; both
 * are stored alike. The branch is chosen by the input's shape and its own
 * issues reported (a plain union would answer only "Invalid input"); the
 * union stays for the JSON Schema of the OpenAPI document, and holds no
 * preprocess itself (that would make `fields` optional in it).
 */
const fieldsSchema = z.preprocess((raw, ctx) => {
  const branch = Array.isArray(raw) ? fieldsList : checkedFieldsMap;
  const parsed = branch.safeParse(raw);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, input: raw, message: issue.message });
  return raw;
}, z.union([fieldsList, fieldsMap]));

const embedFieldName = z
  .string()
  .refine((n) => !isBuiltinName(n), { error: (i) => builtinNameMessage('embed field', String(i.input)) });

/** Body of `POST /v1/entities`. */
export const entityInputSchema = z
  .object({
    name: z
      .string()
      .regex(ENTITY_NAME_RE, 'entity name must match ^[A-Za-z][A-Za-z0-9_]{0,62}$ (a letter, then letters, digits, _)')
      .refine((n) => !isBuiltinName(n), { error: (i) => builtinNameMessage('entity name', String(i.input)) }),
    fields: fieldsSchema
      .refine((f) => fieldNames(f).length > 0, 'fields must declare at least one field')
      .refine((f) => !fieldNames(f).includes('id'), 'field name "id" is reserved for the record id'),
    embedFields: z.array(embedFieldName).min(1, 'embedFields must name at least one field'),
    /** Keyword analyzer of the entity's texts and of queries searching it. Default `simple`. */
    analyzer: analyzerSchema.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const names = fieldNames(e.fields as FieldsInput);
    const seen = new Set<string>();
    e.embedFields.forEach((f, i) => {
      if (!names.includes(f)) {
        ctx.addIssue({
          code: 'custom',
          path: ['embedFields', i],
          message: `embed field "${f}" is not one of the entity's fields (${names.join(', ')})`,
        });
      } else if (seen.has(f)) {
        ctx.addIssue({ code: 'custom', path: ['embedFields', i], message: `embed field "${f}" is listed twice` });
      }
      seen.add(f);
    });
  });

export type EntityInput = z.infer<typeof entityInputSchema>;

export interface Entity {
  /** As created (`Contact`); lookups by name are exact. */
  name: string;
  /** Read from Postgres as a prototype-less object: look fields up with `Object.hasOwn`. */
  fields: Record<string, FieldType>;
  embedFields: string[];
  /** Fields every record must hold, non-null. */
  required: string[];
  /** Fields whose non-null values are unique within the entity (a unique index each). */
  unique: string[];
  /** Keyword analyzer its postings and queries use. */
  analyzer: Analyzer;
  /** While its postings are rebuilt for another analyzer: that analyzer and the run (searches use `analyzer` until the switch). */
  analyzerChange: { to: Analyzer; runId: string } | null;
  createdAt: string;
  updatedAt: string;
}

const newFieldName = fieldName
  .refine((n) => !isBuiltinName(n), { error: (i) => builtinNameMessage('field name', String(i.input)) })
  .refine((n) => n !== 'id', 'field name "id" is reserved for the record id');

/**
 * Body of `PATCH /v1/entities/:name`: new fields may be added, fields
 * renamed (`renameFields: {old: new}`) or dropped (`dropFields`), and
 * embedFields replaced (named as they are after the renames).
 */
export const entityPatchSchema = z
  .object({
    fields: fieldsSchema.optional(),
    embedFields: z.array(embedFieldName).min(1, 'embedFields must name at least one field').optional(),
    renameFields: z
      .record(z.string().min(1).max(63), newFieldName)
      .refine((m) => Object.keys(m).length > 0, 'renameFields must rename at least one field')
      .optional(),
    dropFields: z.array(z.string().min(1).max(63)).min(1, 'dropFields must name at least one field').max(1000).optional(),
    /** Another analyzer: the postings are rebuilt in the background (a run); searches use the old ones until the switch. */
    analyzer: analyzerSchema.optional(),
  })
  .strict()
  .refine(
    (p) => p.fields !== undefined || p.embedFields !== undefined || p.renameFields !== undefined || p.dropFields !== undefined || p.analyzer !== undefined,
    'send fields to add, embedFields, renameFields, dropFields, analyzer, or several',
  );

export type EntityPatch = z.infer<typeof entityPatchSchema>;
