#include "gguf_model.hpp"

#include "page_buffer.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "gguf.h"

namespace layerlens {
namespace {

// Opens the metadata and tensor descriptions only (no data is read).
GgufPtr openGguf(const std::string& path, ContextPtr& meta) {
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw std::runtime_error("cannot open " + path);
    char magic[4] = {};
    probe.read(magic, 4);
    if (!probe || std::string(magic, 4) != "GGUF") throw std::runtime_error(path + ": not a GGUF file (bad magic)");
  }
  ggml_context* raw = nullptr;
  gguf_init_params params{};
  params.no_alloc = true;
  params.ctx = &raw;
  GgufPtr ctx(gguf_init_from_file(path.c_str(), params));
  meta.reset(raw);
  if (!ctx) throw std::runtime_error(path + ": malformed GGUF file (ggml's parser rejected it; see its message above)");
  return ctx;
}

int64_t keyOrThrow(const gguf_context* ctx, const std::string& key, const std::string& path) {
  const int64_t id = gguf_find_key(ctx, key.c_str());
  if (id < 0) throw std::runtime_error(path + ": GGUF metadata has no '" + key + "'");
  return id;
}

uint64_t uintValue(const gguf_context* ctx, const std::string& key, const std::string& path) {
  const int64_t id = keyOrThrow(ctx, key, path);
  switch (gguf_get_kv_type(ctx, id)) {
    case GGUF_TYPE_UINT32: return gguf_get_val_u32(ctx, id);
    case GGUF_TYPE_INT32: {
      const int32_t v = gguf_get_val_i32(ctx, id);
      if (v < 0) break;
      return uint64_t(v);
    }
    case GGUF_TYPE_UINT64: return gguf_get_val_u64(ctx, id);
    default: break;
  }
  throw std::runtime_error(path + ": GGUF metadata '" + key + "' is not a non-negative integer");
}

}  // namespace

// By extension, else by magic: Ollama stores its GGUFs as blobs/sha256-<hex>, without an extension.
bool isGgufPath(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) return true;
  std::ifstream probe(path, std::ios::binary);
  char magic[4] = {};
  return probe.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

HParams readGgufHParams(const std::string& path) {
  ContextPtr meta;
  GgufPtr ctx = openGguf(path, meta);
  const int64_t arch = keyOrThrow(ctx.get(), "general.architecture", path);
  if (gguf_get_kv_type(ctx.get(), arch) != GGUF_TYPE_STRING ||
      std::string(gguf_get_val_str(ctx.get(), arch)) != "gpt2") {
    throw std::runtime_error(path + ": general.architecture is not \"gpt2\"; layerlens runs GPT-2 models");
  }
  HParams hp;
  auto asInt = [&](const char* key) {
    const uint64_t v = uintValue(ctx.get(), key, path);
    if (v > (1u << 30)) throw std::runtime_error(path + ": GGUF metadata '" + key + "' is implausibly large");
    return int32_t(v);
  };
  hp.nLayer = asInt("gpt2.block_count");
  hp.nEmbd = asInt("gpt2.embedding_length");
  hp.nHead = asInt("gpt2.attention.head_count");
  hp.nCtx = asInt("gpt2.context_length");
  const int64_t epsId = gguf_find_key(ctx.get(), "gpt2.attention.layer_norm_epsilon");
  if (epsId >= 0 && gguf_get_kv_type(ctx.get(), epsId) == GGUF_TYPE_FLOAT32)
    hp.eps = gguf_get_val_f32(ctx.get(), epsId);
  const ggml_tensor* wte = ggml_get_tensor(meta.get(), "token_embd.weight");
  if (!wte) throw std::runtime_error(path + ": GGUF file has no token_embd.weight");
  hp.nVocab = int32_t(wte->ne[1]);
  hp.validate();
  return hp;
}

Weights loadGgufWeights(const std::string& path, const HParams& hp, ggml_backend_t backend, int nThreads,
                        const std::string& dtype) {
  if (dtype != "auto" && dtype != "f32" && dtype != "f16") {
    throw std::invalid_argument("dtype for a GGUF file must be 'auto', 'f32' or 'f16', got '" + dtype +
                                "' (quantize from the safetensors checkpoint instead: layerlens convert --type q8_0)");
  }
  hp.validate();
  ContextPtr meta;
  GgufPtr ctx = openGguf(path, meta);
  if (ggml_get_tensor(meta.get(), "output.weight")) {
    throw std::runtime_error(path + ": has a separate output.weight; layerlens supports GPT-2's tied unembedding only");
  }
  Weights w;
  w.hp = hp;
  w.blocks.resize(hp.nLayer);
  const std::vector<WeightSlot> slots = weightSlots(w);
  std::vector<ggml_type> fileTypes, types, blockTypes;
  std::vector<std::string> blockTypeNames;
  for (const WeightSlot& s : slots) {
    const ggml_tensor* t = ggml_get_tensor(meta.get(), s.ggufName.c_str());
    if (!t) throw std::runtime_error(path + ": GGUF file has no tensor '" + s.ggufName + "'");
    const auto ne = ggmlShape(s);
    if (t->ne[0] != ne[0] || t->ne[1] != ne[1] || t->ne[2] != 1 || t->ne[3] != 1) {
      throw std::runtime_error(path + ": tensor '" + s.ggufName + "' has shape [" + std::to_string(t->ne[0]) + ", " +
                               std::to_string(t->ne[1]) + "] but the metadata implies [" + std::to_string(ne[0]) +
                               ", " + std::to_string(ne[1]) + "]");
    }
    const bool okMatrix =
        t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_Q8_0 || t->type == GGML_TYPE_Q4_0;
    if (s.matrix ? !okMatrix : t->type != GGML_TYPE_F32) {
      throw std::runtime_error(
          path + ": tensor '" + s.ggufName + "' has type " + ggml_type_name(t->type) +
          (s.matrix ? "; layerlens reads f32, f16, q8_0 and q4_0 matrices" : "; vectors must be f32"));
    }
    // F16 is computed in F32 unless asked otherwise (as Hugging Face computes F16 checkpoints);
    // quantized types stay unless 'f32' asks for everything in F32.
    ggml_type type = t->type;
    if (s.matrix && dtype == "f32") type = GGML_TYPE_F32;
    else if (s.matrix && dtype == "f16" && !ggml_is_quantized(type)) type = GGML_TYPE_F16;
    else if (type == GGML_TYPE_F16) type = GGML_TYPE_F32;
    fileTypes.push_back(t->type);
    types.push_back(type);
    if (s.matrix && s.slot != &w.wte) {
      blockTypes.push_back(type);
      blockTypeNames.push_back(ggml_type_name(t->type));
    }
  }
  // The blocks' matrices decide what attn_head_out may use and what ModelInfo.dtype says; token_embd
  // may legitimately differ (llama.cpp's quantizer often keeps it at a higher precision).
  w.matrixType = leastPreciseType(blockTypes);
  w.fileDtype = "GGUF " + describeMatrixTypes(ggml_type_name(fileTypes[0]), blockTypeNames);
  allocateWeights(w, slots, types, backend);

  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  file.seekg(0, std::ios::end);
  const uint64_t fileSize = uint64_t(file.tellg());
  const size_t dataOffset = gguf_get_data_offset(ctx.get());
  const bool hostBuffer = ggml_backend_buffer_is_host(w.buffer.get());
  PageBuffer staging, converted;
  for (size_t i = 0; i < slots.size(); ++i) {
    ggml_tensor* tensor = *slots[i].slot;
    const int64_t id = gguf_find_tensor(ctx.get(), slots[i].ggufName.c_str());
    const uint64_t begin = dataOffset + gguf_get_tensor_offset(ctx.get(), id);
    const int64_t rows = weightRows(w, tensor), perRow = tensor->ne[0];
    const size_t fileRowBytes = ggml_row_size(fileTypes[i], perRow), bytes = fileRowBytes * size_t(rows);
    if (begin > fileSize || bytes > fileSize - begin) {
      throw std::runtime_error(path + ": tensor '" + slots[i].ggufName +
                               "' lies past the end of the file (truncated?)");
    }
    file.seekg(std::streamoff(begin));
    file.read(reinterpret_cast<char*>(staging.ensure(bytes)), std::streamsize(bytes));
    if (!file) throw std::runtime_error(path + ": read failed for tensor '" + slots[i].ggufName + "'");
    if (fileTypes[i] == tensor->type) {
      ggml_backend_tensor_set(tensor, staging.data(), 0, bytes);
      continue;
    }
    // A changed type: F16 widened or quantized types dequantized (both exact) to F32, or F32 narrowed to F16.
    const size_t outBytes = weightBytes(w, tensor);
    uint8_t* dst = hostBuffer ? static_cast<uint8_t*>(tensor->data) : converted.ensure(outBytes);
    const uint8_t* src = staging.data();
    const size_t outRowBytes = ggml_row_size(tensor->type, perRow);
    parallelFor(
        size_t(rows), nThreads,
        [&](size_t r0, size_t r1) {
          for (size_t r = r0; r < r1; ++r) {
            const uint8_t* in = src + r * fileRowBytes;
            uint8_t* out = dst + r * outRowBytes;
            if (tensor->type == GGML_TYPE_F32) {
              ggml_get_type_traits(fileTypes[i])->to_float(in, reinterpret_cast<float*>(out), perRow);
            } else {
              ggml_fp32_to_fp16_row(reinterpret_cast<const float*>(in), reinterpret_cast<ggml_fp16_t*>(out), perRow);
            }
          }
        },
        64);
    if (!hostBuffer) ggml_backend_tensor_set(tensor, dst, 0, outBytes);
  }
  return w;
}

void writeGguf(Weights& w, const GgufVocab& vocab, const std::string& name, const std::string& outPath) {
  GgufPtr ctx(gguf_init_empty());
  gguf_context* g = ctx.get();
  gguf_set_val_str(g, "general.architecture", "gpt2");
  gguf_set_val_str(g, "general.name", name.c_str());
  gguf_set_val_u32(g, "general.file_type",
                   w.matrixType == GGML_TYPE_F16    ? 1u
                   : w.matrixType == GGML_TYPE_Q8_0 ? 7u
                                                    : 0u);
  gguf_set_val_u32(g, "general.quantization_version", 2);
  gguf_set_val_u32(g, "gpt2.block_count", uint32_t(w.hp.nLayer));
  gguf_set_val_u32(g, "gpt2.context_length", uint32_t(w.hp.nCtx));
  gguf_set_val_u32(g, "gpt2.embedding_length", uint32_t(w.hp.nEmbd));
  gguf_set_val_u32(g, "gpt2.feed_forward_length", uint32_t(4 * w.hp.nEmbd));
  gguf_set_val_u32(g, "gpt2.attention.head_count", uint32_t(w.hp.nHead));
  gguf_set_val_f32(g, "gpt2.attention.layer_norm_epsilon", w.hp.eps);

  if (!vocab.tokens.empty()) {
    if (vocab.tokens.size() != size_t(w.hp.nVocab) || vocab.types.size() != vocab.tokens.size()) {
      throw std::invalid_argument("GGUF vocabulary: " + std::to_string(vocab.tokens.size()) +
                                  " tokens for a model with vocab_size " + std::to_string(w.hp.nVocab));
    }
    auto cstrs = [](const std::vector<std::string>& v) {
      std::vector<const char*> out;
      for (const std::string& x : v) out.push_back(x.c_str());
      return out;
    };
    gguf_set_val_str(g, "tokenizer.ggml.model", "gpt2");
    gguf_set_val_str(g, "tokenizer.ggml.pre", "gpt-2");
    std::vector<const char*> tokens = cstrs(vocab.tokens), merges = cstrs(vocab.merges);
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", tokens.data(), tokens.size());
    gguf_set_arr_str(g, "tokenizer.ggml.merges", merges.data(), merges.size());
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, vocab.types.data(), vocab.types.size());
    if (vocab.eos >= 0) {
      gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", uint32_t(vocab.eos));
      gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", uint32_t(vocab.eos));
    }
  }

  // Tensors under their llama.cpp names, in ggml's layout, without wte's padding rows.
  const std::vector<WeightSlot> slots = weightSlots(w);
  ContextPtr meta = makeMetaContext(slots.size());
  std::vector<std::vector<uint8_t>> data(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const ggml_tensor* src = *slots[i].slot;
    const auto ne = ggmlShape(slots[i]);
    ggml_tensor* t = slots[i].hfShape.size() == 1 ? ggml_new_tensor_1d(meta.get(), src->type, ne[0])
                                                  : ggml_new_tensor_2d(meta.get(), src->type, ne[0], ne[1]);
    ggml_set_name(t, slots[i].ggufName.c_str());
    data[i].resize(weightBytes(w, src));
    ggml_backend_tensor_get(src, data[i].data(), 0, data[i].size());
    gguf_add_tensor(g, t);
    gguf_set_tensor_data(g, slots[i].ggufName.c_str(), data[i].data());
  }
  const std::string tmp = outPath + ".partial";
  if (!gguf_write_to_file(g, tmp.c_str(), false)) {
    std::remove(tmp.c_str());
    throw std::runtime_error("could not write " + outPath);
  }
  if (std::rename(tmp.c_str(), outPath.c_str()) != 0)
    throw std::runtime_error("could not rename " + tmp + " to " + outPath);
}

}  // namespace layerlens
