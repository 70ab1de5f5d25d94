/**
 * layerlens: the logit lens for GPT-2 on ggml, from Node. Start with {@link decodeLayers}: it tokenizes
 * a prompt, runs one forward pass that captures the selected hook points, and decodes every captured
 * vector through the final LayerNorm and the tied unembedding. {@link loadModel} gives a {@link Model}
 * for lower-level runs, interventions and generation.
 *
 * Data path: prompt → tokens (tokens/tokenizer.ts) → native forward with capture (model/model.ts,
 * native/) → lens (lens/) → LensResult (lens/decode.ts) → JSON/table (render/format.ts).
 *
 * @packageDocumentation
 */
export { decodeLayers, releaseModels, resolveTarget, attentionLayers, type DecodeOptions } from './lens/decode.js';
export { generate, type GenerateOptions, type GenerateResult } from './model/generate.js';
export type { SamplingOptions } from './model/sampling.js';
export {
  loadModel,
  Model,
  resolvePositions,
  type Device,
  type LoadOptions,
  type PositionSpec,
  type RunOptions,
  type RunOutput,
  type LensWeights,
} from './model/model.js';
export {
  resolveHooks,
  parseHookName,
  hookName,
  allHooks,
  isLensable,
  isIntervenable,
  hookKindInfo,
  hookRowWidth,
  hookPositionWidth,
  HOOK_KINDS,
  HOOK_KIND_TABLE,
  TL_BLOCK_ALIASES,
  type HookKindInfo,
  type HookRef,
  type HookSpec,
} from './hooks.js';
export { encode, decode, tokenText, tokenBytes, unescapeTokenText, vocabSize } from './tokens/tokenizer.js';
export {
  layerNorm,
  unembed,
  softmax,
  logSoftmax,
  topK,
  lensReference,
  lensMeasuresReference,
  rankOf,
  entropyFromLogProbs,
  klFromLogProbs,
  type TopToken,
} from './lens/reference.js';
export { lensTopK, lensBatch, type LensBatch, type LensImpl } from './lens/apply.js';
export { residualSums, type BatchBlock } from './lens/sums.js';
export {
  loadTunedLens,
  checkTunedLens,
  tunedLensToSafetensors,
  translateRows,
  translatorIndex,
  type TunedLens,
  type TunedLensConfig,
  type Translator,
} from './lens/tuned/tuned-lens.js';
export {
  trainTunedLens,
  type TrainTunedLensOptions,
  type TrainTunedLensResult,
  type TrainProgress,
  type HeldOutKL,
  type LensOptimizerKind,
} from './lens/tuned/train.js';
export { saveTunedLens } from './lens/tuned/save.js';
export { loadTunedLensByName, resolveTunedLensFolder, TUNED_LENS_REPO, type TunedLensResolveOptions } from './lens/tuned/resolve.js';
export type { LensKind } from './lens/lens-choice.js';
export { translateGroups, type TranslationGroup, type TranslateOptions } from './lens/tuned/translate.js';
export { toJSON, formatTable, stringifyJSON, type LensJSON, type HookJSON, type TargetJSON } from './render/format.js';
export { formatGrid, formatView, compactToken, type FormatGridOptions, type FormatViewOptions } from './render/view.js';
export {
  renderReport,
  reportData,
  decodeForView,
  decodeBothLenses,
  type LensPair,
  type LensView,
  type ReportOptions,
  type ReportData,
  type AttentionJSON,
  type ViewDecodeOptions,
} from './render/report/index.js';
export { startServer, type ServerOptions, type LayerlensServer } from './server/server.js';
export {
  DEFAULT_MODEL,
  findInHubCache,
  hfHubCache,
  resolveModel,
  resolveModelFiles,
  pullModel,
  type ResolveOptions,
  type CheckpointFiles,
} from './hub/resolve.js';
export { HubError, downloadHubFiles, type HubErrorKind } from './hub/hub.js';
export { convertToGguf, type ConvertOptions, type GgufType } from './model/convert.js';
export * from './types.js';
export { InvalidParameterError } from './is.js';
export { toNativeInterventions } from './interp/interventions.js';
export {
  directLogitAttribution,
  attributeLogit,
  type ResidualParts,
  type FinalLayerNorm,
  type UnembedRows,
  type AttributionPart,
  type Attribution,
  type AttributeOptions,
  type LogitAttribution,
} from './interp/attribution.js';
export { patchActivations, type PatchOptions, type PatchLayer, type PatchResult } from './interp/patch.js';
export {
  steeringVector,
  resolveControlVectors,
  steeringInterventions,
  STEERING_METHODS,
  STEERING_POSITIONS,
  STEERING_SOURCES,
  type SteeringVectorOptions,
  type SteeringOptions,
  type ControlVectorSpec,
} from './interp/steering.js';
export {
  readControlVector,
  writeControlVector,
  encodeControlVector,
  decodeControlVector,
  ControlVectorFormatError,
  type ControlVector,
} from './interp/control-vector.js';
export {
  decodeBatch,
  DEFAULT_BATCH_CONCURRENCY,
  DEFAULT_BATCH_SIZE,
  DEFAULT_MAX_BATCH_TOKENS,
  type BatchPrompt,
  type BatchResult,
  type DecodeBatchOptions,
} from './batch/decode-batch.js';
export {
  readBatchInput,
  parseShard,
  inShard,
  idHash,
  type BatchItem,
  type BadLine,
  type Shard,
  type InputFormat,
  type ReadInputOptions,
} from './batch/input.js';
export { scanOutput, OutputWriter, type ExistingOutput } from './batch/output.js';
export {
  SummaryAccumulator,
  summarizeOutputFile,
  wilsonInterval,
  studentT975,
  CONFIDENCE,
  type BatchSummary,
  type HookSummary,
  type ShareStat,
  type MeanStat,
} from './batch/summary.js';
export { renderSummaryPage } from './batch/summary-page.js';
export { listLocalModels, ollamaModelsDir, lmStudioModelsDirs, resolveOllamaModel, resolveLmStudioModel, type LocalModel } from './hub/local-models.js';
export { readGgufHeader, summarizeGguf, GgufHeaderError, type GgufHeader, type GgufSummary, type GgufValue, type GgufTensorInfo } from './hub/gguf-header.js';
export { parseHubGgufRef, chooseGgufByQuant, resolveHubGguf, type HubGgufRef } from './hub/hub-gguf.js';
export { SUPPORTED_ARCHITECTURES, ENGINES_IN_THIS_BUILD, architectureSupport, type EngineName, type ArchitectureSupport } from './model/architectures.js';
