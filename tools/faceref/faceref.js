// Reference harness (tests and benchmarks only): runs @vladmandic/face-api on
// the tfjs wasm backend over raw images and prints JSON.
//   node faceref.js expression FILE            logits and probabilities per image
//   node faceref.js detect FILE INPUT_SIZE     raw detector output and boxes per image
//   node faceref.js bench-expression FILE N    faces/s of predictExpressions over N passes
//   node faceref.js bench-detect FILE SIZE N   frames/s of detectAllFaces
// FILE holds records: uint32le width, height, channels (1 or 3), then the pixels.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

function readRecords(file) {
  const b = fs.readFileSync(file);
  const out = [];
  for (let off = 0; off < b.length;) {
    const w = b.readUInt32LE(off), h = b.readUInt32LE(off + 4), c = b.readUInt32LE(off + 8);
    off += 12;
    const px = new Uint8Array(b.buffer, b.byteOffset + off, w * h * c);
    off += w * h * c;
    out.push({ w, h, c, px });
  }
  return out;
}

function tensorOf(r) {
  // Grey images become three equal channels, as a browser canvas would give.
  const rgb = new Float32Array(r.w * r.h * 3);
  for (let i = 0; i < r.w * r.h; i++) {
    for (let k = 0; k < 3; k++) rgb[i * 3 + k] = r.c === 1 ? r.px[i] : r.px[i * 3 + k];
  }
  return tf.tensor3d(rgb, [r.h, r.w, 3]);
}

async function main() {
  const [mode, file, arg] = process.argv.slice(2);
  // WASM_THREADS=1: one thread, to compare with one Go core.
  if (process.env.WASM_THREADS) wasm.setThreadsCount(Number(process.env.WASM_THREADS));
  await tf.setBackend('wasm');
  await tf.ready();
  const dir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.faceExpressionNet.loadFromDisk(dir);
  await faceapi.nets.tinyFaceDetector.loadFromDisk(dir);
  const recs = readRecords(file);
  const out = { backend: tf.getBackend(), results: [] };
  if (mode === 'expression') {
    for (const r of recs) {
      const t = tensorOf(r);
      const logits = await faceapi.nets.faceExpressionNet.forward(t);
      const probs = await faceapi.nets.faceExpressionNet.predictExpressions(t);
      out.results.push({ logits: Array.from(await logits.data()), probs });
      logits.dispose(); t.dispose();
    }
  } else if (mode === 'detect') {
    const size = Number(arg || 416);
    for (const r of recs) {
      const t = tensorOf(r);
      const raw = await faceapi.nets.tinyFaceDetector.forward(t, size);
      const dets = await faceapi.detectAllFaces(t, new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: 0.5 }));
      out.results.push({ shape: raw.shape, raw: Array.from(await raw.data()),
        boxes: dets.map((d) => ({ x: d.box.x, y: d.box.y, w: d.box.width, h: d.box.height, score: d.score })) });
      raw.dispose(); t.dispose();
    }
  } else if (mode === 'bench-expression' || mode === 'bench-detect') {
    const n = Number(process.argv[mode === 'bench-detect' ? 5 : 4] || 1);
    const size = Number(arg || 320);
    const ts = recs.map(tensorOf);
    const run = async (t) => (mode === 'bench-expression'
      ? faceapi.nets.faceExpressionNet.predictExpressions(t)
      : faceapi.detectAllFaces(t, new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: 0.5 })));
    await run(ts[0]); // warm-up
    const t0 = process.hrtime.bigint();
    let count = 0;
    for (let i = 0; i < n; i++) for (const t of ts) { await run(t); count++; }
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    out.results.push({ items: count, seconds: sec, per_second: count / sec, threads: wasm.getThreadsCount ? wasm.getThreadsCount() : (process.env.WASM_THREADS || 'default') });
  } else {
    throw new Error('mode: expression, detect, bench-expression or bench-detect');
  }
  process.stdout.write(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
