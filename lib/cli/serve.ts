// `layerlens serve`: starts the web viewer (lib/server/server.ts) and runs until SIGINT/SIGTERM (or the
// given AbortSignal). lib/cli/main.ts dispatches `layerlens serve …` here with the arguments after `serve`.

import { parseArgs } from 'node:util';

export const SERVE_HELP = `Usage: layerlens serve [options]

Starts a local web viewer for the logit lens: type a prompt, see every layer's top-1 token at every
position as a heatmap (hover for the top-k, click for the target's trajectory and the attention of
each head). The model is loaded once, before the server starts; requests run one at a time.

Options:
  --port N              TCP port (default 8080; 0 picks a free one)
  --host ADDR           address to listen on (default 127.0.0.1: this machine only). Anything else
                        lets every machine that can reach it run the model
  --model PATH|NAME     model directory, .safetensors file or hub name; default: $LAYERLENS_MODEL,
                        else gpt2-medium
  --threads N           CPU threads for the forward pass (default: all cores)
  --device D            auto (default), cpu, cuda or metal
  --banner TEXT         a notice shown at the top of the page
  -h, --help            print this help and exit

API: POST /api/lens with Content-Type: application/json and a body
  {"prompt": "...", "target": " Warsaw", "topK": 10, "hooks": ["embed", "resid_post"], "positions": "all"}
(only "prompt" is required) answers the lens JSON of every position with entropy and KL per hook and
the attention patterns. GET /api/info describes the model and the limits.
`;

export interface ServeArgs {
  help: boolean;
  port: number;
  host: string;
  model?: string;
  threads?: number;
  device: 'auto' | 'cpu' | 'cuda' | 'metal';
  banner?: string;
}

/** A mistake on the `serve` command line (exit code 2). */
export class ServeUsageError extends Error {
  override name = 'UsageError';
}

function intIn(value: string, flag: string, min: number, max: number): number {
  const s = value.trim();
  if (!/^[0-9]+$/.test(s) || Number(s) < min || Number(s) > max) throw new ServeUsageError(`${flag} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
  return Number(s);
}

/** Parses the arguments after `serve`. Throws ServeUsageError. */
export function parseServeArgs(argv: readonly string[]): ServeArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        model: { type: 'string' },
        threads: { type: 'string' },
        device: { type: 'string' },
        banner: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new ServeUsageError(`serve: ${(err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '')} (see layerlens serve --help)`);
  }
  const v = parsed.values;
  const device = (v.device ?? 'auto').trim();
  if (!['auto', 'cpu', 'cuda', 'metal'].includes(device)) throw new ServeUsageError(`--device must be auto, cpu, cuda or metal; got ${JSON.stringify(v.device)}`);
  const host = (v.host ?? '127.0.0.1').trim();
  if (host === '') throw new ServeUsageError('--host: empty address');
  if (v.model !== undefined && v.model.trim() === '') throw new ServeUsageError('--model: empty path');
  return {
    help: v.help === true,
    port: v.port === undefined ? 8080 : intIn(v.port, '--port', 0, 65535),
    host,
    ...(v.model === undefined ? {} : { model: v.model }),
    ...(v.threads === undefined ? {} : { threads: intIn(v.threads, '--threads', 1, 1024) }),
    device: device as ServeArgs['device'],
    ...(v.banner === undefined ? {} : { banner: v.banner }),
  };
}

interface Writer {
  write(chunk: string): unknown;
}

export interface ServeIO {
  stdout?: Writer;
  stderr?: Writer;
  env?: Record<string, string | undefined>;
  /** Stops the server when aborted; default: the first SIGINT or SIGTERM. */
  signal?: AbortSignal;
  /** Called once the server listens (tests use it to learn the port). */
  onListening?: (url: string) => void;
}

/**
 * `layerlens serve [options]`: returns the exit code once the server has stopped (0), or at once for
 * --help (0), a usage error (2) or a failed start (1). Never throws.
 */
export async function serveCommand(argv: readonly string[], io: ServeIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
  } catch (err) {
    stderr.write(`layerlens: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    stdout.write(SERVE_HELP);
    return 0;
  }
  const { startServer } = await import('../server/server.js');
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let srv;
  try {
    srv = await startServer({
      model: args.model ?? (env.LAYERLENS_MODEL || undefined),
      load: { env: env as NodeJS.ProcessEnv, device: args.device, ...(args.threads === undefined ? {} : { threads: args.threads }) },
      port: args.port,
      host: args.host,
      ...(args.banner === undefined ? {} : { banner: args.banner }),
      log: (line) => stderr.write(`layerlens serve: ${line}\n`),
    });
  } catch (err) {
    stderr.write(`layerlens: ${(err as Error).message}\n`);
    return 1;
  }
  const m = srv.model.info;
  stdout.write(`layerlens: serving ${m.name} (${m.n_layer} layers, ${srv.model.runtime.device}) at ${srv.url}  (Ctrl-C to stop)\n`);
  if (!/^(127\.|::1$|localhost$)/.test(args.host)) {
    stderr.write(`layerlens: warning: listening on ${args.host}: anyone who can reach this address can run the model\n`);
  }
  io.onListening?.(srv.url);

  const onSignal = () => stop();
  if (io.signal) {
    if (io.signal.aborted) stop();
    else io.signal.addEventListener('abort', onSignal, { once: true });
  } else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  await stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  stdout.write('layerlens: stopping\n');
  await srv.close();
  return 0;
}
