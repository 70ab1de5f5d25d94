// The lens with a llama.cpp model's own head: its final norm (RMSNorm or LayerNorm, eps and bias from
// the model), its output matrix (tied to the token embedding or not, any weight type), its output bias and
// final logit soft-capping where the architecture has them. Computed by ggml on the CPU, reading the
// head's tensors where llama.cpp loaded them (no copy), in chunks so that a 262k-token vocabulary keeps
// memory bounded; top-k and the measures on the host as for the GPT-2 lens.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "../run_types.hpp"
#include "ggml-backend.h"
#include "llama_hook_map.hpp"

struct llama_model;

namespace layerlens {

struct LensHead {
  ggml_tensor* norm = nullptr;      // final norm weight (may be null: a norm without scale)
  ggml_tensor* normBias = nullptr;  // LayerNorm bias (may be null)
  ggml_tensor* output = nullptr;    // [n_embd, n_vocab] (the token embedding when tied)
  ggml_tensor* outputBias = nullptr;
  FinalNorm normKind = FinalNorm::Rms;
  float eps = 1e-5f;
  float logitScale = 1.0f;  // logits multiplied by this (command-r/cohere/grok: f_logit_scale; granite: its inverse)
  float softcap = 0.0f;     // final logit soft-capping c: c·tanh(z / c); 0 = none
  int32_t nEmbd = 0;
  int32_t nVocab = 0;
};

// Reads the head of a loaded model (llama.cpp's internal model struct, at the pinned commit).
LensHead lensHeadOf(const llama_model* model, const ArchHooks& arch);

class LlamaLens {
 public:
  LlamaLens(LensHead head, int threads);
  ~LlamaLens();
  LlamaLens(const LlamaLens&) = delete;
  LlamaLens& operator=(const LlamaLens&) = delete;

  LensOutput lens(const LensRequest& req);
  // Logits of m vectors ([m, n_embd] row-major), as sink(row, logits) per row.
  void project(const float* vectors, int64_t m, const std::function<void(int64_t, const float*)>& sink);
  const LensHead& head() const { return head_; }

 private:
  LensHead head_;
  ggml_backend_t backend_ = nullptr;
  std::vector<float> logits_;
};

}  // namespace layerlens
