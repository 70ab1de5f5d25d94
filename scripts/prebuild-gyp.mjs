#!/usr/bin/env node
// Stands in for node-gyp when prebuildify runs (`npm run prebuild`): prebuildify calls
// `<node-gyp> rebuild --target=… --release …` and then takes the .node file from build/Release.
// layerlens builds with CMake, so this ignores node-gyp's arguments and runs the regular install
// build in portable mode (x86-64-v3 kernels rather than the build machine's). N-API builds do not
// depend on the Node version, so --target does not matter.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!process.argv.includes('rebuild')) {
  console.error(`prebuild-gyp: only "rebuild" is supported (got: ${process.argv.slice(2).join(' ')})`);
  process.exit(2);
}
execFileSync(process.execPath, [join(root, 'scripts', 'install.mjs'), '--force'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LAYERLENS_PORTABLE: '1', LAYERLENS_CUDA: '' },
});
