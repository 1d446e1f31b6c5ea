#!/usr/bin/env python3
"""imgapi beside ONNX Runtime on the same weights: the SD-Turbo-shaped UNet step and VAE decode
at 512x512, timed in alternation (imgapi, ONNX Runtime, imgapi, ...) so that the machine's drift
touches both, with ratios (issue 30).

    bench/onnx/run.py [--imgapi build/imgapi] [--workdir /tmp/imgapi-onnx] [--runs 3]
                      [--rounds 2] [--threads 2] [--checkpoint FILE]

What it sets up in WORKDIR (nothing of it is committed):
- the checkpoint: FILE, or a random-weight SD-Turbo file made by tools/make_random_checkpoint.py;
- ONNX Runtime: `npm install --ignore-scripts onnxruntime-node` (its CPU library ships in the
  package; the install script only fetches optional GPU parts);
- the ONNX graphs: bench/onnx/export.py (Debian's python3-torch), fp32, opset 17.
Before timing, one latent goes through both decoders and their images are compared. ONNX
Runtime runs with its CPU provider, THREADS intra-op threads and every graph optimisation
(time_ort.mjs); imgapi with `imgapi bench` (1024x1024 at quality low: a 512x512 working size,
one step of SD-Turbo's profile) on the same file. Medians of RUNS per round; a warm-up run of
ONNX Runtime is not counted, and imgapi's stages are its own medians. Prints figures; never
fails on a time."""
import argparse
import array
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TOKENIZER = os.path.join(ROOT, "..", "shared", "golden", "tokenizer", "bpe_simple_vocab_16e6.txt.gz")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def setup(a):
    os.makedirs(a.workdir, exist_ok=True)
    ckpt = a.checkpoint or os.path.join(a.workdir, "sd-turbo-random.safetensors")
    if not os.path.exists(ckpt):
        print(f"making {ckpt} (random SD-Turbo weights, F16)", file=sys.stderr)
        sh([sys.executable, os.path.join(ROOT, "tools", "make_random_checkpoint.py"), "sd-turbo", ckpt])
    if not os.path.exists(os.path.join(a.workdir, "node_modules", "onnxruntime-node")):
        print("npm install --ignore-scripts onnxruntime-node", file=sys.stderr)
        sh(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "onnxruntime-node"], cwd=a.workdir)
    onnx = os.path.join(a.workdir, "onnx")
    if not os.path.exists(os.path.join(onnx, "vae_decoder.onnx")):
        print("exporting the UNet and the VAE decoder to ONNX (a few minutes)", file=sys.stderr)
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        sh([py, os.path.join(HERE, "export.py"), ckpt, onnx])
    a.ckpt = ckpt
    conf = os.path.join(a.workdir, "imgapi.conf")
    with open(conf, "w") as f:
        f.write(f"model.sdt.checkpoint = {ckpt}\nmodel.sdt.tokenizer = {TOKENIZER}\nmodel.sdt.profile = turbo\n")
    return conf, onnx


def read_st_f32(path, name):
    """One float32 tensor of a safetensors file, as an array('f')."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        d = json.loads(f.read(n))[name]
        f.seek(8 + n + d["data_offsets"][0])
        out = array.array("f")
        out.frombytes(f.read(d["data_offsets"][1] - d["data_offsets"][0]))
    return out


def same_decoder(a, ckpt, onnx):
    """Whether the exported decoder computes what imgapi's does: one 64x64 latent through both
    (`imgapi debug vae-decoder` takes the VAE's own latent; the graph divides by 0.18215 first),
    max |difference| over max |value|."""
    n, s = 4 * 64 * 64, 12345
    z = array.array("f")
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2**32
        z.append((s / 2**32) * 4 - 2)
    raw = os.path.join(a.workdir, "check_z.f32")
    array.array("f", (v * 0.18215 for v in z)).tofile(open(raw, "wb"))
    header = json.dumps({"z": {"dtype": "F32", "shape": [1, 4, 64, 64], "data_offsets": [0, 4 * n]}}).encode()
    zin = os.path.join(a.workdir, "check_z.safetensors")
    with open(zin, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header + z.tobytes())
    ort_out, ours_out = os.path.join(a.workdir, "check_ort.f32"), os.path.join(a.workdir, "check_imgapi.safetensors")
    sh(["node", os.path.join(HERE, "time_ort.mjs"), os.path.join(onnx, "vae_decoder.onnx"), "vae", "64", "1",
        str(a.threads), raw, ort_out], cwd=a.workdir)
    sh([a.imgapi, "debug", "vae-decoder", "--weights", ckpt, "--inputs", zin, "--out", ours_out])
    theirs = array.array("f")
    theirs.frombytes(open(ort_out, "rb").read())
    ours = read_st_f32(ours_out, "image")
    if len(ours) != len(theirs):
        return float("inf")
    return max(abs(x - y) for x, y in zip(ours, theirs)) / max(abs(y) for y in theirs)


def time_imgapi(a, conf):
    out = sh([a.imgapi, "bench", "--config", conf, "--model", "sdt", "--size", "1024x1024", "--quality", "low",
              "--runs", str(a.runs), "--threads", str(a.threads)])
    got = {}
    for line in out.splitlines():
        m = re.match(r"(unet step|decoder)\s+([0-9.]+)", line)
        if m and m.group(1) not in got:
            got[m.group(1)] = float(m.group(2))
        m = re.search(r"measured peak fp32 ([0-9.]+) GFLOP/s", line)
        if m:
            got["peak"] = float(m.group(1))
    return got


def time_ort(a, onnx, kind):
    model = os.path.join(onnx, "unet", "unet.onnx") if kind == "unet" else os.path.join(onnx, "vae_decoder.onnx")
    out = sh(["node", os.path.join(HERE, "time_ort.mjs"), model, kind, "64", str(a.runs), str(a.threads)],
             cwd=a.workdir)
    return statistics.median(json.loads(out.strip().splitlines()[-1])["runs_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--imgapi", default=os.path.join(ROOT, "build", "imgapi"))
    ap.add_argument("--workdir", default="/tmp/imgapi-onnx")
    ap.add_argument("--checkpoint")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    a.imgapi = os.path.abspath(a.imgapi)
    if not shutil.which("node"):
        sys.exit("bench/onnx/run.py needs node and npm")
    conf, onnx = setup(a)
    ver = json.load(open(os.path.join(a.workdir, "node_modules", "onnxruntime-node", "package.json")))["version"]
    err = same_decoder(a, a.ckpt, onnx)
    print(f"the same network: the VAE decoder's image through ONNX Runtime and through imgapi differ by "
          f"{err:.1e} of its range (fp32; imgapi's golden tolerance is 1e-4)", flush=True)
    rows = []
    for r in range(a.rounds):
        im = time_imgapi(a, conf)
        ort_unet, ort_vae = time_ort(a, onnx, "unet"), time_ort(a, onnx, "vae")
        rows.append((im["unet step"], ort_unet, im["decoder"], ort_vae, im.get("peak", 0)))
        print(f"round {r + 1}: UNet step imgapi {im['unet step']:.3f} s, ONNX Runtime {ort_unet:.3f} s "
              f"({im['unet step'] / ort_unet:.2f}); VAE decode imgapi {im['decoder']:.3f} s, ONNX Runtime "
              f"{ort_vae:.3f} s ({im['decoder'] / ort_vae:.2f}); fp32 peak {im.get('peak', 0):.0f} GFLOP/s",
              flush=True)
    print(f"\nSD-Turbo shapes, random weights, 512x512, {a.threads} threads, medians of {a.runs} per round, "
          f"{a.rounds} rounds alternated; ONNX Runtime {ver} (onnxruntime-node, CPU provider, fp32, all graph "
          f"optimisations)")
    print("| stage | imgapi | ONNX Runtime | imgapi / ONNX Runtime |")
    print("|---|---|---|---|")
    for name, i, o in (("UNet step", 0, 1), ("VAE decode", 2, 3)):
        ours = [x[i] for x in rows]
        theirs = [x[o] for x in rows]
        ratios = [x[i] / x[o] for x in rows]
        print(f"| {name} | {min(ours):.3f}-{max(ours):.3f} s | {min(theirs):.3f}-{max(theirs):.3f} s | "
              f"{min(ratios):.2f}-{max(ratios):.2f} |")


if __name__ == "__main__":
    main()
