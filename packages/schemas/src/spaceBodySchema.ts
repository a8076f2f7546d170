import { z } from 'zod';

/** The embedding providers this version can build; the core makes one per name. */
export const PROVIDER_NAMES = ['hash', 'openai', 'fastembed'] as const;
/** `auto`: a build switches search to its space when it covers every row; `manual`: it waits for `activate`. */
export const ACTIVATE_MODES = ['auto', 'manual'] as const;

/** Body of `POST /v1/spaces`. The base URL is a provider option, never a secret: one carrying credentials is refused. */
export const spaceBodySchema = z
  .object({
    provider: z.enum(PROVIDER_NAMES),
    model: z.string().min(1).max(200),
    dimensions: z.number().int().min(1).max(2000, 'dimensions may be at most 2000 (the most an HNSW index takes)'),
    baseUrl: z
      .string()
      .max(500)
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'baseUrl must be an http or https URL')
      .refine((u) => {
        const url = new URL(u);
        return url.username === '' && url.password === '';
      }, 'baseUrl must not carry credentials: secrets stay in the environment (OPENAI_API_KEY)')
      .optional(),
    activate: z.enum(ACTIVATE_MODES).default('auto'),
    dryRun: z.boolean().default(false),
  })
  .strict();
