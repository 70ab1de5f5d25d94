// `layerlens serve`: starts the web viewer (lib/server/server.ts) and runs until SIGINT/SIGTERM (or the
// given AbortSignal). lib/cli/main.ts dispatches `layerlens serve …` here with the arguments after `serve`.

import { DEVICES, MAX_THREADS } from '../types.js';
import { InvalidParameterError } from '../is.js';
import { integerFlag, loadOptionsFromFlags, parseFlags, parseModelLoadFlags, tunedLensFlags, type ModelLoadFlags } from './flags.js';
import { reportError, withDefaults, EXIT_OK, type CliIO } from './io.js';
import { CONTROL_VECTOR_FLAGS, controlVectorFlags, joinControlVectorArgs, type CliControlVectors } from './control-vector-flags.js';

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
  --threads N           CPU threads for the forward pass, 1..${MAX_THREADS} (default: all cores)
  --device D            ${DEVICES.join(', ')} (default auto), or rpc://host:port (see layerlens rpc-server)
  --rpc-timeout MS      with rpc://: how long one call to the server (the load included) may take
                        before it fails and the model is given up (default 0: no limit)
  --banner TEXT         a notice shown at the top of the page
  --tuned-lens PATH|NAME
                        also offer the tuned lens: a folder (config.json + params.pt), or the name
                        of a lens the tuned-lens package publishes (e.g. gpt2; downloaded into the
                        Hugging Face cache); the page then shows the logit and the tuned lens side
                        by side, with a switch (logit | tuned | both)
  --control-vector FILE, --control-vector-scaled FILE SCALE, --control-vector-layer-range A B
                        steer with llama.cpp control vectors (read once, at start; repeatable, summed;
                        range inclusive, default all blocks): the page shows the unsteered and the
                        steered run, with a steering switch
  -h, --help            print this help and exit

API: POST /api/lens with Content-Type: application/json and a body
  {"prompt": "...", "target": " Warsaw", "topK": 10, "hooks": ["embed", "resid_post"], "positions": "all"}
(only "prompt" is required) answers the lens JSON of every position with entropy and KL per hook and
the attention patterns; with --tuned-lens, "lens": "tuned" answers the tuned lens and "lens": "both"
the logit lens with the tuned lens of the same run as "tuned". With control vectors, "steer": true
(the default) answers the steered run with the unsteered one as "compare", "steer": false the
unsteered run alone. GET /api/info describes the model, the limits, the tuned lens and the steering.
`;

/** --model, --threads, --device and --rpc-timeout are the load flags of every command (flags.ts). */
export interface ServeArgs extends Pick<ModelLoadFlags, 'model' | 'threads' | 'device' | 'rpcTimeoutMs'> {
  help: boolean;
  port: number;
  host: string;
  banner?: string;
  /** --tuned-lens PATH|NAME */
  tunedLens?: string;
  /** --control-vector, --control-vector-scaled, --control-vector-layer-range (files are read at start). */
  steer?: CliControlVectors;
}

/** Parses the arguments after `serve`. Throws InvalidParameterError. No I/O. */
export function parseServeArgs(argv: readonly string[]): ServeArgs {
  const { values: v } = parseFlags(
    joinControlVectorArgs(argv),
    {
      ...CONTROL_VECTOR_FLAGS,
      port: { type: 'string' },
      host: { type: 'string' },
      model: { type: 'string' },
      threads: { type: 'string' },
      device: { type: 'string' },
      'rpc-timeout': { type: 'string' },
      banner: { type: 'string' },
      'tuned-lens': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    { command: 'serve', positionals: false },
  );
  const load = parseModelLoadFlags({ model: v.model, threads: v.threads, device: v.device, 'rpc-timeout': v['rpc-timeout'] });
  const host = (v.host ?? '127.0.0.1').trim();
  if (host === '') throw new InvalidParameterError('--host: empty address');
  const steer = controlVectorFlags(v);
  const { tunedLens } = tunedLensFlags(v);
  return {
    help: v.help === true,
    port: v.port === undefined ? 8080 : integerFlag('--port', v.port, 0, 65535),
    host,
    ...load,
    ...(v.banner === undefined ? {} : { banner: v.banner }),
    ...(tunedLens === undefined ? {} : { tunedLens }),
    ...(steer.controlVectors ? { steer } : {}),
  };
}

export interface ServeIO extends Omit<CliIO, 'stdin'> {
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
  const { stdout, stderr, env } = withDefaults(io);
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
  } catch (err) {
    return reportError(stderr, err);
  }
  if (args.help) {
    stdout.write(SERVE_HELP);
    return EXIT_OK;
  }
  const { startServer } = await import('../server/server.js');
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let srv;
  try {
    srv = await startServer({
      model: args.model ?? (env.LAYERLENS_MODEL || undefined),
      load: loadOptionsFromFlags(args, env),
      port: args.port,
      host: args.host,
      ...(args.banner === undefined ? {} : { banner: args.banner }),
      ...(args.tunedLens === undefined ? {} : { tunedLens: args.tunedLens }),
      ...(args.steer ?? {}),
      log: (line) => stderr.write(`layerlens serve: ${line}\n`),
    });
  } catch (err) {
    return reportError(stderr, err);
  }
  const m = srv.model.info;
  const tuned = srv.tunedLens ? ` with the tuned lens ${srv.tunedLens.source}` : '';
  const steered = srv.steering ? `, steered with ${srv.steering.label}` : '';
  stdout.write(`layerlens: serving ${m.name} (${m.n_layer} layers, ${srv.model.runtime.device})${tuned}${steered} at ${srv.url}  (Ctrl-C to stop)\n`);
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
  return EXIT_OK;
}
