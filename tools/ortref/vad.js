// Runs the Silero VAD v5 ONNX model in onnxruntime over raw 16 kHz float32
// little-endian audio, 512 samples a step with the previous 64 as context
// and the LSTM state carried, and prints the speech probabilities as JSON.
//   node vad.js MODEL AUDIO.f32                  -> {"probs":[...]}
//   node vad.js MODEL AUDIO.f32 --bench SECONDS  -> {"audio_s":…,"cpu_s":…}
// Used to make the test fixture once and as the benchmark baseline.
const fs = require("fs");
const ort = require("onnxruntime-node");

async function main() {
  const [model, audioPath, flag, secs] = process.argv.slice(2);
  const buf = fs.readFileSync(audioPath);
  let audio = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  if (flag === "--bench") {
    const want = Math.round(Number(secs) * 16000);
    const long = new Float32Array(want);
    for (let i = 0; i < want; i += audio.length) long.set(audio.subarray(0, Math.min(audio.length, want - i)), i);
    audio = long;
  }
  const sess = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const sr = new ort.Tensor("int64", BigInt64Array.from([16000n]), []);
  let state = new ort.Tensor("float32", new Float32Array(2 * 128), [2, 1, 128]);
  const ctx = new Float32Array(64);
  const x = new Float32Array(576);
  const probs = [];
  const t0 = process.cpuUsage();
  for (let i = 0; i + 512 <= audio.length; i += 512) {
    x.set(ctx, 0);
    x.set(audio.subarray(i, i + 512), 64);
    ctx.set(audio.subarray(i + 448, i + 512));
    const out = await sess.run({ input: new ort.Tensor("float32", x.slice(), [1, 576]), state, sr });
    state = out.stateN;
    probs.push(out.output.data[0]);
  }
  const cpu = process.cpuUsage(t0);
  if (flag === "--bench") {
    console.log(JSON.stringify({ audio_s: audio.length / 16000, cpu_s: (cpu.user + cpu.system) / 1e6, steps: probs.length }));
  } else {
    console.log(JSON.stringify({ probs: probs.map((p) => Math.round(p * 1e6) / 1e6) }));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
