#!/usr/bin/env node
// Prints the addon's C++ sources for binding.gyp (`<!@(node scripts/native-sources.mjs)`): every
// native/**/*.cpp except the standalone test and fuzz programs, which have their own main().
// gyp needs the list at configure time and has no glob; listing the files here keeps a new
// source file from being left out of the node-gyp build while CMakeLists.txt globs it.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const standalone = new Set(['native/test', 'native/fuzz']);

function cppFiles(dir) {
  const found = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!standalone.has(path)) found.push(...cppFiles(path));
    } else if (entry.name.endsWith('.cpp')) {
      found.push(path);
    }
  }
  return found;
}

process.stdout.write(cppFiles('native').sort().join('\n') + '\n');
