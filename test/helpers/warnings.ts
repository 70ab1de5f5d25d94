// Node delivers process.emitWarning() on a later turn of the event loop, as a 'warning' event: a test
// that checks a warning listens around the call and waits that turn.

/** The process warnings that `f` emits (`f` is awaited; its errors are thrown on). */
export async function warningsDuring(f: () => unknown): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    await f();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}
