// N-API surface of the llama.cpp engine: the NativeLlamaModel class and its loader (see
// lib/model/native.ts for the JS types).
#pragma once

#include <napi.h>

#include "../napi_helpers.hpp"

namespace layerlens {

Napi::Function defineLlamaModelClass(Napi::Env env);

// loadLlamaModel({path, device?, threads?, contextLength?, batchSize?}) -> Promise<NativeLlamaModel>
Napi::Value loadLlamaModel(Napi::Env env, const Options& o, Napi::FunctionReference& modelClass);

// setLogLevel('quiet' | 'errors' | 'verbose'): what llama.cpp and ggml print to stderr.
Napi::Value setLogLevel(const Napi::CallbackInfo& info);

}  // namespace layerlens
