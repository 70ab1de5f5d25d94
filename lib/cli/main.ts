#!/usr/bin/env node
// The `layerlens` command: picks the command from the first word (pull, convert, steer, serve, rpc-server, batch, models, else the lens
// of a prompt), lets its module parse and run it, and turns what it throws into a message and an exit
// code (lib/cli/io.ts). Parsing is pure; the model modules (and with them the native addon) are
// imported only when something is run, so --help, --version and usage errors work without a built addon.
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { batchCommand, parseBatchArgs, type CliBatchOptions } from './batch.js';
import { convertCommand, parseConvertArgs, type CliConvertOptions } from './convert.js';
import { HELP } from './help.js';
import { EXIT_OK, reportError, withDefaults, type CliIO } from './io.js';
import { lensCommand, parseLensArgs, type CliRunOptions } from './lens.js';
import { modelsCommand, parseModelsArgs, type CliModelsOptions } from './models.js';
import { parsePullArgs, pullCommand, type CliPullOptions } from './pull.js';
import { parseSteerArgs, steerCommand, type CliSteerOptions } from './steer.js';
import { parseTrainLensArgs, trainLensCommand, type CliTrainLensOptions } from './train-lens.js';
import { packageVersion } from './version.js';

export { InvalidParameterError as UsageError } from '../is.js';
export { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, type CliIO } from './io.js';
export { DEFAULT_TOP_K, type CliRunOptions } from './lens.js';
export type { CliPullOptions } from './pull.js';
export type { CliConvertOptions } from './convert.js';
export type { CliSteerOptions } from './steer.js';
export type { CliBatchOptions } from './batch.js';
export type { CliModelsOptions } from './models.js';
export type { CliTrainLensOptions } from './train-lens.js';
export { HELP } from './help.js';
export { packageVersion } from './version.js';

export type CliCommand =
  | { command: 'help' }
  | { command: 'version' }
  | ({ command: 'run' } & CliRunOptions)
  | ({ command: 'pull' } & CliPullOptions)
  | ({ command: 'convert' } & CliConvertOptions)
  | ({ command: 'steer' } & CliSteerOptions)
  | ({ command: 'batch' } & CliBatchOptions)
  | ({ command: 'models' } & CliModelsOptions)
  | ({ command: 'train-lens' } & CliTrainLensOptions)
  | { command: 'serve'; argv: string[] }
  | { command: 'rpc-server'; argv: string[] };

/** Parses the command line (without `node` and the script). Throws InvalidParameterError. No I/O. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  switch (argv[0]) {
    case 'batch':
      return parseBatchArgs(argv.slice(1));
    case 'models':
      return parseModelsArgs(argv.slice(1));
    case 'pull':
      return parsePullArgs(argv.slice(1));
    case 'convert':
      return parseConvertArgs(argv.slice(1));
    case 'steer':
      return parseSteerArgs(argv.slice(1));
    case 'train-lens':
      return parseTrainLensArgs(argv.slice(1));
    case 'serve':
      // serve parses its own flags (and has its own --help)
      return { command: 'serve', argv: argv.slice(1) };
    case 'rpc-server':
      // rpc-server parses its own flags (and has its own --help)
      return { command: 'rpc-server', argv: argv.slice(1) };
    default:
      return parseLensArgs(argv);
  }
}

/** Runs the command; returns the exit code (0 ok, 1 runtime error, 2 usage error). Never throws. */
export async function main(argv: readonly string[], cliIO: CliIO = {}): Promise<number> {
  const io = withDefaults(cliIO);
  try {
    const cmd = parseCliArgs(argv);
    switch (cmd.command) {
      case 'help':
        io.stdout.write(HELP);
        break;
      case 'version':
        io.stdout.write(packageVersion() + '\n');
        break;
      case 'serve': {
        const { serveCommand } = await import('./serve.js');
        return await serveCommand(cmd.argv, io);
      }
      case 'rpc-server': {
        const { rpcServerCommand } = await import('./rpc-server.js');
        return await rpcServerCommand(cmd.argv, io);
      }
      case 'pull':
        await pullCommand(cmd, io);
        break;
      case 'convert':
        await convertCommand(cmd, io);
        break;
      case 'steer':
        await steerCommand(cmd, io);
        break;
      case 'batch':
        await batchCommand(cmd, io);
        break;
      case 'models':
        await modelsCommand(cmd, io);
        break;
      case 'train-lens':
        await trainLensCommand(cmd, io);
        break;
      case 'run':
        await lensCommand(cmd, io);
        break;
    }
    return EXIT_OK;
  } catch (err) {
    return reportError(io.stderr, err);
  }
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === pathToFileURL(realpathSync(fileURLToPath(import.meta.url))).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK); // `layerlens ... | head`
    throw err;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
