import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  /** Resident set now (VmRSS), in bytes. */
  rss: number;
  /** Peak resident set since the process started (VmHWM), in bytes. */
  peak: number;
}

/** VmRSS and VmHWM of a live process from /proc (Linux); an error naming the pid when it is gone. */
export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
