// Flag parsing shared by the commands: node:util parseArgs with its errors as InvalidParameterErrors,
// and the checks of one flag's text (integers, lists, choices), all with the uniform message.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkParameter, InvalidParameterError, invalidParameterError, is, oneOf } from '../is.js';
import { checkRevision } from '../hub/hub.js';
import type { LoadOptions, Model } from '../model/model.js';
import { isRpcDevice, parseRpcDevice } from '../model/rpc-device.js';
import { DEVICES, MAX_RPC_TIMEOUT_MS, MAX_THREADS, MODEL_ENGINES, type Device, type ModelEngine } from '../types.js';
import type { LensKind } from '../lens/lens-choice.js';

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;
export type ParsedFlags<T extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: boolean; options: T }>>;

/**
 * node:util parseArgs (strict). `command` prefixes its messages ("serve: …") and names the help to
 * read; positionals are allowed unless `positionals` is false.
 */
export function parseFlags<const T extends FlagOptions>(
  argv: readonly string[],
  options: T,
  context: { command?: string; positionals?: boolean } = {},
): ParsedFlags<T> {
  const help = context.command ? `layerlens ${context.command} --help` : '--help';
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: context.positionals ?? true, options });
  } catch (err) {
    // node:util's messages name the flag; its advice about `--` is for positionals, not options.
    const message = (err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '');
    throw new InvalidParameterError(`${context.command ? `${context.command}: ` : ''}${message} (see ${help})`, { cause: err });
  }
}

/** An integer flag in min..max (digits only: no sign, no decimals). */
export function integerFlag(name: string, text: string, min: number, max: number): number {
  const s = text.trim();
  const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!is.integerIn(n, min, max)) throw invalidParameterError(name, `an integer in ${min}..${max}`, text);
  return n;
}

/** A comma-separated list without empty items. */
export function listFlag(name: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw invalidParameterError(name, 'a comma-separated list without empty items', text);
  return items;
}

/** One of `choices` (surrounding space ignored). */
export function choiceFlag<const T extends string>(name: string, text: string, choices: readonly T[]): T {
  const s = text.trim();
  if (!is.inArray(s, choices)) throw invalidParameterError(name, oneOf(choices), text);
  return s;
}

/** --device: one of DEVICES, or ggml RPC servers (rpc://host:port[,rpc://host:port…]). */
export function deviceFlag(text: string): Device {
  const s = text.trim();
  if (!isRpcDevice(s)) return choiceFlag('--device', s, DEVICES);
  parseRpcDevice(s, '--device');
  return s;
}

/** --rpc-timeout MS: how long one call to RPC servers may take; 0 = no limit (LoadOptions.rpcTimeoutMs). */
export function rpcTimeoutFlag(text: string): number {
  return integerFlag('--rpc-timeout', text, 0, MAX_RPC_TIMEOUT_MS);
}

export function revisionFlag(text: string | undefined): string | undefined {
  return text === undefined ? undefined : checkParameter('--revision', () => checkRevision(text.trim()));
}

/** --model: a path or hub id, not empty. */
export function modelFlag(text: string | undefined): string | undefined {
  if (text !== undefined && !is.nonEmptyString(text)) throw invalidParameterError('--model', 'a model path or hub name', text);
  return text;
}

/** The flags of every command that loads a model: which model, and how. */
export const MODEL_LOAD_FLAGS = {
  model: { type: 'string' },
  threads: { type: 'string' },
  device: { type: 'string' },
  'rpc-timeout': { type: 'string' },
  revision: { type: 'string' },
  quiet: { type: 'boolean' },
  engine: { type: 'string' },
  'context-length': { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

/** What MODEL_LOAD_FLAGS say, checked; absent flags are absent keys. */
export interface ModelLoadFlags {
  /** --model, else $LAYERLENS_MODEL (resolved when run, not here). */
  model?: string;
  threads?: number;
  device: Device;
  /** --rpc-timeout: with an rpc:// device, how long one call may wait for the servers (ms; 0: no limit). */
  rpcTimeoutMs?: number;
  /** --revision: hub branch, tag or commit (default main). */
  revision?: string;
  /** --quiet: no download progress bar. */
  quiet?: boolean;
  /** --engine: auto (default), gpt2 or llama.cpp. */
  engine?: 'auto' | ModelEngine;
  /** --context-length: the llama.cpp engine's context. */
  contextLength?: number;
  /** --verbose: let llama.cpp and ggml print their logs. */
  verbose?: boolean;
}

export function parseModelLoadFlags(v: {
  model?: string;
  threads?: string;
  device?: string;
  'rpc-timeout'?: string;
  revision?: string;
  quiet?: boolean;
  engine?: string;
  'context-length'?: string;
  verbose?: boolean;
}): ModelLoadFlags {
  const model = modelFlag(v.model);
  const revision = revisionFlag(v.revision);
  return {
    ...(model === undefined ? {} : { model }),
    ...(v.threads === undefined ? {} : { threads: integerFlag('--threads', v.threads, 1, MAX_THREADS) }),
    device: deviceFlag(v.device ?? 'auto'),
    ...(v['rpc-timeout'] === undefined ? {} : { rpcTimeoutMs: rpcTimeoutFlag(v['rpc-timeout']) }),
    ...(revision === undefined ? {} : { revision }),
    ...(v.quiet === true ? { quiet: true } : {}),
    ...(v.engine === undefined ? {} : { engine: choiceFlag('--engine', v.engine, ['auto', ...MODEL_ENGINES] as const) }),
    ...(v['context-length'] === undefined ? {} : { contextLength: integerFlag('--context-length', v['context-length'], 1, 1 << 20) }),
    ...(v.verbose === true ? { verbose: true } : {}),
  };
}

const LENS_KINDS: readonly LensKind[] = ['logit', 'tuned'];

/** --tuned-lens PATH|NAME and --lens logit|tuned, checked together (the main command and batch). */
export function tunedLensFlags(v: { 'tuned-lens'?: string; lens?: string }): { tunedLens?: string; lens?: LensKind } {
  const tunedLens = v['tuned-lens'];
  if (tunedLens !== undefined && tunedLens.trim() === '')
    throw invalidParameterError('--tuned-lens', 'a tuned lens folder or a published lens name (e.g. gpt2)', tunedLens);
  const lens = v.lens === undefined ? undefined : choiceFlag('--lens', v.lens, LENS_KINDS);
  if (lens === 'tuned' && tunedLens === undefined)
    throw new InvalidParameterError('--lens tuned needs --tuned-lens PATH|NAME (a tuned lens folder, or a published lens such as gpt2)');
  return { ...(tunedLens === undefined ? {} : { tunedLens }), ...(lens === undefined ? {} : { lens }) };
}

/** The LoadOptions the load flags say (the model itself aside). */
export function loadOptionsFromFlags(flags: Omit<ModelLoadFlags, 'model'>, env: Record<string, string | undefined>): LoadOptions {
  return {
    env,
    device: flags.device,
    ...(flags.rpcTimeoutMs === undefined ? {} : { rpcTimeoutMs: flags.rpcTimeoutMs }),
    ...(flags.threads === undefined ? {} : { threads: flags.threads }),
    ...(flags.revision === undefined ? {} : { revision: flags.revision }),
    ...(flags.quiet === undefined ? {} : { quiet: flags.quiet }),
    ...(flags.engine === undefined ? {} : { engine: flags.engine }),
    ...(flags.contextLength === undefined ? {} : { contextLength: flags.contextLength }),
    ...(flags.verbose ? { logLevel: 'verbose' as const } : {}),
  };
}

/** Loads the model the flags name: --model, else $LAYERLENS_MODEL, else the default. */
export async function loadModelFromFlags(flags: ModelLoadFlags, env: Record<string, string | undefined>): Promise<Model> {
  const { loadModel } = await import('../model/model.js');
  return loadModel(flags.model ?? (env.LAYERLENS_MODEL || undefined), loadOptionsFromFlags(flags, env));
}
