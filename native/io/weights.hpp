// GPT-2 weights as ggml tensors in one backend buffer, loaded from a Hugging Face safetensors file.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "../ggml_handles.hpp"
#include "hparams.hpp"

namespace layerlens {

struct BlockWeights {
  ggml_tensor* ln1Weight = nullptr;       // [d]
  ggml_tensor* ln1Bias = nullptr;         // [d]
  ggml_tensor* attnQkvWeight = nullptr;   // ne = [d, 3d]  (HF c_attn [d, 3d] transposed)
  ggml_tensor* attnQkvBias = nullptr;     // [3d]
  ggml_tensor* attnProjWeight = nullptr;  // ne = [d, d]
  ggml_tensor* attnProjBias = nullptr;    // [d]
  ggml_tensor* ln2Weight = nullptr;
  ggml_tensor* ln2Bias = nullptr;
  ggml_tensor* mlpFcWeight = nullptr;    // ne = [d, 4d]
  ggml_tensor* mlpFcBias = nullptr;      // [4d]
  ggml_tensor* mlpProjWeight = nullptr;  // ne = [4d, d]
  ggml_tensor* mlpProjBias = nullptr;    // [d]
};

struct Weights {
  HParams hp;
  // ne = [d, vocabPadded]; also the (tied) unembedding. Rows past n_vocab are zero: with a row count
  // divisible by 16, ggml's tinyBLAS kernels take the unembedding matmul (50257 rows would fall
  // back to a vec_dot loop ~3x slower). Logits therefore come with vocabPadded rows.
  ggml_tensor* wte = nullptr;
  int64_t vocabPadded = 0;
  ggml_tensor* wpe = nullptr;  // ne = [d, n_ctx]
  ggml_tensor* lnfWeight = nullptr;
  ggml_tensor* lnfBias = nullptr;
  std::vector<BlockWeights> blocks;
  // The type the blocks' matrices are stored and multiplied in (the least precise of them when they
  // differ): what the attn_head_out guard and ModelInfo.dtype go by.
  ggml_type matrixType = GGML_TYPE_F32;
  // The file's own types of the big matrices: "F32", "F16", "BF16" (safetensors), "GGUF q8_0" ...;
  // when they differ, the blocks' types and then the token embedding's, e.g. "GGUF q8_0 (token_embd f16)".
  std::string fileDtype;
  size_t bytes = 0;  // size of the weight buffer

  ContextPtr ctx;
  BufferPtr buffer;
};

// Reads `path` (a .safetensors file), checks every tensor against `hp`, and uploads the weights
// into a buffer of `backend`. Throws std::runtime_error with a message naming the file and tensor.
// One GPT-2 tensor: its Hugging Face key (without "transformer."), its GGUF (llama.cpp) name, its
// Hugging Face shape, and where it goes. Conv1D weights are stored [in, out] by Hugging Face and
// transposed at load (ggml wants ne0 = in); GGUF files already hold ggml's layout.
struct WeightSlot {
  std::string hfKey;
  std::string ggufName;
  std::vector<uint64_t> hfShape;
  bool conv1d;
  bool matrix;  // a big matrix (takes the chosen dtype); vectors are always f32
  ggml_tensor** slot;
};

// Every tensor of `w` (w.hp set, w.blocks sized), in file order.
std::vector<WeightSlot> weightSlots(Weights& w);

// ggml's [ne0, ne1] for a slot (ne1 = 1 for vectors), before wte's padding.
std::array<int64_t, 2> ggmlShape(const WeightSlot& s);

// Creates the tensors of `slots` with `types` (wte padded, its padding zeroed) and allocates them on `backend`.
void allocateWeights(Weights& w, const std::vector<WeightSlot>& slots, const std::vector<ggml_type>& types,
                     ggml_backend_t backend);

// Rows and bytes of real data in a weight tensor (wte's padding excluded).
int64_t weightRows(const Weights& w, const ggml_tensor* t);
size_t weightBytes(const Weights& w, const ggml_tensor* t);

// dtype of the big matrices: "auto" or "f32" (F16 and BF16 widened to F32, exactly: Hugging Face's
// numerics), "f16" or "q8_0" (converted while loading, for memory).
Weights loadSafetensorsWeights(const std::string& path, const HParams& hp, ggml_backend_t backend, int nThreads,
                               const std::string& dtype = "auto");

// The least precise of `types` (fewest bits per weight).
ggml_type leastPreciseType(const std::vector<ggml_type>& types);

// fileDtype's text from the token embedding's type name and each block matrix's.
std::string describeMatrixTypes(const std::string& embedding, const std::vector<std::string>& blocks);

// Runs fn(begin, end) over [0, n) split across up to nThreads threads; `grain` is the least
// amount of work worth a thread.
void parallelFor(size_t n, int nThreads, const std::function<void(size_t, size_t)>& fn, size_t grain = 65536);

// Copies a weight tensor back to the host as float32 (row-major in ggml's ne order).
std::vector<float> weightToFloat32(const ggml_tensor* t);

}  // namespace layerlens
