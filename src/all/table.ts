/**
 * The end of `kiln --all build`: one table — image, format, result, time, size, output — and the
 * one-line reason of each image that failed.
 */
import fs from 'node:fs/promises';
import { formatBytes } from '../disk/layout.js';
import { run } from '../run.js';
import type { ImageResult } from './schedule.js';

/** The size of an output: a file's length, a directory tree's total (du --apparent-size). */
export async function outputSize(file: string): Promise<number | undefined> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return undefined;
  if (!stat.isDirectory()) return stat.size;
  const { stdout } = await run(['du', '-s', '--apparent-size', '--block-size=1', file], { stdio: 'pipe', read: true, what: `Measuring ${file}`, uninterruptible: true });
  const bytes = Number(stdout.split(/\s/)[0]);
  return Number.isFinite(bytes) ? bytes : undefined;
}

function formatTime(seconds: number): string {
  if (seconds === 0) return '-';
  return seconds < 60 ? `${seconds.toFixed(1)}s` : `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export async function formatResults(results: readonly ImageResult[], display: (file: string) => string): Promise<string> {
  const rows = [['IMAGE', 'FORMAT', 'RESULT', 'TIME', 'SIZE', 'OUTPUT']];
  for (const result of results) {
    const { config } = result.image.loaded;
    const built = result.outcome === 'built';
    const size = built ? await outputSize(config.Output) : undefined;
    rows.push([
      result.image.name,
      config.Format,
      result.outcome,
      formatTime(result.seconds),
      size === undefined ? '-' : formatBytes(size),
      built ? display(config.Output) : '-',
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd());
  for (const result of results) {
    if (result.outcome === 'failed') lines.push(`${result.image.name}: ${result.failure!.message}`);
  }
  return `${lines.join('\n')}\n`;
}
