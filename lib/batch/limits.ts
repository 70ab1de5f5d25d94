// decodeBatch's limits, in a module of their own so the CLI's argument parser can check against them
// without loading the engine-side code.

/** Prompts per packed forward, at most (the GPT-2 engine's runBatch takes up to 256 sequences). */
export const MAX_BATCH_SIZE = 256;
/** Prompts per packed forward by default on the GPT-2 engine (1 on the llama.cpp engine: see DecodeBatchOptions.batchSize). */
export const DEFAULT_BATCH_SIZE = 16;
