#include "weights.hpp"

#include "page_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "safetensors.hpp"

namespace layerlens {
namespace {

std::string shapeText(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Ignored entries: attention-mask buffers that older transformers versions saved, and the
// tied lm_head copy some exporters write.
bool isIgnoredKey(const std::string& key) {
  auto endsWith = [&](const char* suffix) {
    size_t n = std::strlen(suffix);
    return key.size() >= n && key.compare(key.size() - n, n, suffix) == 0;
  };
  return endsWith(".attn.bias") || endsWith(".attn.masked_bias") || key == "lm_head.weight";
}

// Faulting in 4 KiB pages is a large share of loading time; ask for transparent huge pages on the
// weight buffer where the OS offers them (Linux with THP in "madvise" mode). Purely an optimisation.
void adviseHugePages(void* base, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t page = 2u << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(base) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(base) + bytes) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)base;
  (void)bytes;
#endif
}

float bf16ToF32(uint16_t v) {
  uint32_t bits = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Converts `src` (dtype `from`, logical HF shape [rows, cols] or a vector) into the
// destination layout: dtype `to`, transposed when `transpose` is set.
void convertTensor(const uint8_t* src, DType from, uint8_t* dst, ggml_type to, uint64_t rows, uint64_t cols,
                   bool transpose, int nThreads) {
  auto loadF32 = [&](uint64_t i) -> float {
    switch (from) {
      case DType::F32: {
        float f;
        std::memcpy(&f, src + 4 * i, 4);
        return f;
      }
      case DType::F16: {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        return ggml_fp16_to_fp32(h);
      }
      case DType::BF16: {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        return bf16ToF32(h);
      }
      default: throw std::logic_error("unsupported dtype reached convertTensor");
    }
  };
  const bool sameBits = (from == DType::F32 && to == GGML_TYPE_F32) || (from == DType::F16 && to == GGML_TYPE_F16);
  const size_t elt = ggml_type_size(to);
  const uint64_t n = rows * cols;
  if (!transpose) {
    if (sameBits) {
      std::memcpy(dst, src, n * elt);
      return;
    }
    if (from == DType::F16 && to == GGML_TYPE_F32) {  // the default load of F16 files: ggml's vectorised widening
      parallelFor(n, nThreads, [&](size_t b, size_t e) {
        ggml_fp16_to_fp32_row(reinterpret_cast<const ggml_fp16_t*>(src) + b, reinterpret_cast<float*>(dst) + b,
                              int64_t(e - b));
      });
      return;
    }
    parallelFor(n, nThreads, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        float v = loadF32(i);
        if (to == GGML_TYPE_F32) std::memcpy(dst + 4 * i, &v, 4);
        else {
          ggml_fp16_t h = ggml_fp32_to_fp16(v);
          std::memcpy(dst + 2 * i, &h, 2);
        }
      }
    });
    return;
  }
  // Transpose [rows=in, cols=out] -> [out][in] in small tiles: both sides stay in cache, and with
  // power-of-two strides a tile of 8 lines still fits in a cache set's ways.
  auto transposeTiles = [&](auto&& move) {
    constexpr uint64_t T = 8;
    parallelFor((cols + T - 1) / T, nThreads,
                [&](size_t tb, size_t te) {
                  for (uint64_t c0 = tb * T; c0 < std::min<uint64_t>(cols, te * T); c0 += T) {
                    const uint64_t c1 = std::min(cols, c0 + T);
                    for (uint64_t r0 = 0; r0 < rows; r0 += T) {
                      const uint64_t r1 = std::min(rows, r0 + T);
                      for (uint64_t c = c0; c < c1; ++c) {
                        for (uint64_t r = r0; r < r1; ++r) move(c * rows + r, r * cols + c);
                      }
                    }
                  }
                },
                16);
  };
  if (from == DType::F32 && to == GGML_TYPE_F32) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    transposeTiles([&](uint64_t di, uint64_t si) { d[di] = s[si]; });
  } else if (from == DType::F16 && to == GGML_TYPE_F16) {
    const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
    uint16_t* d = reinterpret_cast<uint16_t*>(dst);
    transposeTiles([&](uint64_t di, uint64_t si) { d[di] = s[si]; });
  } else if (from == DType::F16 && to == GGML_TYPE_F32) {
    // Every F16 value widened once into a table (exact); the transpose then only looks values up.
    std::vector<float> widened(1 << 16);
    for (uint32_t h = 0; h < widened.size(); ++h) widened[h] = ggml_fp16_to_fp32(ggml_fp16_t(h));
    const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
    float* d = reinterpret_cast<float*>(dst);
    transposeTiles([&](uint64_t di, uint64_t si) { d[di] = widened[s[si]]; });
  } else if (to == GGML_TYPE_F32) {
    float* d = reinterpret_cast<float*>(dst);
    transposeTiles([&](uint64_t di, uint64_t si) { d[di] = loadF32(si); });
  } else {
    ggml_fp16_t* d = reinterpret_cast<ggml_fp16_t*>(dst);
    transposeTiles([&](uint64_t di, uint64_t si) { d[di] = ggml_fp32_to_fp16(loadF32(si)); });
  }
}

}  // namespace

void parallelFor(size_t n, int nThreads, const std::function<void(size_t, size_t)>& fn, size_t grain) {
  int t = std::max(1, std::min<int>(nThreads, int(n / grain) + 1));
  if (t == 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> pool;
  size_t chunk = (n + t - 1) / t;
  for (int i = 0; i < t; ++i) {
    size_t b = i * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back(fn, b, e);
  }
  for (auto& th : pool) th.join();
}

ggml_type leastPreciseType(const std::vector<ggml_type>& types) {
  if (types.empty()) throw std::logic_error("leastPreciseType of no types");
  auto bitsPerWeight = [](ggml_type t) { return double(ggml_type_size(t)) * 8.0 / double(ggml_blck_size(t)); };
  ggml_type least = types[0];
  for (ggml_type t : types) {
    if (bitsPerWeight(t) < bitsPerWeight(least)) least = t;
  }
  return least;
}

std::string describeMatrixTypes(const std::string& embedding, const std::vector<std::string>& blocks) {
  std::vector<std::string> distinct;
  for (const std::string& b : blocks) {
    if (std::find(distinct.begin(), distinct.end(), b) == distinct.end()) distinct.push_back(b);
  }
  if (distinct.empty() || (distinct.size() == 1 && distinct[0] == embedding)) return embedding;
  std::string out;
  for (const std::string& d : distinct) out += (out.empty() ? "" : "/") + d;
  return out + " (token embedding " + embedding + ")";
}

std::vector<WeightSlot> weightSlots(Weights& w) {
  const uint64_t d = w.hp.nEmbd, V = w.hp.nVocab, C = w.hp.nCtx;
  std::vector<WeightSlot> slots = {
      {"wte.weight", "token_embd.weight", {V, d}, false, true, &w.wte},
      {"wpe.weight", "position_embd.weight", {C, d}, false, false, &w.wpe},
      {"ln_f.weight", "output_norm.weight", {d}, false, false, &w.lnfWeight},
      {"ln_f.bias", "output_norm.bias", {d}, false, false, &w.lnfBias},
  };
  for (int l = 0; l < w.hp.nLayer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".", g = "blk." + std::to_string(l) + ".";
    BlockWeights& b = w.blocks[l];
    slots.push_back({p + "ln_1.weight", g + "attn_norm.weight", {d}, false, false, &b.ln1Weight});
    slots.push_back({p + "ln_1.bias", g + "attn_norm.bias", {d}, false, false, &b.ln1Bias});
    slots.push_back({p + "attn.c_attn.weight", g + "attn_qkv.weight", {d, 3 * d}, true, true, &b.attnQkvWeight});
    slots.push_back({p + "attn.c_attn.bias", g + "attn_qkv.bias", {3 * d}, false, false, &b.attnQkvBias});
    slots.push_back({p + "attn.c_proj.weight", g + "attn_output.weight", {d, d}, true, true, &b.attnProjWeight});
    slots.push_back({p + "attn.c_proj.bias", g + "attn_output.bias", {d}, false, false, &b.attnProjBias});
    slots.push_back({p + "ln_2.weight", g + "ffn_norm.weight", {d}, false, false, &b.ln2Weight});
    slots.push_back({p + "ln_2.bias", g + "ffn_norm.bias", {d}, false, false, &b.ln2Bias});
    slots.push_back({p + "mlp.c_fc.weight", g + "ffn_up.weight", {d, 4 * d}, true, true, &b.mlpFcWeight});
    slots.push_back({p + "mlp.c_fc.bias", g + "ffn_up.bias", {4 * d}, false, false, &b.mlpFcBias});
    slots.push_back({p + "mlp.c_proj.weight", g + "ffn_down.weight", {4 * d, d}, true, true, &b.mlpProjWeight});
    slots.push_back({p + "mlp.c_proj.bias", g + "ffn_down.bias", {d}, false, false, &b.mlpProjBias});
  }
  return slots;
}

std::array<int64_t, 2> ggmlShape(const WeightSlot& s) {
  if (s.hfShape.size() == 1) return {int64_t(s.hfShape[0]), 1};
  if (s.conv1d) return {int64_t(s.hfShape[0]), int64_t(s.hfShape[1])};
  return {int64_t(s.hfShape[1]), int64_t(s.hfShape[0])};
}

void allocateWeights(Weights& w, const std::vector<WeightSlot>& slots, const std::vector<ggml_type>& types,
                     ggml_backend_t backend) {
  w.vocabPadded = (w.hp.nVocab + 15) / 16 * 16;
  w.ctx = makeMetaContext(slots.size());
  if (!w.ctx) throw std::runtime_error("ggml_init failed for the weight context");
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto ne = ggmlShape(slots[i]);
    // wte gets zero rows up to vocabPadded (see weights.hpp); the other tensors are as stored.
    const int64_t rows = slots[i].slot == &w.wte ? w.vocabPadded : ne[1];
    ggml_tensor* tensor = slots[i].hfShape.size() == 1 ? ggml_new_tensor_1d(w.ctx.get(), types[i], ne[0])
                                                       : ggml_new_tensor_2d(w.ctx.get(), types[i], ne[0], rows);
    ggml_set_name(tensor, slots[i].hfKey.c_str());
    *slots[i].slot = tensor;
  }
  w.buffer.reset(ggml_backend_alloc_ctx_tensors(w.ctx.get(), backend));
  if (!w.buffer) throw std::runtime_error("could not allocate the weight buffer on the backend (out of memory?)");
  ggml_backend_buffer_set_usage(w.buffer.get(), GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
  w.bytes = ggml_backend_buffer_get_size(w.buffer.get());
  // The padding rows of wte must be zero: they take part in the unembedding matmul.
  const size_t real = weightBytes(w, w.wte);
  if (real < ggml_nbytes(w.wte)) ggml_backend_tensor_memset(w.wte, 0, real, ggml_nbytes(w.wte) - real);
}

int64_t weightRows(const Weights& w, const ggml_tensor* t) { return t == w.wte ? int64_t(w.hp.nVocab) : t->ne[1]; }

size_t weightBytes(const Weights& w, const ggml_tensor* t) {
  return ggml_row_size(t->type, t->ne[0]) * size_t(weightRows(w, t));
}

Weights loadSafetensorsWeights(const std::string& path, const HParams& hp, ggml_backend_t backend, int nThreads,
                               const std::string& dtype) {
  if (dtype != "auto" && dtype != "f32" && dtype != "f16" && dtype != "q8_0") {
    throw std::invalid_argument("dtype must be 'auto', 'f32', 'f16' or 'q8_0', got '" + dtype + "'");
  }
  if (dtype == "q8_0" && hp.nEmbd % ggml_blck_size(GGML_TYPE_Q8_0) != 0) {
    throw std::invalid_argument("dtype q8_0 needs n_embd divisible by " +
                                std::to_string(ggml_blck_size(GGML_TYPE_Q8_0)));
  }
  hp.validate();
  SafetensorsHeader header = readSafetensorsFile(path);

  // Index the file's tensors by name without the optional "transformer." prefix.
  std::map<std::string, const TensorInfo*> byKey;
  for (const TensorInfo& t : header.tensors) {
    std::string key = t.name.rfind("transformer.", 0) == 0 ? t.name.substr(12) : t.name;
    if (isIgnoredKey(key)) continue;
    if (!byKey.emplace(key, &t).second) {
      throw std::runtime_error(path + ": tensor '" + key + "' appears both with and without the 'transformer.' prefix");
    }
  }

  Weights w;
  w.hp = hp;
  w.blocks.resize(hp.nLayer);
  const std::vector<WeightSlot> expected = weightSlots(w);

  // Check presence, dtype and shape of everything before allocating anything.
  std::vector<const TensorInfo*> infos;
  infos.reserve(expected.size());
  std::string missing;
  int nMissing = 0;
  for (const WeightSlot& e : expected) {
    auto it = byKey.find(e.hfKey);
    if (it == byKey.end()) {
      if (nMissing++ < 5) missing += (missing.empty() ? "" : ", ") + e.hfKey;
      infos.push_back(nullptr);
      continue;
    }
    const TensorInfo& t = *it->second;
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16) {
      throw std::runtime_error(path + ": tensor '" + t.name + "' has dtype " + dtypeName(t.dtype) +
                               "; layerlens reads F32, F16 and BF16 checkpoints");
    }
    if (t.shape != e.hfShape) {
      throw std::runtime_error(
          path + ": tensor '" + t.name + "' has shape " + shapeText(t.shape) + " but config.json implies " +
          shapeText(e.hfShape) + " (n_layer=" + std::to_string(hp.nLayer) + ", n_embd=" + std::to_string(hp.nEmbd) +
          ", vocab_size=" + std::to_string(hp.nVocab) + ", n_positions=" + std::to_string(hp.nCtx) + ")");
    }
    infos.push_back(&t);
  }
  if (nMissing > 0) {
    throw std::runtime_error(path + ": not a GPT-2 checkpoint for this config.json: " + std::to_string(nMissing) +
                             " expected tensor(s) missing (" + missing + (nMissing > 5 ? ", ..." : "") + ")");
  }

  // Hugging Face loads F16 and BF16 weights into float32 and computes in float32: 'auto' (and 'f32')
  // do the same (the widening is exact). 'f16' and 'q8_0' convert the big matrices while loading,
  // trading precision for memory. Vectors (wpe, LayerNorm, biases) are always F32.
  w.matrixType = dtype == "f16" ? GGML_TYPE_F16 : dtype == "q8_0" ? GGML_TYPE_Q8_0 : GGML_TYPE_F32;
  std::vector<ggml_type> types;
  std::vector<std::string> blockDtypes;
  for (size_t i = 0; i < expected.size(); ++i) {
    types.push_back(expected[i].matrix ? w.matrixType : GGML_TYPE_F32);
    if (expected[i].matrix && expected[i].slot != &w.wte) blockDtypes.push_back(dtypeName(infos[i]->dtype));
  }
  w.fileDtype = describeMatrixTypes(dtypeName(infos[0]->dtype), blockDtypes);
  allocateWeights(w, expected, types, backend);

  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  // On a host buffer (CPU backend) tensors are written in place; otherwise staged and uploaded.
  const bool hostBuffer = ggml_backend_buffer_is_host(w.buffer.get());
  if (hostBuffer) adviseHugePages(ggml_backend_buffer_get_base(w.buffer.get()), w.bytes);
  PageBuffer raw, converted;
  PageBuffer staging;  // f32 rows on their way to a quantized type
  for (size_t i = 0; i < expected.size(); ++i) {
    const WeightSlot& e = expected[i];
    const TensorInfo& t = *infos[i];
    ggml_tensor* tensor = *e.slot;
    const uint64_t nbytes = t.end - t.begin;
    const uint64_t rows = e.hfShape[0], cols = e.hfShape.size() > 1 ? e.hfShape[1] : 1;
    const int64_t realRows = weightRows(w, tensor);
    const size_t outBytes = weightBytes(w, tensor);
    const bool direct = !e.conv1d && ((t.dtype == DType::F32 && tensor->type == GGML_TYPE_F32) ||
                                      (t.dtype == DType::F16 && tensor->type == GGML_TYPE_F16));
    uint8_t* readInto;
    if (direct && hostBuffer) {
      readInto = static_cast<uint8_t*>(tensor->data);
    } else {
      readInto = raw.ensure(nbytes);
    }
    file.seekg(std::streamoff(t.begin));
    file.read(reinterpret_cast<char*>(readInto), std::streamsize(nbytes));
    if (!file) throw std::runtime_error(path + ": read failed for tensor '" + t.name + "' (file truncated?)");
    if (direct) {
      if (!hostBuffer) ggml_backend_tensor_set(tensor, raw.data(), 0, outBytes);
      continue;
    }
    uint8_t* dst = hostBuffer ? static_cast<uint8_t*>(tensor->data) : nullptr;
    if (!dst) {
      dst = converted.ensure(outBytes);
    }
    if (ggml_is_quantized(tensor->type)) {
      // To f32 in ggml's layout first, then quantize row by row (ne0 = the input dimension).
      float* f32 = reinterpret_cast<float*>(staging.ensure(size_t(rows * cols) * sizeof(float)));
      convertTensor(raw.data(), t.dtype, reinterpret_cast<uint8_t*>(f32), GGML_TYPE_F32, rows, cols, e.conv1d,
                    nThreads);
      const int64_t perRow = tensor->ne[0];
      parallelFor(
          size_t(realRows), nThreads,
          [&](size_t r0, size_t r1) {
            ggml_quantize_chunk(tensor->type, f32 + r0 * perRow, dst + r0 * ggml_row_size(tensor->type, perRow), 0,
                                int64_t(r1 - r0), perRow, nullptr);
          },
          64);
    } else {
      convertTensor(raw.data(), t.dtype, dst, tensor->type, rows, cols, e.conv1d, nThreads);
    }
    if (!hostBuffer) ggml_backend_tensor_set(tensor, converted.data(), 0, outBytes);
  }
  return w;
}

std::vector<float> weightToFloat32(const ggml_tensor* t) {
  const size_t n = size_t(ggml_nelements(t));
  std::vector<float> out(n);
  if (t->type == GGML_TYPE_F32) {
    ggml_backend_tensor_get(t, out.data(), 0, n * 4);
  } else if (t->type == GGML_TYPE_F16) {
    std::vector<ggml_fp16_t> half(n);
    ggml_backend_tensor_get(t, half.data(), 0, n * 2);
    ggml_fp16_to_fp32_row(half.data(), out.data(), int64_t(n));
  } else if (ggml_is_quantized(t->type)) {
    std::vector<uint8_t> q(ggml_nbytes(t));
    ggml_backend_tensor_get(t, q.data(), 0, q.size());
    ggml_get_type_traits(t->type)->to_float(q.data(), out.data(), int64_t(n));
  } else {
    throw std::runtime_error(std::string("weightToFloat32: unsupported type ") + ggml_type_name(t->type));
  }
  return out;
}

}  // namespace layerlens
