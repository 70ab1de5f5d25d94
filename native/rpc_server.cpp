#include "rpc_server.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ggml-backend.h"
#include "ggml-rpc.h"
#include "napi_helpers.hpp"

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

namespace layerlens {
namespace {

// What the server offers: the GPUs this build can see, else the CPU (as llama.cpp's rpc-server).
std::vector<ggml_backend_dev_t> servedDevices() {
  std::vector<ggml_backend_dev_t> gpus;
  ggml_backend_dev_t cpu = nullptr;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    const auto type = ggml_backend_dev_type(dev);
    if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) gpus.push_back(dev);
    if (type == GGML_BACKEND_DEVICE_TYPE_CPU && !cpu) cpu = dev;
  }
  if (!gpus.empty()) return gpus;
  if (!cpu) throw std::runtime_error("rpc-server: ggml has no CPU device");
  return {cpu};
}

}  // namespace

Napi::Value startRpcServer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(info[0], "startRpcServer");
  o.onlyKnown({"host", "port", "threads"});
  const std::string host = o.string("host");
  const int32_t port = o.int32("port"), threads = o.int32("threads", 0);
  // ggml's server binds an IPv4 address literal only.
  in_addr parsed{};
  if (inet_pton(AF_INET, host.c_str(), &parsed) != 1)
    throw Napi::TypeError::New(env,
                               "startRpcServer: 'host' must be an IPv4 address such as 127.0.0.1, got '" + host + "'");
  if (port < 1 || port > 65535) throw Napi::TypeError::New(env, "startRpcServer: 'port' must be in 1..65535");
  if (threads < 0 || threads > 1024) throw Napi::TypeError::New(env, "startRpcServer: 'threads' must be in 0..1024");
  const std::string endpoint = host + ":" + std::to_string(port);
  const size_t nThreads = threads > 0 ? size_t(threads) : std::max<size_t>(1, std::thread::hardware_concurrency());
  setNextCall({});  // this process serves; it is no client
  return queue<bool>(
      env,
      [endpoint, nThreads]() -> bool {
        std::vector<ggml_backend_dev_t> devices = servedDevices();
        // Returns only when it could not start (it prints why to stderr); otherwise it serves forever.
        ggml_backend_rpc_start_server(endpoint.c_str(), nullptr, nThreads, devices.size(), devices.data());
        throw std::runtime_error("rpc-server could not listen on " + endpoint +
                                 " (is the port in use, or the address not one of this machine's?)");
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace layerlens
