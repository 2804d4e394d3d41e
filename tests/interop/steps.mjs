// The stdio protocol the interop scripts speak with tests/test_interop.py (rp.mjs, resource.mjs):
// one JSON object per line on stdout, a step's result or what the library threw; lines from the
// test (a callback URL, "approved") on stdin.
import { createInterface } from 'node:readline'

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
let failures = 0

export async function readLine() {
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed while waiting for the test')
  return value.trim()
}

export function emit(step, fields) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + '\n')
}

// The user's part: the test takes the browser to `url` and hands back the callback URL it reached.
export async function authorize(url) {
  emit('authorize', { url: url.href })
  return readLine()
}

// What a library threw, as far as it tells: its OAuth error and status, the response it read.
export function describe(error) {
  const out = { name: error?.name, message: error?.message, code: error?.code }
  if (error?.error) out.error = error.error
  if (error?.status) out.status = error.status
  const cause = error?.cause
  if (cause !== undefined) {
    if (cause instanceof Response) {
      out.cause = { status: cause.status, headers: Object.fromEntries(cause.headers) }
    } else if (cause instanceof Error) {
      out.cause = { name: cause.name, message: cause.message, code: cause.code }
    } else {
      try { out.cause = JSON.parse(JSON.stringify(cause)) } catch { out.cause = String(cause) }
    }
  }
  return out
}

// Run one step: its result is printed; a throw is printed too and the step's value is undefined.
export async function step(name, fn) {
  try {
    const { result, ...fields } = (await fn()) ?? {}
    emit(name, { ok: true, ...fields })
    return result ?? true
  } catch (error) {
    failures += 1
    emit(name, { ok: false, error: describe(error) })
    return undefined
  }
}

// The last line, then leave: stdin stays open for readLine.
export function done() {
  emit('done', { failures })
  process.exit(0)
}
