#include "backends.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "ggml-cpu.h"
#include "rpc/endpoints.hpp"

namespace layerlens {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// The registry calls Metal "MTL"; users say "metal".
bool regMatches(ggml_backend_dev_t dev, const std::string& want) {
  std::string reg = lower(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)));
  return reg == want || (want == "metal" && reg == "mtl");
}

ggml_backend_dev_t findGpu(const std::string& want) {
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    auto type = ggml_backend_dev_type(dev);
    if (type != GGML_BACKEND_DEVICE_TYPE_GPU && type != GGML_BACKEND_DEVICE_TYPE_IGPU) continue;
    if (want == "auto" || regMatches(dev, want)) return dev;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> availableGpuBackends() {
  std::vector<std::string> out;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    auto type = ggml_backend_dev_type(dev);
    if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) {
      out.emplace_back(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)));
    }
  }
  return out;
}

// ggml's CUDA backend lets cuBLAS compute f32 products in TF32 (a 10-bit mantissa, ~1e-3 relative
// error), which would break parity with the float64 reference. cuBLAS honours NVIDIA_TF32_OVERRIDE=0
// whatever the handle's math mode; set it unless the user chose a value.
static void keepF32Exact() {
#if defined(LAYERLENS_HAVE_CUDA)
#if defined(_WIN32)
  if (!std::getenv("NVIDIA_TF32_OVERRIDE")) _putenv_s("NVIDIA_TF32_OVERRIDE", "0");
#else
  setenv("NVIDIA_TF32_OVERRIDE", "0", 0);
#endif
#endif
}

Backends Backends::create(const std::string& device, int threads) {
  keepF32Exact();
  const std::string want = lower(device);
  const std::vector<std::string> endpoints = parseRpcDevice(device);
  if (endpoints.size() > 1) {
    throw std::invalid_argument("device '" + device +
                                "': the GPT-2 engine keeps its weights on one device, so it takes one rpc:// server "
                                "(the llama.cpp engine splits a model's layers across several)");
  }
  if (endpoints.empty() && want != "auto" && want != "cpu" && want != "cuda" && want != "metal") {
    throw std::invalid_argument("unknown device '" + device +
                                "': use 'auto', 'cpu', 'cuda', 'metal' or 'rpc://host:port'");
  }
  Backends b;
  b.threads = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  b.cpu.reset(ggml_backend_cpu_init());
  if (!b.cpu) throw std::runtime_error("could not initialise ggml's CPU backend");
  ggml_backend_cpu_set_n_threads(b.cpu.get(), b.threads);
  ggml_threadpool_params tp = ggml_threadpool_params_default(b.threads);
  tp.paused = true;  // no spinning workers while the weights load; the first compute resumes it
  b.threadpool.reset(ggml_threadpool_new(&tp));
  if (!b.threadpool) throw std::runtime_error("could not create the CPU thread pool");
  ggml_backend_cpu_set_threadpool(b.cpu.get(), b.threadpool.get());

  // Test hook: weights on a second CPU backend make the scheduler split and copy inputs between
  // backends as it does with a GPU, so that path is exercised on machines without one.
  if (!endpoints.empty()) {
    // The weights and the forward on the server; the scheduler keeps the CPU as its fallback.
    b.rpcLease = RpcLease(endpoints);
    const std::vector<ggml_backend_dev_t> remote = connectRpcServers(endpoints);
    b.gpu.reset(ggml_backend_dev_init(remote.front(), nullptr));
    if (!b.gpu) throw std::runtime_error("could not open the device of rpc://" + endpoints.front());
    b.rpcEndpoints = endpoints;
  } else if (std::getenv("LAYERLENS_DEBUG_TWO_CPU")) {
    b.gpu.reset(ggml_backend_cpu_init());
  } else if (want != "cpu") {
    ggml_backend_dev_t dev = findGpu(want);
    if (dev) b.gpu.reset(ggml_backend_dev_init(dev, nullptr));
    if (!b.gpu) {
      if (want != "auto") {
        throw std::runtime_error("device '" + device + "' is not available: " +
                                 (dev ? "its backend failed to initialise"
                                      : "this build of layerlens has no such backend or no such device is present"));
      }
      if (dev)
        b.notice = std::string("layerlens: GPU backend ") + ggml_backend_dev_name(dev) +
                   " failed to initialise; using the CPU";
    }
  }
  ggml_backend_dev_t used = ggml_backend_get_device(b.primary());
  b.deviceName = used ? ggml_backend_dev_name(used) : "CPU";
  b.description = used ? ggml_backend_dev_description(used) : "";
  if (!b.rpcEndpoints.empty()) b.description = "rpc://" + b.rpcEndpoints.front();
  return b;
}

void Backends::rest() const {
  if (threadpool) ggml_threadpool_pause(threadpool.get());
}

SchedPtr Backends::makeScheduler(size_t graphSize) const {
  std::vector<ggml_backend_t> list;
  if (gpu) list.push_back(gpu.get());
  list.push_back(cpu.get());  // the scheduler wants the CPU last, as the fallback
  SchedPtr sched(ggml_backend_sched_new(list.data(), nullptr, int(list.size()), graphSize, false, true));
  if (!sched) throw std::runtime_error("could not create the ggml scheduler");
  return sched;
}

}  // namespace layerlens
