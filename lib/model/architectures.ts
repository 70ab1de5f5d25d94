// Which model architectures layerlens can run, and with which engine: the one list `layerlens models`
// and the model loaders consult. The GPT-2 engine (native/, over ggml) reads GPT-2 safetensors and
// GGUFs of architecture "gpt2"; the llama.cpp engine (over libllama) takes every other GGUF decoder. The
// table lists the architectures whose hook map was checked by value (every hook kind the architecture
// has); any other decoder llama.cpp loads runs too, with the embedding and resid_post hooks only.
import type { ModelEngine } from '../types.js';

/** The engines layerlens has or is getting. */
export type EngineName = ModelEngine;

/** The engines this build of layerlens contains. */
export const ENGINES_IN_THIS_BUILD: readonly EngineName[] = Object.freeze(['gpt2', 'llama.cpp']);

/**
 * GGUF `general.architecture` (or config.json `model_type`) → the engine that runs it. Names follow
 * llama.cpp's (LLM_ARCH_NAMES), which GGUF files carry.
 */
export const SUPPORTED_ARCHITECTURES: Readonly<Record<string, EngineName>> = Object.freeze({
  gpt2: 'gpt2',
  llama: 'llama.cpp',
  mistral: 'llama.cpp',
  qwen2: 'llama.cpp',
  qwen3: 'llama.cpp',
  gemma: 'llama.cpp',
  gemma2: 'llama.cpp',
  gemma3: 'llama.cpp',
  phi3: 'llama.cpp',
  gptneox: 'llama.cpp',
  olmo2: 'llama.cpp',
});

/** Whether (and how) layerlens runs an architecture. */
export interface ArchitectureSupport {
  /** The engine for it; absent for an architecture nobody handles. */
  engine?: EngineName;
  /** True when that engine is in this build, so the model loads today. */
  supported: boolean;
  /** In words, for listings: "yes", "llama.cpp engine (not in this build)", "no". */
  note: string;
}

export function architectureSupport(architecture: string | undefined): ArchitectureSupport {
  if (architecture === undefined) return { supported: false, note: 'unknown architecture' };
  const engine = Object.hasOwn(SUPPORTED_ARCHITECTURES, architecture) ? SUPPORTED_ARCHITECTURES[architecture] : undefined;
  if (engine === undefined) return { supported: false, note: 'no' };
  const supported = ENGINES_IN_THIS_BUILD.includes(engine);
  return { engine, supported, note: supported ? 'yes' : `${engine} engine (not in this build)` };
}
