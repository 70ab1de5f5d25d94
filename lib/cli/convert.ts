// `layerlens convert PATH --to gguf [--type T] [--out FILE]`: a Hugging Face checkpoint written as GGUF.
import { InvalidParameterError, invalidParameterError, is } from '../is.js';
import { DTYPES } from '../types.js';
import type { GgufType } from '../model/convert.js';
import { parseFlags } from './flags.js';
import type { CommandIO } from './io.js';

export const DEFAULT_CONVERT_TYPE: GgufType = 'f16';

export interface CliConvertOptions {
  path: string;
  type: GgufType;
  out: string;
}

/** Parses the arguments after `convert`. Throws InvalidParameterError. No I/O. */
export function parseConvertArgs(argv: readonly string[]): { command: 'help' } | ({ command: 'convert' } & CliConvertOptions) {
  const parsed = parseFlags(argv, { to: { type: 'string' }, type: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  const v = parsed.values;
  if (v.help) return { command: 'help' };
  if (v.to !== 'gguf')
    throw new InvalidParameterError(`convert: --to gguf is required (the only target format)${v.to === undefined ? '' : `, got ${JSON.stringify(v.to)}`}`);
  const type = v.type ?? DEFAULT_CONVERT_TYPE;
  if (!is.inArray(type, DTYPES))
    throw new InvalidParameterError(`convert: --type must be ${DTYPES.slice(0, -1).join(', ')} or ${DTYPES[DTYPES.length - 1]}, got ${JSON.stringify(type)}`);
  const pos = parsed.positionals;
  if (pos.length !== 1) throw new InvalidParameterError('convert: give exactly one checkpoint path (a directory or a .safetensors file)');
  const path = pos[0];
  const base = path
    .replace(/[\\/]+$/, '')
    .split(/[\\/]/)
    .pop()!
    .replace(/\.safetensors$/, '');
  // a directory's model.safetensors says nothing; name the file after the architecture instead
  const out = v.out ?? `${base === 'model' ? 'gpt2' : base}-${type}.gguf`;
  if (!out.endsWith('.gguf')) throw invalidParameterError('convert --out', 'a file name ending in .gguf', out);
  return { command: 'convert', path, type, out };
}

export async function convertCommand(cmd: CliConvertOptions, io: CommandIO): Promise<void> {
  const { convertToGguf } = await import('../model/convert.js');
  await convertToGguf(cmd.path, cmd.out, { type: cmd.type });
  io.stdout.write(cmd.out + '\n');
}
