#include "failures.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>

#include "endpoints.hpp"
#include "ggml.h"

// ggml.c's (declared in its private ggml-impl.h).
extern "C" void ggml_print_backtrace(void);

namespace layerlens {
namespace {

constexpr int kDeadProbeMs = 300;  // a refusal (nothing listens) comes back within a round trip
constexpr int kDeadProbeAttempts = 20;
constexpr int kDeadProbePauseMs = 50;

struct FailureState {
  std::mutex mutex;
  std::condition_variable changed;            // a server failed, or a guarded call finished
  std::map<std::string, int> inUse;           // endpoint -> live RpcLeases
  std::map<std::string, std::string> failed;  // endpoint -> what ggml said
};

// Never destroyed: threads parked inside ggml may outlive static destruction at exit.
FailureState& state() {
  static FailureState* s = new FailureState();
  return *s;
}

thread_local bool tlGuarded = false;
thread_local RpcCall tlNextCall;
ggml_abort_callback_t previousHandler = nullptr;

// "path/ggml-rpc.cpp:35: Remote RPC server crashed..." -> "ggml-rpc: Remote RPC server crashed..."
std::string ggmlReason(const char* message) {
  std::string m(message);
  const size_t at = m.find("ggml-rpc");
  const size_t colon = m.find(": ", at);
  std::string reason = colon == std::string::npos ? m : m.substr(colon + 2);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  return "ggml-rpc: " + reason;
}

std::string failureLocked(FailureState& s, const std::vector<std::string>& endpoints) {
  for (const std::string& e : endpoints) {
    auto it = s.failed.find(e);
    if (it == s.failed.end()) continue;
    return "the RPC server rpc://" + e + " stopped answering (" + it->second +
           "); this model can no longer be used: once the server runs again, load the model in a new process "
           "(ggml keeps its connection to a server for the life of the process)";
  }
  return "";
}

// On ggml's dispatcher thread, whose connection broke: find which servers refuse connections (nothing
// listens any more) among those in use and not failed before (all of them when none can be singled
// out and no server was given up before), and wake the calls waiting on them.
void recordFailure(const std::string& reason) {
  FailureState& s = state();
  std::vector<std::string> known;
  bool failedInUse = false;  // a server given up before (dead, or timed out) whose connection may break now
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (const auto& [endpoint, leases] : s.inUse) {
      if (leases <= 0) continue;
      if (s.failed.count(endpoint)) failedInUse = true;  // failed ones stay leased (leaked)
      else known.push_back(endpoint);
    }
  }
  // A killed server's connections can close a moment before its listening socket does: probe again
  // for a while before concluding that no server can be singled out.
  std::vector<std::string> dead;
  for (int attempt = 0; attempt < kDeadProbeAttempts && dead.empty(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kDeadProbePauseMs));
    for (const std::string& e : known) {
      if (rpcEndpointRefuses(e, kDeadProbeMs)) dead.push_back(e);
    }
  }
  // None of the working servers is down: the broken connection is most likely a given-up server's
  // (killed after it timed out); only when there is none can every working server be suspected.
  if (dead.empty() && !failedInUse) dead = known;
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const std::string& e : dead) s.failed.emplace(e, reason);
  s.changed.notify_all();
}

void onGgmlAbort(const char* message) {
  if (!std::strstr(message, "ggml-rpc")) {
    if (previousHandler) return previousHandler(message);
    std::fprintf(stderr, "%s\n", message);  // what ggml prints without a handler
    ggml_print_backtrace();
    return;  // ggml aborts
  }
  const std::string reason = ggmlReason(message);
  if (tlGuarded) throw RpcAbort(reason);
  recordFailure(reason);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

}  // namespace

void installRpcAbortHandler() {
  static std::once_flag once;
  std::call_once(once, [] { previousHandler = ggml_set_abort_callback(&onGgmlAbort); });
}

RpcLease::RpcLease(std::vector<std::string> endpoints) : endpoints_(std::move(endpoints)) {
  FailureState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const std::string& e : endpoints_) ++s.inUse[e];
}

RpcLease::~RpcLease() { release(); }

RpcLease& RpcLease::operator=(RpcLease&& other) noexcept {
  if (this != &other) {
    release();
    endpoints_ = std::move(other.endpoints_);
    other.endpoints_.clear();
  }
  return *this;
}

void RpcLease::release() {
  if (endpoints_.empty()) return;
  FailureState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const std::string& e : endpoints_) --s.inUse[e];
  endpoints_.clear();
}

int rpcLeases(const std::string& endpoint) {
  FailureState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const auto it = s.inUse.find(endpoint);
  return it == s.inUse.end() ? 0 : it->second;
}

std::string rpcFailureOf(const std::vector<std::string>& endpoints) {
  if (endpoints.empty()) return "";
  FailureState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return failureLocked(s, endpoints);
}

void setNextCall(RpcCall call) { tlNextCall = std::move(call); }

RpcCall takeNextCall() {
  RpcCall out = std::move(tlNextCall);
  tlNextCall = RpcCall();
  return out;
}

void guardRpc(const RpcCall& rpc, std::function<void()> work) {
  const std::vector<std::string>& endpoints = rpc.endpoints;
  if (endpoints.empty()) return work();
  FailureState& s = state();
  struct Call {
    bool done = false;  // under s.mutex
    std::exception_ptr error;
  };
  auto call = std::make_shared<Call>();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    const std::string why = failureLocked(s, endpoints);
    if (!why.empty()) throw std::runtime_error(why);
  }
  // Detached: when its server dies or hangs this thread stays blocked inside ggml for good, holding
  // `work` (and with it the model) alive.
  std::thread([call, work = std::move(work)] {
    tlGuarded = true;
    std::exception_ptr error;
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
    FailureState& st = state();
    std::lock_guard<std::mutex> lock(st.mutex);
    call->error = error;
    call->done = true;
    st.changed.notify_all();
  }).detach();
  std::unique_lock<std::mutex> lock(s.mutex);
  std::string why;
  const auto settled = [&] {
    if (call->done) return true;
    why = failureLocked(s, endpoints);
    return !why.empty();
  };
  if (rpc.timeoutMs <= 0) {
    s.changed.wait(lock, settled);
  } else if (!s.changed.wait_for(lock, std::chrono::milliseconds(rpc.timeoutMs), settled)) {
    for (const std::string& e : endpoints)
      s.failed.emplace(e, "no answer within " + std::to_string(rpc.timeoutMs) + " ms, the model's rpcTimeoutMs");
    s.changed.notify_all();
    why = failureLocked(s, endpoints);
  }
  if (!call->done) throw std::runtime_error(why);
  if (call->error) std::rethrow_exception(call->error);
}

}  // namespace layerlens
