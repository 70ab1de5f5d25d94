// layerlens: the logit lens for GPT-2 on ggml. Data path: prompt → tokens (tokenizer.ts) → native
// forward with capture (model.ts, native/) → lens (lens/) → LensResult (decode.ts) → JSON/table (format.ts).
export { decodeLayers, releaseModels, type DecodeOptions } from './decode.js';
export { generate, type GenerateOptions, type GenerateResult } from './generate.js';
export { loadModel, Model, resolvePositions, type Device, type LoadOptions, type PositionSpec, type RunOptions, type RunOutput, type LensWeights } from './model.js';
export { resolveHooks, parseHookName, hookName, allHooks, isLensable, type HookRef, type HookSpec } from './hooks.js';
export { encode, decode, tokenText, tokenBytes, unescapeTokenText, vocabSize } from './tokenizer.js';
export { layerNorm, unembed, softmax, logSoftmax, topK, lensReference, type TopToken } from './lens/reference.js';
export { lensTopK, type LensImpl } from './lens/apply.js';
export { toJSON, formatTable, stringifyJSON } from './format.js';
export { DEFAULT_MODEL, findInHubCache, hfHubCache, resolveModel } from './resolve.js';
export * from './types.js';
