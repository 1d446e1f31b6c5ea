// Times an ONNX model under ONNX Runtime's CPU provider (onnxruntime-node), as bench/onnx/run.py
// asks: node time_ort.mjs MODEL.onnx unet|vae LATENT_SIDE RUNS THREADS [IN.f32 OUT.f32]
// Prints one JSON line: {"load_s": ..., "runs_s": [...]} (a warm-up run first, not counted).
// With IN and OUT (the VAE only): the latent is read from IN (raw little-endian float32) and the
// image of the warm-up run written to OUT, so that run.py can compare it with imgapi's.
import { createRequire } from "node:module";
import process from "node:process";

const require = createRequire(process.cwd() + "/");
const ort = require("onnxruntime-node");
const [model, kind, sideArg, runsArg, threadsArg, inPath, outPath] = process.argv.slice(2);
const fs = require("node:fs");
const side = Number(sideArg), runs = Number(runsArg), threads = Number(threadsArg);

function random(n) { // deterministic inputs: the values do not change the time
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}

const t0 = performance.now();
const session = await ort.InferenceSession.create(model, {
  executionProviders: ["cpu"],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
});
const load_s = (performance.now() - t0) / 1000;
const feeds = kind === "unet"
  ? {
      x: new ort.Tensor("float32", random(4 * side * side), [1, 4, side, side]),
      t: new ort.Tensor("int64", BigInt64Array.from([999n]), [1]),
      context: new ort.Tensor("float32", random(77 * 1024), [1, 77, 1024]),
    }
  : {
      z: new ort.Tensor("float32", inPath ? new Float32Array(fs.readFileSync(inPath).buffer.slice(0))
                                          : random(4 * side * side), [1, 4, side, side]),
    };
const first = await session.run(feeds);
if (outPath) fs.writeFileSync(outPath, Buffer.from(first[session.outputNames[0]].data.buffer));
const runs_s = [];
for (let r = 0; r < runs; r++) {
  const a = performance.now();
  await session.run(feeds);
  runs_s.push((performance.now() - a) / 1000);
}
console.log(JSON.stringify({ load_s, runs_s }));
