import type { ApiClient } from '../ApiClient.js';
import { table, type CommandResult } from '../output.js';

interface Status {
  provider: string;
  model: string;
  dimensions: number;
  modelKey: string;
  entities: { entity: string; total: number; indexed: number; pending: number; failed: number; stale: number }[];
}

export async function embeddingsStatus(api: ApiClient): Promise<CommandResult<Status>> {
  const data = await api.request<Status>('GET', 'v1/embeddings/status');
  return {
    data,
    human: (s) =>
      [
        `provider ${s.provider}, model ${s.model}, ${s.dimensions} dimensions (${s.modelKey})`,
        '',
        table(
          ['ENTITY', 'INDEXED', 'PENDING', 'FAILED', 'STALE', 'TOTAL'],
          s.entities.map((e) => [e.entity, e.indexed, e.pending, e.failed, e.stale, e.total]),
        ),
      ].join('\n'),
  };
}
