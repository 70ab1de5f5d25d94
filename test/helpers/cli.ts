// Runs the CLI's main() in-process with captured output (no addon needed for parsing-only cases).
import { Readable } from 'node:stream';
import { main } from '../../lib/cli/main.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(argv: string[], extra: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: extra.env ?? {},
    ...(extra.stdin === undefined ? {} : { stdin: Readable.from([extra.stdin]) }),
  });
  return { code, out, err };
}
