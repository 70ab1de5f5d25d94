// RAII owners for the ggml objects layerlens creates.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include "gguf.h"

namespace layerlens {

struct GgmlContextFree {
  void operator()(ggml_context* c) const { ggml_free(c); }
};
struct GgmlBackendFree {
  void operator()(ggml_backend* b) const { ggml_backend_free(b); }
};
struct GgmlBufferFree {
  void operator()(ggml_backend_buffer* b) const { ggml_backend_buffer_free(b); }
};
struct GgmlThreadpoolFree {
  void operator()(ggml_threadpool* p) const { ggml_threadpool_free(p); }
};
struct GgmlSchedFree {
  void operator()(ggml_backend_sched* s) const { ggml_backend_sched_free(s); }
};
struct GgufFree {
  void operator()(gguf_context* c) const { gguf_free(c); }
};

using ContextPtr = std::unique_ptr<ggml_context, GgmlContextFree>;
using BackendPtr = std::unique_ptr<ggml_backend, GgmlBackendFree>;
using BufferPtr = std::unique_ptr<ggml_backend_buffer, GgmlBufferFree>;
using ThreadpoolPtr = std::unique_ptr<ggml_threadpool, GgmlThreadpoolFree>;
using SchedPtr = std::unique_ptr<ggml_backend_sched, GgmlSchedFree>;
using GgufPtr = std::unique_ptr<gguf_context, GgufFree>;

// Memory for a metadata context that outlives it, so that rebuilding the same graph puts every
// tensor at the same address: ggml's CUDA backend recognises a graph it can replay (a CUDA graph)
// by its first node's address and the nodes' properties.
using MetaArena = std::vector<std::max_align_t>;

// A metadata-only context: tensors are described here and allocated in backend buffers. With an
// arena, the context lives in it (grown when too small) instead of in memory of its own.
inline ContextPtr makeMetaContext(size_t nTensors, bool withGraph = false, size_t graphSize = 0,
                                  MetaArena* arena = nullptr) {
  ggml_init_params params{};
  params.mem_size =
      ggml_tensor_overhead() * nTensors + (withGraph ? ggml_graph_overhead_custom(graphSize, false) : 0) + 1024;
  params.mem_buffer = nullptr;
  if (arena) {
    const size_t units = (params.mem_size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
    if (arena->size() < units) arena->resize(units);
    params.mem_buffer = arena->data();
    params.mem_size = arena->size() * sizeof(std::max_align_t);
  }
  params.no_alloc = true;
  return ContextPtr(ggml_init(params));
}

}  // namespace layerlens
