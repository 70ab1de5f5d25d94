// `layerlens rpc-server`: serves this machine's devices to other machines' layerlens through ggml's RPC
// backend (they load with device 'rpc://host:port'). lib/cli/main.ts dispatches `layerlens rpc-server …`
// here with the arguments after `rpc-server`. The protocol has no authentication and no encryption, so
// the server listens on the loopback address unless told otherwise with --allow-remote.
import { createConnection, createServer } from 'node:net';
import { InvalidParameterError } from '../is.js';
import { MAX_THREADS } from '../types.js';
import { integerFlag, parseFlags } from './flags.js';
import { reportError, withDefaults, EXIT_OK, type CliIO } from './io.js';

export const DEFAULT_RPC_PORT = 50052;

export const RPC_SERVER_HELP = `Usage: layerlens rpc-server [--host 127.0.0.1] [--port ${DEFAULT_RPC_PORT}] [--threads N] [--allow-remote]

Serves this machine's devices (its GPUs when the build has a GPU backend, else the CPU) to layerlens
on other machines through ggml's RPC backend: there, load with --device rpc://HOST:PORT (several
servers: rpc://a:${DEFAULT_RPC_PORT},rpc://b:${DEFAULT_RPC_PORT}, which split a llama.cpp model's layers). Prints
"rpc-server listening on HOST:PORT" once it accepts connections, then serves one client at a time
until it is stopped (Ctrl-C).

WARNING: the RPC protocol has no authentication and no encryption. Anyone who can connect can use
this machine's memory and compute and read what it computes. Keep it on 127.0.0.1 (the default) or
on a trusted private network; never expose it to the internet.

Options:
  --host ADDR           IPv4 address to listen on (default 127.0.0.1: this machine only); any other
                        address needs --allow-remote
  --port N              TCP port, 1..65535 (default ${DEFAULT_RPC_PORT})
  --threads N           CPU threads for the computation, 1..${MAX_THREADS} (default: all cores)
  --allow-remote        allow a --host other than a loopback address (see the warning above)
  -h, --help            print this help and exit
`;

export interface RpcServerArgs {
  help: boolean;
  host: string;
  port: number;
  threads?: number;
  allowRemote: boolean;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isLoopback(host: string): boolean {
  return host.startsWith('127.');
}

/** Parses the arguments after `rpc-server`. Throws InvalidParameterError. No I/O. */
export function parseRpcServerArgs(argv: readonly string[]): RpcServerArgs {
  const { values: v } = parseFlags(
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      threads: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    { command: 'rpc-server', positionals: false },
  );
  const host = (v.host ?? '127.0.0.1').trim();
  // ggml's server binds an IPv4 literal only.
  if (!IPV4.test(host)) throw new InvalidParameterError(`rpc-server: --host must be an IPv4 address such as 127.0.0.1, got '${v.host}'`);
  const allowRemote = v['allow-remote'] === true;
  if (!isLoopback(host) && !allowRemote) {
    throw new InvalidParameterError(
      `rpc-server: --host ${host} would let every machine that reaches it use this one, without authentication or encryption; ` +
        'add --allow-remote if this is a trusted network',
    );
  }
  return {
    help: v.help === true,
    host,
    port: v.port === undefined ? DEFAULT_RPC_PORT : integerFlag('--port', v.port, 1, 65535),
    ...(v.threads === undefined ? {} : { threads: integerFlag('--threads', v.threads, 1, MAX_THREADS) }),
    allowRemote,
  };
}

export interface RpcServerIO extends Omit<CliIO, 'stdin'> {
  /** Called once the server accepts connections. */
  onListening?: (endpoint: string) => void;
}

// Fails when something already listens on host:port (ggml's own bind error says less).
function checkPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`rpc-server cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`)),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

// Resolves once a TCP connection to host:port opens (ggml's server accepts it and sees it close).
async function waitListening(host: string, port: number, gaveUp: () => boolean): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port }, () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open || gaveUp()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * `layerlens rpc-server [options]`: returns the exit code at once for --help (0), a usage error (2) or a
 * failed start (1); otherwise serves until the process is stopped. Never throws.
 */
export async function rpcServerCommand(argv: readonly string[], io: RpcServerIO = {}): Promise<number> {
  const { stdout, stderr } = withDefaults(io);
  let args: RpcServerArgs;
  try {
    args = parseRpcServerArgs(argv);
  } catch (err) {
    return reportError(stderr, err);
  }
  if (args.help) {
    stdout.write(RPC_SERVER_HELP);
    return EXIT_OK;
  }
  const endpoint = `${args.host}:${args.port}`;
  try {
    await checkPortFree(args.host, args.port);
    const { native } = await import('../model/native.js');
    let failure: unknown;
    // Settles only when ggml's server could not start; it serves forever otherwise.
    const serving = native()
      .startRpcServer({ host: args.host, port: args.port, threads: args.threads ?? 0 })
      .then(
        () => {
          throw new Error(`rpc-server on ${endpoint} stopped`);
        },
        (err: unknown) => {
          failure = err;
          throw err;
        },
      );
    serving.catch(() => undefined); // awaited below; this keeps an early failure from being unhandled
    await waitListening(args.host, args.port, () => failure !== undefined);
    if (failure !== undefined) throw failure;
    stdout.write(`rpc-server listening on ${endpoint}\n`);
    if (!isLoopback(args.host)) {
      stderr.write(
        `layerlens: warning: rpc-server listens on ${endpoint}: the RPC protocol has no authentication or encryption, ` +
          'so every machine that can reach this address can use it\n',
      );
    }
    io.onListening?.(endpoint);
    await serving;
    return EXIT_OK;
  } catch (err) {
    return reportError(stderr, err);
  }
}
