// Reads a torch.save file (the zip format of torch ≥ 1.6) holding a state dict of f32/f16/bf16 tensors:
// `<stem>/data.pkl` through the restricted unpickler, storages from `<stem>/data/<key>`. Every tensor's
// size, stride and offset are checked against its storage before a single value is copied, so a hostile
// file cannot make us allocate more than the storage bytes it actually contains.
import { PyDict, PyGlobal, PyTuple, unpickle, type TensorRecord } from './pickle.js';
import { readStoredZip } from './zip.js';
import { widenToFloat32, type TensorDtype } from './dtype.js';

/** A state dict entry widened to float32, row-major. */
export interface LoadedTensor {
  dtype: TensorDtype;
  shape: number[];
  data: Float32Array;
}

const STORAGE_DTYPES: Record<string, TensorDtype> = { FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16' };
const ITEM_SIZE: Record<TensorDtype, number> = { F32: 4, F16: 2, BF16: 2 };

interface StorageRef {
  kind: 'storage';
  dtype: TensorDtype;
  bytes: Uint8Array;
  numel: number;
}

/** The state dict in a torch.save zip: name → tensor. */
export function loadTorchStateDict(file: Uint8Array, what: string): Map<string, LoadedTensor> {
  const entries = readStoredZip(file, what);
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) throw new Error(`${what}: expected one <stem>/data.pkl in the archive, found ${pickles.length}`);
  const stem = pickles[0].slice(0, -'/data.pkl'.length);

  const persistentLoad = (pid: unknown): StorageRef => {
    // ('storage', torch.<T>Storage, key, location, numel)
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage')
      throw new Error(`${what}: a persistent id that is not a storage tuple`);
    const [, type, key, , numel] = pid.items;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_DTYPES)) throw new Error(`${what}: unsupported storage type`);
    if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) throw new Error(`${what}: malformed storage id`);
    const dtype = STORAGE_DTYPES[type.name];
    const bytes = entries.get(`${stem}/data/${key}`);
    if (!bytes) throw new Error(`${what}: storage ${key} is missing from the archive`);
    const need = (numel as number) * ITEM_SIZE[dtype];
    if (bytes.length < need) throw new Error(`${what}: storage ${key} declares ${numel} ${dtype} values (${need} bytes) but holds ${bytes.length} bytes`);
    return { kind: 'storage', dtype, bytes, numel: numel as number };
  };

  const root = unpickle(entries.get(pickles[0])!, { persistentLoad, what });
  if (!(root instanceof PyDict)) throw new Error(`${what}: the pickle is not a state dict`);
  const out = new Map<string, LoadedTensor>();
  for (const [name, value] of root.entries) {
    if (typeof name !== 'string') throw new Error(`${what}: state dict key ${name} is not a string`);
    out.set(name, materialize(value as TensorRecord, `${what}: ${name}`));
  }
  return out;
}

/** Copies a contiguous tensor out of its storage after checking that it fits. */
function materialize(t: TensorRecord, what: string): LoadedTensor {
  if (t?.kind !== 'tensor') throw new Error(`${what} is not a tensor`);
  const s = t.storage as StorageRef;
  if (s?.kind !== 'storage') throw new Error(`${what}: tensor without a storage`);
  if (t.size.length !== t.stride.length) throw new Error(`${what}: size has ${t.size.length} dimensions but stride ${t.stride.length}`);
  let numel = 1;
  for (const n of t.size) {
    if (n < 0) throw new Error(`${what}: negative size ${n}`);
    numel *= n;
    if (numel > s.numel) throw new Error(`${what}: size [${t.size}] needs more values than its storage holds (${s.numel})`);
  }
  // Row-major contiguous strides only (what state dicts of Linear layers hold).
  let expected = 1;
  for (let i = t.size.length - 1; i >= 0; i--) {
    if (t.size[i] > 1 && t.stride[i] !== expected)
      throw new Error(`${what}: non-contiguous stride [${t.stride}] for size [${t.size}]; only row-major tensors are read`);
    expected *= t.size[i];
  }
  if (t.offset < 0 || t.offset + numel > s.numel) throw new Error(`${what}: offset ${t.offset} + ${numel} values runs past its storage of ${s.numel}`);
  const item = ITEM_SIZE[s.dtype];
  const bytes = s.bytes.subarray(t.offset * item, (t.offset + numel) * item);
  return { dtype: s.dtype, shape: [...t.size], data: widenToFloat32(bytes, s.dtype) };
}
