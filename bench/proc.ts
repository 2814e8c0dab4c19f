/**
 * What Linux says of a process in /proc: the benchmarks' CPU and memory figures. Each reader answers
 * undefined when the process is gone (or the machine has no /proc).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Parent pid and CPU seconds used so far (user + system), from /proc/<pid>/stat. */
export function procStat(pid: number): { name: string; ppid: number; cpuS: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return { name, ppid: Number(fields[1]), cpuS: (Number(fields[11]) + Number(fields[12])) / 100 };
  } catch {
    return undefined;
  }
}

/** Resident memory now and at its peak, in MB, from /proc/<pid>/status. */
export function procMemory(pid: number): { rssMb: number; peakRssMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024;
    return { rssMb: mb('VmRSS'), peakRssMb: mb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by a process and its children (e.g. a PostgreSQL postmaster and its backends). */
export function treeCpuSeconds(pid: number): number {
  let total = procStat(pid)?.cpuS ?? 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child?.ppid === pid) total += child.cpuS;
  }
  return total;
}

/**
 * CPU seconds (user + system) of this process's children that have exited and been waited for, from
 * the cutime and cstime fields of /proc/self/stat: what `/usr/bin/time` reports for a command it ran.
 */
export function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}
