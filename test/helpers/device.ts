// The device the engine tests run on: CPU by default; scripts/gpu-check.sh sets
// LAYERLENS_TEST_DEVICE=cuda to run the same suite, with the same tolerances, on the GPU.
import type { Device } from '../../lib/index.js';

export function testDevice(): Device {
  const d = process.env.LAYERLENS_TEST_DEVICE ?? 'cpu';
  if (!['auto', 'cpu', 'cuda', 'metal'].includes(d)) throw new Error(`LAYERLENS_TEST_DEVICE must be auto, cpu, cuda or metal, got ${d}`);
  return d as Device;
}
