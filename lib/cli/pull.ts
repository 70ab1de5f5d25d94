// `layerlens pull NAME [--revision R] [--quiet]`: download a hub model into the Hugging Face cache and
// print its snapshot directory.
import { isHubId } from '../hub/hub.js';
import { parseHubGgufRef } from '../hub/hub-gguf.js';
import { InvalidParameterError } from '../is.js';
import { parseFlags, revisionFlag } from './flags.js';
import type { CommandIO } from './io.js';

export interface CliPullOptions {
  name: string;
  revision?: string;
  quiet?: boolean;
}

/** Parses the arguments after `pull`. Throws InvalidParameterError. No I/O. */
export function parsePullArgs(argv: readonly string[]): { command: 'help' } | ({ command: 'pull' } & CliPullOptions) {
  const parsed = parseFlags(argv, { revision: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  const revision = revisionFlag(v.revision);
  const pos = parsed.positionals;
  if (pos.length === 0) throw new InvalidParameterError('pull: missing the model name (for example: layerlens pull gpt2-medium)');
  if (pos.length > 1) throw new InvalidParameterError(`pull: expected one model name, got ${pos.length}: ${pos.join(' ')}`);
  const name = pos[0].trim();
  // pull only downloads from the hub: a path here is a mistake, not something to look up
  if (!isHubId(name) && !parseHubGgufRef(name))
    throw new InvalidParameterError(`pull: ${JSON.stringify(pos[0])} is not a hub model name (expected gpt2-medium, distilgpt2, org/name, …)`);
  return { command: 'pull', name, revision, quiet: v.quiet === true ? true : undefined };
}

export async function pullCommand(cmd: CliPullOptions, io: CommandIO): Promise<void> {
  const gguf = parseHubGgufRef(cmd.name);
  if (gguf) {
    // org/name:QUANT or org/name/file.gguf: the one file, and its path (not the snapshot) is printed
    const { resolveHubGguf } = await import('../hub/hub-gguf.js');
    const file = await resolveHubGguf(gguf, {
      env: io.env,
      progress: io.stderr,
      ...(cmd.revision === undefined ? {} : { revision: cmd.revision }),
      ...(cmd.quiet === undefined ? {} : { quiet: cmd.quiet }),
    });
    io.stdout.write(file.weights + '\n');
    return;
  }
  const { pullModel } = await import('../hub/resolve.js');
  const files = await pullModel(cmd.name, {
    env: io.env,
    progress: io.stderr,
    ...(cmd.revision === undefined ? {} : { revision: cmd.revision }),
    ...(cmd.quiet === undefined ? {} : { quiet: cmd.quiet }),
  });
  io.stdout.write(files.snapshot + '\n');
}
