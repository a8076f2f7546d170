/**
 * A loader whose answer is reused for `ms` (callers at the same moment share
 * one load); a failed load is not kept. `fresh` loads again at once.
 *
 * Past half of `ms` the next caller starts the following load in the
 * background and still gets the kept answer at once, so under steady traffic
 * no caller waits for a reload (a search would otherwise pay a round trip
 * each time one of its catalogs expired; docs/decisions/search-overhead.md).
 * No answer is older than `ms` either way: past it, a caller waits for the
 * load under way or a new one.
 */
export function reuseFor<T>(ms: number, load: () => Promise<T>): (fresh?: boolean) => Promise<T> {
  let kept: { at: number; value: Promise<T> } | null = null;
  let ahead: { at: number; value: Promise<T> } | null = null;
  const start = (now: number) => {
    const entry = { at: now, value: load() };
    entry.value.catch(() => {
      if (kept === entry) kept = null;
    });
    return entry;
  };
  return (fresh = false) => {
    const now = Date.now();
    if (fresh || !kept || now - kept.at > ms) {
      kept = ahead && !fresh && now - ahead.at <= ms ? ahead : start(now);
      ahead = null;
    } else if (!ahead && now - kept.at > ms / 2) {
      const entry = (ahead = start(now));
      entry.value.then(
        () => {
          if (ahead === entry) {
            if (!kept || kept.at < entry.at) kept = entry;
            ahead = null;
          }
        },
        () => {
          if (ahead === entry) ahead = null;
        },
      );
    }
    return kept.value;
  };
}
