/**
 * The peer benchmark's records and queries. The records are bench:ingest's
 * (6 of the 20 words of one of 1,000 subjects, 6 words of a 5,000-word
 * vocabulary, the record's number). The local OpenAI wire-format server
 * embeds by feature hashing, so texts sharing subject words are near: the
 * corpus has neighbourhoods and recall against an exact scan measures the
 * index. Queries are three words of a subject, as bench:ingest's recall.
 */
import { ingestRecord, SUBJECTS, subjectWord } from '../ingestRecord.js';

export const PEER_DIMENSIONS = 384;

/** The text our pipeline embeds for record i (composeContent of title and body), which LangChain gets as pageContent. */
export function contentOf(i: number): string {
  const { title, body } = ingestRecord(i);
  return `title: ${title} | body: ${body}`;
}

/** `count` topic queries; the same list for both systems. */
export function peerQueries(count: number): string[] {
  return Array.from({ length: count }, (_, q) => {
    const subject = (q * 7) % SUBJECTS;
    return [3, 11, 17].map((k) => subjectWord(subject, (k * (q + 1)) % 20)).join(' ');
  });
}
