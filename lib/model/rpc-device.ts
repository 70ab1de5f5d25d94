// The device string of ggml's RPC servers, `rpc://host:port` or several comma-separated, checked here so a
// typo fails before anything loads (the addon checks it again: native/rpc/endpoints.cpp). See docs/remote.md.
import { InvalidParameterError } from '../is.js';

export const RPC_SCHEME = 'rpc://';
/** ggml-rpc's limit (GGML_RPC_MAX_SERVERS). */
export const MAX_RPC_SERVERS = 16;

/** A device string that names RPC servers (it may still be malformed: parseRpcDevice says). */
export function isRpcDevice(device: unknown): device is `rpc://${string}` {
  return typeof device === 'string' && device.trim().startsWith(RPC_SCHEME);
}

/** One server of a device string. */
export interface RpcEndpoint {
  host: string;
  port: number;
}

// A host name or IPv4 address, as ggml's client resolves it (IPv4 only: no IPv6 literals).
const HOST = /^[A-Za-z0-9._-]{1,253}$/;

/**
 * The servers of `rpc://host:port[,rpc://host:port…]`, in order. Throws InvalidParameterError naming
 * `name` for a malformed item, a port outside 1..65535, a server listed twice or more than 16 servers.
 */
export function parseRpcDevice(device: string, name = 'device'): RpcEndpoint[] {
  const fail = (why: string): never => {
    throw new InvalidParameterError(`${name} '${device}': ${why}`);
  };
  const out: RpcEndpoint[] = [];
  for (const raw of device.split(',')) {
    const item = raw.trim();
    if (!item.startsWith(RPC_SCHEME)) fail(`'${item}' is not rpc://host:port (several servers: rpc://a:50052,rpc://b:50052)`);
    const rest = item.slice(RPC_SCHEME.length);
    const colon = rest.lastIndexOf(':');
    if (colon < 0) fail(`'${item}' has no port (rpc://host:port)`);
    const host = rest.slice(0, colon);
    const portText = rest.slice(colon + 1);
    if (!HOST.test(host)) fail(`'${item}' has no valid host name or IPv4 address`);
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) fail(`'${item}': the port must be a number in 1..65535`);
    if (out.some((e) => e.host === host && e.port === port)) fail(`rpc://${host}:${port} is listed twice`);
    out.push({ host, port });
  }
  if (out.length > MAX_RPC_SERVERS) fail(`at most ${MAX_RPC_SERVERS} RPC servers`);
  return out;
}
