// Saves a tuned lens in the tuned-lens package's own format, a folder that `TunedLens.from_model_and_pretrained`
// (Python) and loadTunedLens read: config.json and params.pt (torch.save of the translators' state dict,
// an nn.ModuleList of Linear layers: keys `{i}.weight` [d, d] and `{i}.bias` [d]).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { torchSaveStateDict, type SavedTensor } from './torch-save.js';
import type { TunedLens } from './tuned-lens.js';

/** config.json as the tuned-lens package writes it. `unembedHash` is layerlens's own fingerprint (see saveTunedLens). */
export function tunedLensConfigJSON(lens: TunedLens, revision: string | null = null): Record<string, unknown> {
  const { config } = lens;
  return {
    base_model_name_or_path: config.baseModel,
    d_model: config.dModel,
    num_hidden_layers: config.numLayers,
    bias: config.bias,
    base_model_revision: revision,
    unembed_hash: config.unembedHash ?? null,
    lens_type: 'linear_tuned_lens',
  };
}

/** params.pt's bytes: the translators as torch.save(lens.layer_translators.state_dict()) writes them. */
export function tunedLensParams(lens: TunedLens): Uint8Array {
  const d = lens.config.dModel;
  const tensors: SavedTensor[] = lens.translators.flatMap((t, i) => [
    { name: `${i}.weight`, shape: [d, d], data: t.weight },
    ...(t.bias ? [{ name: `${i}.bias`, shape: [d], data: t.bias }] : []),
  ]);
  return torchSaveStateDict(tensors, ['', ...lens.translators.map((_, i) => String(i))]);
}

/** Writes `dir/config.json` and `dir/params.pt`, each through a temporary file and a rename. */
export async function saveTunedLens(lens: TunedLens, dir: string, options: { revision?: string | null } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const put = async (name: string, data: string | Uint8Array) => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, join(dir, name));
  };
  await put('params.pt', tunedLensParams(lens));
  await put('config.json', JSON.stringify(tunedLensConfigJSON(lens, options.revision ?? null), null, 2) + '\n');
}
