#!/usr/bin/env node
// Bundles the browser client (lib/render/report/client/) into dist/render/report/client.bundle.js, the
// script the HTML report and the web viewer inline, so that the published package needs no esbuild.
// Runs after `tsc -p tsconfig.build.json` (npm run build:ts, prepare): it uses the compiled bundler
// settings in dist/render/report/client-script.js, the same ones the sources use when run directly.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { bundleClient, CLIENT_BUNDLE_NAME } = await import('../dist/render/report/client-script.js');

const script = bundleClient(join(root, 'lib', 'render', 'report', 'client', 'main.ts'));
if (script.toLowerCase().includes('</script')) throw new Error('the client bundle contains "</script"');
const out = join(root, 'dist', 'render', 'report', CLIENT_BUNDLE_NAME);
writeFileSync(out, script);
console.log(`client bundle: ${out} (${Buffer.byteLength(script)} bytes)`);
