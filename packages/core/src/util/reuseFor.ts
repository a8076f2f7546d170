/**
 * A loader whose answer is reused for `ms` (callers at the same moment share
 * one load); a failed load is not kept. `fresh` loads again at once.
 */
export function reuseFor<T>(ms: number, load: () => Promise<T>): (fresh?: boolean) => Promise<T> {
  let kept: { at: number; value: Promise<T> } | null = null;
  return (fresh = false) => {
    const now = Date.now();
    if (fresh || !kept || now - kept.at > ms) {
      const entry = { at: now, value: load() };
      entry.value.catch(() => {
        if (kept === entry) kept = null;
      });
      kept = entry;
    }
    return kept.value;
  };
}
