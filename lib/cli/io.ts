// What every command shares: where it writes, the exit codes, and the one place that turns an error
// into `layerlens: <message>` and an exit code.
import { InvalidParameterError } from '../is.js';

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIO {
  stdout?: Writer;
  stderr?: Writer;
  /** Where `-` reads the prompt from. */
  stdin?: AsyncIterable<string | Uint8Array>;
  /** Environment for NO_COLOR / FORCE_COLOR / LAYERLENS_MODEL and the HF_* variables (default process.env). */
  env?: Record<string, string | undefined>;
}

/** CliIO with the defaults filled in. */
export interface CommandIO {
  stdout: Writer;
  stderr: Writer;
  stdin: AsyncIterable<string | Uint8Array>;
  env: Record<string, string | undefined>;
}

export function withDefaults(io: CliIO): CommandIO {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
  };
}

/**
 * Writes `layerlens: <message>` and returns the exit code: 2 for a bad flag, option or value (an
 * InvalidParameterError, wherever it was thrown: the flag parser or the library), else 1.
 */
export function reportError(stderr: Writer, err: unknown): number {
  stderr.write(`layerlens: ${err instanceof Error ? err.message : String(err)}\n`);
  return err instanceof InvalidParameterError ? EXIT_USAGE : EXIT_RUNTIME;
}

export async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

export function useColor(out: Writer, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return out.isTTY === true && env.TERM !== 'dumb';
}

/** Writes an HTML report to FILE (saying so on stderr), or to stdout for "-". */
export async function writeReport(html: string, file: string, io: CommandIO): Promise<void> {
  if (file === '-') {
    io.stdout.write(html);
    return;
  }
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, html);
  io.stderr.write(`layerlens: wrote ${file} (${Math.ceil(Buffer.byteLength(html) / 1024)} KiB)\n`);
}
