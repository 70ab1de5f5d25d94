// Devices on remote machines through ggml's RPC backend: the `rpc://host:port[,rpc://host:port...]`
// device string, a reachability check before ggml connects (ggml aborts on a failed connect), and
// the remote devices of those servers. See docs/remote.md.
#pragma once

#include <string>
#include <vector>

#include "ggml-backend.h"

namespace layerlens {

// True when `device` names RPC servers (starts with rpc://); it may still be malformed.
bool isRpcDevice(const std::string& device);

// The servers of an rpc:// device string as ggml's endpoints ("host:port"), in order; empty when the
// device is not an rpc:// one. Throws std::invalid_argument for a malformed list: every item must be
// rpc://host:port with a host name or IPv4 address and a port in 1..65535, no server twice, at most 16.
std::vector<std::string> parseRpcDevice(const std::string& device);

// Throws std::runtime_error "cannot reach rpc://host:port: ..." unless a TCP connection to the
// endpoint opens within timeoutMs.
void probeRpcEndpoint(const std::string& endpoint, int timeoutMs);

// True when nothing listens at the endpoint: the connection is refused (or the host does not
// resolve). A connection that opens, or that gets no answer within timeoutMs, does not count: ggml's
// server serves one client at a time with an accept queue of one, so a live server busy with another
// client leaves further connections waiting unanswered.
bool rpcEndpointRefuses(const std::string& endpoint, int timeoutMs);

// Checks each server (probe, then ggml's handshake) and returns its devices, in order. Must run where
// guardRpc (failures.hpp) catches ggml's aborts: ggml's connect and handshake abort on failure. The
// caller holds an RpcLease on the endpoints before it allocates anything on them.
std::vector<ggml_backend_dev_t> connectRpcServers(const std::vector<std::string>& endpoints);

}  // namespace layerlens
