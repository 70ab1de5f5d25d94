// `layerlens rpc-server`: ggml's RPC server over this machine's devices, so that another machine's
// layerlens can run its forward here (device 'rpc://host:port'). The protocol has no authentication
// and no encryption: a server must only be reachable from a trusted network (docs/remote.md).
#pragma once

#include <napi.h>

namespace layerlens {

// startRpcServer({host: string, port: number, threads?: number}) -> Promise that rejects when the
// server cannot start (bad address, port in use) and otherwise never settles: ggml serves clients one
// after the other, forever, on a thread of libuv's pool. The caller learns that it listens by
// connecting to it (lib/cli/rpc-server.ts).
Napi::Value startRpcServer(const Napi::CallbackInfo& info);

}  // namespace layerlens
