#include "llama_control_vector.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "../ggml_handles.hpp"

namespace layerlens {
namespace {

// Adds one file's directions (times its scale) into `data`, as common_control_vector_load_one builds a
// file's buffer and common_control_vector_load adds the buffers up.
void addOne(const ControlVectorFile& file, int32_t& nEmbd, std::vector<float>& data) {
  ggml_context* raw = nullptr;
  gguf_init_params params{/*no_alloc*/ false, &raw};
  GgufPtr gguf(gguf_init_from_file(file.path.c_str(), params));
  ContextPtr ctx(raw);
  if (!gguf) throw std::runtime_error("control vector " + file.path + ": ggml could not read it as a GGUF file");
  const int64_t n = gguf_get_n_tensors(gguf.get());
  for (int64_t i = 0; i < n; ++i) {
    const std::string name = gguf_get_tensor_name(gguf.get(), i);
    int64_t layer = -1;
    const size_t dot = name.find('.');
    if (dot != std::string::npos && name.substr(0, dot) == "direction") {
      try {
        layer = std::stoi(name.substr(dot + 1));
      } catch (...) {
        layer = -1;
      }
    }
    const std::string where = "control vector " + file.path + ": tensor " + name;
    if (layer < 1) throw std::runtime_error(where + " is not direction.N with N >= 1");
    if (layer > (int64_t(1) << 16)) throw std::runtime_error(where + ": N is beyond any model's blocks");
    const ggml_tensor* t = ggml_get_tensor(ctx.get(), name.c_str());
    if (!t || t->type != GGML_TYPE_F32) throw std::runtime_error(where + " is not F32");
    if (ggml_n_dims(t) != 1) throw std::runtime_error(where + " is not 1-D");
    const int64_t width = ggml_nelements(t);
    if (nEmbd < 0) nEmbd = int32_t(width);
    if (width != nEmbd)
      throw std::runtime_error(where + " has " + std::to_string(width) + " values, the others " +
                               std::to_string(nEmbd));
    data.resize(std::max(data.size(), size_t(nEmbd) * size_t(layer)), 0.0f);
    const float* src = static_cast<const float*>(t->data);
    float* dst = data.data() + size_t(nEmbd) * size_t(layer - 1);       // block 1 at 0
    for (int64_t j = 0; j < width; ++j) dst[j] += src[j] * file.scale;  // the same N twice adds up
  }
}

}  // namespace

std::vector<float> loadControlVectorFiles(const std::vector<ControlVectorFile>& files, int32_t& nEmbd) {
  std::vector<float> sum;
  for (const ControlVectorFile& f : files) addOne(f, nEmbd, sum);
  return sum;
}

}  // namespace layerlens
