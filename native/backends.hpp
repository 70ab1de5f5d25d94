// Picks and owns the compute backends (CPU, plus CUDA or Metal when compiled in) and the scheduler.
#pragma once

#include <string>
#include <vector>

#include "ggml_handles.hpp"
#include "rpc/failures.hpp"

namespace layerlens {

struct Backends {
  // Declared before the backends so it is destroyed after them. One pool for the model's
  // lifetime: without it ggml-cpu starts fresh threads for every graph, and every capture
  // split would pay that again.
  ThreadpoolPtr threadpool;
  // The RPC server in use, if any; before the backend so that it ends after it (and, in the Engine,
  // after the weights: Backends is its first member).
  RpcLease rpcLease;
  // Null when running on the CPU only; for 'rpc://host:port', the server's device.
  BackendPtr gpu;
  // The RPC server ("host:port") the weights are on, if any.
  std::vector<std::string> rpcEndpoints;
  BackendPtr cpu;
  std::string deviceName;   // e.g. "CPU", "CUDA0"
  std::string description;  // the device's own description
  std::string notice;       // set when 'auto' fell back to the CPU, or similar
  int threads = 1;

  // The backend that holds the weights and runs the graph (the GPU when there is one).
  ggml_backend_t primary() const { return gpu ? gpu.get() : cpu.get(); }

  // device: "auto" | "cpu" | "cuda" | "metal" | "rpc://host:port"; threads <= 0 picks the hardware
  // concurrency. An rpc:// device connects to the server (call it where guardRpc catches ggml's aborts).
  static Backends create(const std::string& device, int threads);

  SchedPtr makeScheduler(size_t graphSize) const;

  // Puts the CPU workers to sleep. Call after each graph: left alone they keep spinning for a while
  // (ggml's hybrid polling), taking a core from the host work that follows (top-k, JavaScript).
  // The next compute wakes them.
  void rest() const;
};

// Names of the GPU backends this addon was compiled with and can see (e.g. {"CUDA"}).
std::vector<std::string> availableGpuBackends();

}  // namespace layerlens
