import { z } from 'zod';
import { builtinNameMessage, isBuiltinName } from './isBuiltinName.js';

/** Types a record field may declare. `text` fields are what people usually embed. */
export const FIELD_TYPES = ['text', 'string', 'number', 'integer', 'boolean', 'datetime', 'json'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

const NAME_RE = /^[a-z][a-z0-9_]{0,62}$/;
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

// Checked on the raw object: z.record drops a `__proto__` key without a word.
// Checked on the raw object (a preprocess keeps the record's JSON Schema in the OpenAPI document): z.record drops a `__proto__` key without a word.
const fieldsSchema = z.preprocess(
  (raw, ctx) => {
    if (typeof raw === 'object' && raw !== null) {
      for (const key of Object.keys(raw)) {
        if (isBuiltinName(key)) ctx.addIssue({ code: 'custom', path: [key], input: key, message: builtinNameMessage('field name', key) });
      }
    }
    return raw;
  },
  z.record(
    z.string().regex(FIELD_RE, 'field names must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    z.enum(FIELD_TYPES, { message: `field type must be one of ${FIELD_TYPES.join(', ')}` }),
  ),
);

const embedFieldName = z
  .string()
  .refine((n) => !isBuiltinName(n), { error: (i) => builtinNameMessage('embed field', String(i.input)) });

/** Body of `POST /v1/entities`. */
export const entityInputSchema = z
  .object({
    name: z
      .string()
      .regex(NAME_RE, 'entity name must match ^[a-z][a-z0-9_]{0,62}$ (lower-case letter, then letters, digits, _)')
      .refine((n) => !isBuiltinName(n), { error: (i) => builtinNameMessage('entity name', String(i.input)) }),
    fields: fieldsSchema
      .refine((f) => Object.keys(f).length > 0, 'fields must declare at least one field')
      .refine((f) => !Object.hasOwn(f, 'id'), 'field name "id" is reserved for the record id'),
    embedFields: z.array(embedFieldName).min(1, 'embedFields must name at least one field'),
  })
  .strict()
  .superRefine((e, ctx) => {
    const seen = new Set<string>();
    e.embedFields.forEach((f, i) => {
      if (!Object.hasOwn(e.fields, f)) {
        ctx.addIssue({
          code: 'custom',
          path: ['embedFields', i],
          message: `embed field "${f}" is not one of the entity's fields (${Object.keys(e.fields).join(', ')})`,
        });
      } else if (seen.has(f)) {
        ctx.addIssue({ code: 'custom', path: ['embedFields', i], message: `embed field "${f}" is listed twice` });
      }
      seen.add(f);
    });
  });

export type EntityInput = z.infer<typeof entityInputSchema>;

export interface Entity {
  name: string;
  /** Read from Postgres as a prototype-less object: look fields up with `Object.hasOwn`. */
  fields: Record<string, FieldType>;
  embedFields: string[];
  createdAt: string;
  updatedAt: string;
}

/** Body of `PATCH /v1/entities/:name`: new fields may be added, embedFields replaced. */
export const entityPatchSchema = z
  .object({
    fields: fieldsSchema.optional(),
    embedFields: z.array(embedFieldName).min(1, 'embedFields must name at least one field').optional(),
  })
  .strict()
  .refine((p) => p.fields !== undefined || p.embedFields !== undefined, 'send fields to add, embedFields, or both');

export type EntityPatch = z.infer<typeof entityPatchSchema>;
