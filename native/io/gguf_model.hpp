// GPT-2 in GGUF files (llama.cpp's names, arch "gpt2"): reading hyperparameters and weights, and
// writing a Hugging Face checkpoint out as GGUF (layerlens convert).
#pragma once

#include <string>

#include "weights.hpp"

namespace layerlens {

// Hyperparameters from a GGUF file's metadata (gpt2.* keys; vocab from token_embd.weight).
HParams readGgufHParams(const std::string& path);

// Loads the weights of a GGUF file (F32, F16, Q8_0 or Q4_0 matrices; F32 vectors) onto `backend`.
// dtype of the big matrices: "auto" (F16 widened to F32, exactly, as Hugging Face computes F16
// weights; F32 and quantized matrices as stored), "f32" (every matrix in F32, quantized ones
// dequantized) or "f16" (F32 and F16 matrices in F16, quantized ones as stored).
Weights loadGgufWeights(const std::string& path, const HParams& hp, ggml_backend_t backend, int nThreads = 1,
                        const std::string& dtype = "auto");

// The tokenizer as GGUF stores it (tokenizer.ggml.*); built in JS (lib/tokens/gguf-vocab.ts).
struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
  std::vector<int32_t> types;
  int32_t eos = -1;
};

// Writes `w` (weights loaded on a CPU backend) and the vocabulary as a GGUF file for llama.cpp's
// "gpt2" architecture.
void writeGguf(Weights& w, const GgufVocab& vocab, const std::string& name, const std::string& outPath);

// True when `path` names a GGUF file (by its extension, else by its magic bytes).
bool isGgufPath(const std::string& path);

}  // namespace layerlens
