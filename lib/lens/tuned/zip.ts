// The entries of an uncompressed ("stored") zip archive, as torch.save writes it: only the central
// directory is trusted for names and sizes, every offset is checked against the file before it is read,
// and compressed entries are refused (torch never compresses; a hostile file gains nothing by it).

/** name → the entry's bytes (a view into the archive buffer). */
export type ZipEntries = Map<string, Uint8Array>;

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;

function fail(what: string, message: string): never {
  throw new Error(`${what}: not a readable torch zip archive: ${message}`);
}

/** A 64-bit little-endian length that must be a safe integer. */
function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(what, `a 64-bit size ${v} is too large`);
  return Number(v);
}

/** Reads the central directory of `bytes`; `what` names the file in error messages. */
export function readStoredZip(bytes: Uint8Array, what: string): ZipEntries {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.byteLength;
  if (size < 22) fail(what, `only ${size} bytes`);
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let at = size - 22; at >= Math.max(0, size - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === EOCD_SIG) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail(what, 'no end-of-central-directory record');
  let count = view.getUint16(eocd + 10, true);
  let dirOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || dirOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) fail(what, 'ZIP64 sizes without a ZIP64 locator');
    const z = u64(view, loc + 8, what);
    if (z + 56 > size || view.getUint32(z, true) !== ZIP64_EOCD_SIG) fail(what, 'the ZIP64 end record is out of range');
    count = u64(view, z + 32, what);
    dirOffset = u64(view, z + 48, what);
  }
  const entries: ZipEntries = new Map();
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > size || view.getUint32(at, true) !== CENTRAL_SIG) fail(what, `central directory entry ${i} is out of range or damaged`);
    const method = view.getUint16(at + 10, true);
    let compressed = view.getUint32(at + 20, true);
    let plain = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    let local = view.getUint32(at + 42, true);
    const end = at + 46 + nameLen + extraLen + commentLen;
    if (end > size) fail(what, `central directory entry ${i} runs past the end of the file`);
    const name = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(at + 46, at + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit values of whichever 32-bit fields are saturated, in order.
    for (let x = at + 46 + nameLen; x + 4 <= at + 46 + nameLen + extraLen;) {
      const id = view.getUint16(x, true);
      const len = view.getUint16(x + 2, true);
      if (id === 1) {
        let p = x + 4;
        const take = () => {
          if (p + 8 > x + 4 + len) fail(what, `entry ${name}: short ZIP64 extra field`);
          const v = u64(view, p, what);
          p += 8;
          return v;
        };
        if (plain === 0xffffffff) plain = take();
        if (compressed === 0xffffffff) compressed = take();
        if (local === 0xffffffff) local = take();
      }
      x += 4 + len;
    }
    if (method !== 0) fail(what, `entry ${name} is compressed (method ${method}); torch.save writes stored entries only`);
    if (compressed !== plain) fail(what, `entry ${name} is stored but its sizes differ (${compressed} ≠ ${plain})`);
    if (local + 30 > size || view.getUint32(local, true) !== LOCAL_SIG) fail(what, `entry ${name}: local header out of range or damaged`);
    const data = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (data + plain > size) fail(what, `entry ${name}: ${plain} bytes at offset ${data} run past the end of the file (${size} bytes)`);
    if (entries.has(name)) fail(what, `entry ${name} appears twice`);
    entries.set(name, bytes.subarray(data, data + plain));
    at = end;
  }
  return entries;
}
