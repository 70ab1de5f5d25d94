// `layerlens models [--json]`: the models already on this machine (Ollama's store, LM Studio's
// folders, the Hugging Face cache) with what their headers say, and whether layerlens runs them.
import { InvalidParameterError } from '../is.js';
import { parseFlags } from './flags.js';
import type { CommandIO } from './io.js';
import type { LocalModel } from '../hub/local-models.js';

export interface CliModelsOptions {
  json: boolean;
}

export function parseModelsArgs(argv: readonly string[]): { command: 'help' } | ({ command: 'models' } & CliModelsOptions) {
  const parsed = parseFlags(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, { command: 'models' });
  if (parsed.values.help) return { command: 'help' };
  if (parsed.positionals.length) throw new InvalidParameterError(`models: takes no arguments, got ${parsed.positionals.join(' ')}`);
  return { command: 'models', json: parsed.values.json === true };
}

/** 1.2 GB, 340 MB (SI, as `ls -h --si` and the hub show sizes). */
export function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** 124M, 1.2B. */
export function formatParameters(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n < 1e10 ? 1 : 0)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}K`;
  return String(n);
}

export function formatModelsTable(models: readonly LocalModel[]): string {
  if (models.length === 0) return "no models found (looked in Ollama's store, LM Studio's models folders and the Hugging Face cache)\n";
  const rows = models.map((m) => [
    m.ref,
    m.architecture ?? '?',
    formatSize(m.bytes),
    m.quant ?? '?',
    formatParameters(m.parameters),
    m.error ? `no: ${m.error}` : m.support.note,
  ]);
  const head = ['MODEL', 'ARCH', 'SIZE', 'QUANT', 'PARAMS', 'SUPPORTED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n';
  return line(head) + rows.map(line).join('') + '\nLoad one with --model MODEL.\n';
}

export async function modelsCommand(cmd: CliModelsOptions, io: CommandIO): Promise<void> {
  const { listLocalModels } = await import('../hub/local-models.js');
  const models = await listLocalModels(io.env);
  io.stdout.write(cmd.json ? JSON.stringify(models, null, 2) + '\n' : formatModelsTable(models));
}
