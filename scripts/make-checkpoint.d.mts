// Types for scripts/make-checkpoint.mjs (plain JavaScript, imported by the TypeScript tests).

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface CheckpointOptions {
  /** 'tiny' (default): 2 x 64 x 4 heads, ctx 64; 'small': 12 x 768 x 12, ctx 1024; 'medium': 24 x 1024 x 16, ctx 1024 */
  preset?: 'tiny' | 'small' | 'medium';
  layers?: number;
  embd?: number;
  heads?: number;
  ctx?: number;
  /** default 50257 */
  vocab?: number;
  /** case-insensitive; default 'f32' */
  dtype?: 'f32' | 'f16' | 'bf16' | SafetensorsDtype;
  /** integer in [0, 2^32); default 0 */
  seed?: number;
  /** write keys as "transformer.*" (save_pretrained style); default false (hub style) */
  prefix?: boolean;
  /** regenerate even when the stamp says the directory is up to date */
  force?: boolean;
  /** receives progress lines; default silent */
  log?: (line: string) => void;
}

export interface ResolvedCheckpointOptions {
  layers: number;
  embd: number;
  heads: number;
  ctx: number;
  vocab: number;
  dtype: SafetensorsDtype;
  seed: number;
  prefix: boolean;
}

export interface CheckpointResult {
  dir: string;
  configPath: string;
  modelPath: string;
  /** true when an up-to-date checkpoint was already there */
  skipped: boolean;
  seconds: number;
  /** size of model.safetensors */
  bytes: number;
  options: ResolvedCheckpointOptions;
  /** the object written to config.json */
  config: Record<string, unknown>;
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export const STAMP_FILE: 'layerlens-synthetic.json';
export const GENERATOR_VERSION: number;
export const PRESETS: Readonly<Record<'tiny' | 'small' | 'medium', Readonly<{ layers: number; embd: number; heads: number; ctx: number; vocab: number }>>>;

export function makeCheckpoint(outDir: string, opts?: CheckpointOptions): CheckpointResult;

export function writeSafetensors(
  file: string,
  tensors: TensorToWrite[],
  opts?: { metadata?: Record<string, string> | null },
): { headerBytes: number; dataBytes: number };

/** u64 LE length + JSON (padded with spaces to a multiple of 8 unless pad: false). */
export function encodeSafetensorsHeader(obj: unknown, opts?: { pad?: boolean }): Buffer;

/** Bytes of one tensor's data in `dtype` (F16/BF16 rounded to nearest even). */
export function encodeTensorData(dtype: SafetensorsDtype, data: Float32Array): Uint8Array;

export function f32ToF16Bits(x: number): number;
export function f32ToBf16Bits(x: number): number;
export function f16BitsToNumber(h: number): number;
export function bf16BitsToNumber(h: number): number;
