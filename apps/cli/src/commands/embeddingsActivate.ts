import type { EmbeddingSpace, KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

/** `embeddings activate KEY`: switches search to a space (a retired one, or one built with --manual). */
export async function embeddingsActivate(api: KameleonClient, key: string): Promise<CommandResult<EmbeddingSpace>> {
  const data = await api.spaces.activate(key);
  return { data, human: (s) => `space ${s.modelKey} is active: every API process serves it within a second` };
}
