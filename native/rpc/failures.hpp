// What happens when an RPC server dies: a JS error instead of a dead Node process or a promise that
// never settles.
//
// ggml-rpc reports a broken connection with GGML_ABORT, which ends in abort(). Its socket traffic runs
// on one dispatcher thread per server (ggml's own thread), while the caller waits on a future that the
// dispatcher completes. ggml_set_abort_callback runs our handler before abort(); the handler
//  - on a thread that runs guarded work (below), throws RpcAbort, which unwinds to guardRpc's catch
//    (this is ggml's connect and handshake, which run on the caller's thread);
//  - on any other thread (the dispatcher), records which servers stopped answering, wakes the guarded
//    calls waiting on them, and parks the thread for good: ggml's dispatcher cannot be resumed, and an
//    exception escaping a std::thread would terminate the process.
// A call on a model whose server failed therefore runs its ggml work on a thread of its own
// (guardRpc); when the server fails, the call returns an error and that thread is left blocked in
// ggml. The model is unusable from then on (rpcFailureOf), and is never freed (freeing would talk to
// the dead server again): releaseEngine leaks it on purpose.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace layerlens {

// ggml-rpc's abort, thrown on a guarded thread.
struct RpcAbort : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Installs the abort handler (once per process; only processes that connect to a server call it,
// so an rpc-server process keeps ggml's default abort).
void installRpcAbortHandler();

// The servers a loaded model uses, for as long as it lives: when a connection breaks, only servers in
// use are probed to find the dead one (a server stopped after its models were freed must not be taken
// for it). Declare it before the members that hold remote memory, so it ends after them.
class RpcLease {
 public:
  RpcLease() = default;
  explicit RpcLease(std::vector<std::string> endpoints);
  ~RpcLease();
  RpcLease(RpcLease&& other) noexcept : endpoints_(std::move(other.endpoints_)) { other.endpoints_.clear(); }
  RpcLease& operator=(RpcLease&& other) noexcept;
  RpcLease(const RpcLease&) = delete;
  RpcLease& operator=(const RpcLease&) = delete;
  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  void release();
  std::vector<std::string> endpoints_;
};

// How many live RpcLeases hold the endpoint (models using it, the one being loaded included).
int rpcLeases(const std::string& endpoint);

// Why a model on these servers can no longer be used ("" while they all work).
std::string rpcFailureOf(const std::vector<std::string>& endpoints);

// The servers a call talks to, and how long it may wait for them (0: no limit). A timed-out call
// leaves its thread blocked inside ggml like a dead server's, and the servers are given up for the
// process: ggml-rpc keeps one connection per server, and a request left half answered on it would
// garble the next.
struct RpcCall {
  std::vector<std::string> endpoints;
  int64_t timeoutMs = 0;
};

// The next queued call: set on the JS thread by the model accessor (or a load) just before it queues
// its work, taken by the worker's constructor. No endpoints: a local call, unguarded.
void setNextCall(RpcCall call);
RpcCall takeNextCall();

// Runs work() on a thread of its own and waits for it, for one of the call's servers to fail, or for
// its timeout (the last two throw std::runtime_error saying which server and that the model is
// unusable). Exceptions of work() pass through. Local calls (no endpoints) run work() directly.
void guardRpc(const RpcCall& call, std::function<void()> work);

// Drops a model's last reference from the JS thread without waiting on the network: a model on RPC
// servers is freed on a thread of its own, or leaked when one of its servers has failed.
template <typename Engine>
void releaseEngine(std::shared_ptr<Engine>& engine, const std::vector<std::string>& endpoints) {
  if (!engine) return;
  if (endpoints.empty()) return engine.reset();
  if (!rpcFailureOf(endpoints).empty()) {
    new std::shared_ptr<Engine>(std::move(engine));  // leaked on purpose: freeing would block forever
    return;
  }
  std::thread([keep = std::move(engine)]() mutable { keep.reset(); }).detach();
}

}  // namespace layerlens
