// llama.cpp's control-vector files read the way its `--control-vector` flag reads them
// (common_control_vector_load in llama.cpp's common library, which this build does not compile):
// ggml's own GGUF reader, `direction.N` tensors summed into one buffer, block 1 first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace layerlens {

struct ControlVectorFile {
  std::string path;
  float scale = 1.0f;
};

// The summed buffer for llama_set_adapter_cvec: direction.N × scale at [(N − 1)·n_embd, N·n_embd), as
// long as the highest N of any file. Where llama.cpp's loader logs an error and skips the vectors (a
// tensor not named direction.N with N ≥ 1, not F32, not 1-D, widths that differ), this throws.
std::vector<float> loadControlVectorFiles(const std::vector<ControlVectorFile>& files, int32_t& nEmbd);

}  // namespace layerlens
