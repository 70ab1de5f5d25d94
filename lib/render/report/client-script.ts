// The browser client (lib/render/report/client/, TypeScript with the DOM lib) as the one script the page
// inlines. A published build reads it from client.bundle.js next to this module, which
// scripts/build-client.mjs writes at build time (npm run build:ts / prepare), so users never need
// esbuild. Running from the TypeScript sources (tests, development) there is no such file next to this
// module: the client is bundled from its sources on first use, with esbuild (a devDependency).

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as esbuildModule from 'esbuild';

/** The bundled client's file name, next to this module in dist/render/report/. */
export const CLIENT_BUNDLE_NAME = 'client.bundle.js';

/** The client's entry point, relative to this module (present in the sources, not in dist/). */
const SOURCE_ENTRY = new URL('./client/main.ts', import.meta.url);

/**
 * Bundles the client from its entry point into one classic script (an IIFE, ES2020, ASCII only, with
 * "use strict"): no imports or exports left, so it runs inline in the page and in node:vm.
 * Needs the esbuild package.
 */
export function bundleClient(entry: string = fileURLToPath(SOURCE_ENTRY)): string {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof esbuildModule;
  const result = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    charset: 'ascii',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

let script: string | undefined;

/** The client script for the page: the built bundle, else (running from sources) bundled now. */
export function clientScript(): string {
  if (script === undefined) {
    const built = new URL(`./${CLIENT_BUNDLE_NAME}`, import.meta.url);
    if (existsSync(built)) script = readFileSync(built, 'utf8');
    else if (existsSync(SOURCE_ENTRY)) script = bundleClient();
    else {
      throw new Error(`layerlens: the browser client is not built: ${fileURLToPath(built)} is missing (run "npm run build:ts", which bundles it)`);
    }
  }
  return script;
}
