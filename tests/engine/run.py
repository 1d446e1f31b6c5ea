"""Engine parity against ../shared/golden (made with the original reference code), through the
`imgapi debug` command, on every kernel path the CPU has; plus hostile model files."""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from golden import BF16, load, rel_err, save  # noqa: E402
from harness import main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
GOLDEN = os.environ.get("IMGAPI_GOLDEN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "golden"))
TMP = tempfile.mkdtemp(prefix="imgapi-engine-")


def cpu_isas():
    flags = open("/proc/cpuinfo").read()
    isas = ["portable"]
    if " avx2" in flags and " fma" in flags:
        isas.append("avx2")
    if " avx512f" in flags:
        isas.append("avx512")
    return isas


# Precision bf16 (weights and activations rounded to bfloat16, products summed in f32) against
# the same f32 references: its own tolerance, max|out - ref| <= tol * max|ref|, about three times
# the worst measured (UNets 0.6-1.3e-2, their intermediates 1.3e-2, the VAE image 2.4e-2, on the
# portable, AVX512-BF16 and AMX kernels). The portable kernels do its arithmetic on every CPU;
# the avx512 level runs AMX or AVX512-BF16 where the CPU has them.
BF16_TOL = {"text": 2e-2, "unet": 3e-2, "vae": 6e-2}


def bf16_paths():
    flags = open("/proc/cpuinfo").read()
    return ["portable"] + (["avx512"] if " avx512_bf16" in flags else [])


def kernel_paths():
    """(label, debug flags, precision) for every path: each isa in fp32, then bf16 ones."""
    paths = [(isa, ["--isa", isa], "fp32") for isa in cpu_isas()]
    return paths + [(f"{isa}-bf16", ["--isa", isa, "--precision", "bf16"], "bf16") for isa in bf16_paths()]


def debug(component, weights, inputs, out, *extra, check=True):
    p = subprocess.run([BIN, "debug", component, "--weights", weights, "--inputs", inputs, "--out", out, *extra],
                       capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"debug {component} failed: {p.stderr}")
    return p


def g(*parts):
    return os.path.join(GOLDEN, *parts)


def check_tokenizer_output(out_path):
    ref = {c["name"]: c for c in json.load(open(g("tokenizer", "cases.json")))["cases"]}
    out = json.load(open(out_path))["cases"]
    assert len(out) == len(ref) == 32
    for c in out:
        r = ref[c["name"]]
        for k in ("bpe_ids", "tokens_77_pad0", "tokens_77_pad_eot"):
            assert c[k] == r[k], (c["name"], k, c[k][:20], r[k][:20])
        assert c["eot_index"] == r["eot_index"], c["name"]


@test
def test_tokenizer_gz_exact():
    out = os.path.join(TMP, "tok.json")
    debug("tokenizer", g("tokenizer", "bpe_simple_vocab_16e6.txt.gz"), g("tokenizer", "cases.json"), out)
    check_tokenizer_output(out)


@test
def test_tokenizer_vocab_json_merges_exact():
    """The diffusers/HF layout: vocab.json + merges.txt, written here from the BPE list."""
    import gzip
    lines = gzip.open(g("tokenizer", "bpe_simple_vocab_16e6.txt.gz")).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = [chr(c) for c in cs]
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    d = os.path.join(TMP, "tokenizer")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    out = os.path.join(TMP, "tok2.json")
    debug("tokenizer", d, g("tokenizer", "cases.json"), out)
    check_tokenizer_output(out)


def check_text_encoder(layout, pooled):
    ref = load(g(layout, "io.safetensors"))
    for isa, flags, prec in kernel_paths():
        tol = 1e-4 if prec == "fp32" else BF16_TOL["text"]
        out_path = os.path.join(TMP, f"{layout}-{isa}.safetensors")
        debug("text-encoder", g(layout, "weights.safetensors"), g(layout, "io.safetensors"), out_path, *flags,
              "--threads", "2")
        out = load(out_path)
        for name in ("last_hidden_state", "penultimate_hidden_state", "penultimate_ln_final", "hidden_states", pooled):
            e = rel_err(out[name], ref[name])
            print(f"     {layout} {isa:8s} {name:26s} rel err {e:.2e}")
            assert e <= tol, (layout, isa, name, e)


@test
def test_text_encoder_hf_layout_parity():
    check_text_encoder("clip_text_hf_layout", "pooled_unprojected")


@test
def test_text_encoder_openclip_layout_parity():
    check_text_encoder("clip_text_openai_layout", "pooled_projected")


def check_unet(family):
    d = f"unet_{family}_small"
    ref = load(g(d, "io.safetensors"))
    for isa, flags, prec in kernel_paths():
        tol = 1e-4 if prec == "fp32" else BF16_TOL["unet"]
        out_path = os.path.join(TMP, f"{d}-{isa}.safetensors")
        debug("unet", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, *flags, "--threads", "2")
        out = load(out_path)
        worst = max(rel_err(out[k], ref[k]) for k in out if k in ref and ".intermediate." in k)
        for case in ("a.out", "b.out"):
            e = rel_err(out[case], ref[case])
            print(f"     {d} {isa:8s} {case:6s} rel err {e:.2e} (worst intermediate {worst:.2e})")
            assert e <= tol, (d, isa, case, e)
        assert worst <= tol


@test
def test_unet_sd1_parity():
    check_unet("sd1")


@test
def test_unet_sd2_parity():
    check_unet("sd2")


@test
def test_unet_sdxl_parity():
    check_unet("sdxl")


@test
def test_unet_q8_weights_with_precision_bf16():
    """8-bit weights (--quantize q8, as a model's weights = q8) with precision bf16: the panels
    run on the dot-product kernels, each slice rounded to pairs; the UNet's output stays within
    the bf16 tolerance of the f32 reference on every bf16 path."""
    d = "unet_sd1_small"
    ref = load(g(d, "io.safetensors"))
    for isa in bf16_paths():
        out_path = os.path.join(TMP, f"{d}-{isa}-q8-bf16.safetensors")
        debug("unet", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, "--isa", isa, "--precision",
              "bf16", "--quantize", "q8", "--threads", "2")
        out = load(out_path)
        for case in ("a.out", "b.out"):
            e = rel_err(out[case], ref[case])
            print(f"     {d} {isa:8s} q8+bf16 {case:6s} rel err {e:.2e}")
            assert e <= BF16_TOL["unet"], (isa, case, e)


@test
def test_vae_decoder_parity():
    d = "vae_decoder_small"
    ref = load(g(d, "io.safetensors"))
    for isa, flags, prec in kernel_paths():
        tol = 1e-4 if prec == "fp32" else BF16_TOL["vae"]
        out_path = os.path.join(TMP, f"{d}-{isa}.safetensors")
        debug("vae-decoder", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, *flags)
        out = load(out_path)
        for k in out:
            if k in ref:
                e = rel_err(out[k], ref[k])
                assert e <= tol, (isa, k, e)
        e = rel_err(out["image"], ref["image"])
        print(f"     {d} {isa:8s} image rel err {e:.2e}")


@test
def test_vae_encoder_parity():
    # golden section 7: every output and intermediate, fp32 within 1e-4 on each isa; bf16 within
    # the decoder's tolerance (the encoder shares its blocks)
    d = "vae_encoder_small"
    ref = load(g(d, "io.safetensors"))
    for isa, flags, prec in kernel_paths():
        tol = 1e-4 if prec == "fp32" else BF16_TOL["vae"]
        out_path = os.path.join(TMP, f"{d}-{isa}.safetensors")
        debug("vae-encoder", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, *flags, "--threads", "2")
        out = load(out_path)
        compared = [k for k in ref if k in out]
        assert len(compared) >= 24, sorted(out)
        worst = max(rel_err(out[k], ref[k]) for k in compared)
        for k in compared:
            assert rel_err(out[k], ref[k]) <= tol, (isa, k, rel_err(out[k], ref[k]))
        print(f"     {d} {isa:8s} latent_scaled a {rel_err(out['a.latent_scaled'], ref['a.latent_scaled']):.2e} "
              f"b {rel_err(out['b.latent_scaled'], ref['b.latent_scaled']):.2e}, worst of {len(compared)} "
              f"tensors {worst:.2e}")


@test
def test_inpaint_conditioning_parity():
    # golden section 8: the 9-channel UNet's conditioning (mask threshold, masked image, nearest
    # mask latent, masked image latent, channel order) and its prediction, every tensor
    d = "unet_inpaint_small"
    ref = load(g(d, "io.safetensors"))
    for isa, flags, prec in kernel_paths():
        tol = 1e-4 if prec == "fp32" else BF16_TOL["unet"]
        out_path = os.path.join(TMP, f"{d}-{isa}.safetensors")
        debug("inpaint-condition", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, *flags,
              "--vae", g("vae_encoder_small", "weights.safetensors"), "--threads", "2")
        out = load(out_path)
        assert set(ref) <= set(out), set(ref) - set(out)
        for k in ref:
            e = rel_err(out[k], ref[k])
            exact = k.endswith((".mask", ".mask_latent", ".masked_image"))
            assert e <= (0 if exact else tol), (isa, k, e)
        print(f"     {d} {isa:8s} out a {rel_err(out['a.out'], ref['a.out']):.2e} b {rel_err(out['b.out'], ref['b.out']):.2e}, "
              f"masked latent {rel_err(out['a.masked_image_latent'], ref['a.masked_image_latent']):.2e}")
    # a 4-channel UNet is refused with the reason
    p = debug("inpaint-condition", g("unet_sd2_small", "weights.safetensors"), g(d, "io.safetensors"),
              os.path.join(TMP, "x.safetensors"), "--vae", g("vae_encoder_small", "weights.safetensors"), check=False)
    assert p.returncode == 1 and "input channels" in p.stderr, p.stderr


# the three golden networks whose weights the 16-bit tests store in other types: (folder,
# debug component, outputs compared)
NETWORKS = (("unet_sd2_small", "unet", ("a.out", "b.out")),
            ("vae_decoder_small", "vae-decoder", ("image",)),
            ("clip_text_hf_layout", "text-encoder", ("last_hidden_state",)))


def assert_same_outputs(d, component, keys, files):
    """Runs a golden network's inputs through each {name: tensors} weight file; the outputs must
    be finite and identical bit for bit."""
    import numpy as np
    outs = []
    for name, tensors in files.items():
        path = os.path.join(TMP, f"{d}-{name}.safetensors")
        save(path, tensors)
        out_path = os.path.join(TMP, f"{d}-{name}-out.safetensors")
        debug(component, path, g(d, "io.safetensors"), out_path, "--threads", "2")
        outs.append(load(out_path))
    for k in keys:
        assert np.isfinite(outs[0][k]).all(), (d, k)
        assert all(o[k].tobytes() == outs[0][k].tobytes() for o in outs[1:]), (d, k)


@test
def test_f16_checkpoints_pack_their_halves_directly():
    """An F16 checkpoint's matrices are packed straight from the file (no f32 copy): the result
    must be bit-identical to loading the same values stored as F32, for convolutions, linears
    and the fused q/k/v projections of all three networks."""
    import numpy as np
    for d, component, keys in NETWORKS:
        weights = load(g(d, "weights.safetensors"))
        half = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in weights.items()}
        wide = {k: (v.astype(np.float32) if v.dtype == np.float16 else v) for k, v in half.items()}
        assert_same_outputs(d, component, keys, {"half": half, "wide": wide})
        print(f"     {d}: F16 file == F32 file of the same values, bit for bit")


@test
def test_bf16_checkpoints_pack_as_bfloat16():
    """A BF16 checkpoint whose values are not all halves (here each matrix has one value below a
    half's range) is packed as bfloat16 panels: the result must be bit-identical to loading the
    same values stored as F32. (The panels' arithmetic against a double-precision reference is
    the unit tests'; these small random networks amplify any change of weights too much to
    compare with their F32 golden outputs: rounding them to halves moves the UNet's by 6%.)"""
    import numpy as np
    for d, component, keys in NETWORKS:
        bf = {}
        for k, v in load(g(d, "weights.safetensors")).items():
            if v.dtype == np.float32:
                v = v.copy()
                if v.ndim >= 2:
                    v.flat[0] = 3.1e-7  # not a half: the packing cannot use IEEE halves
                v = BF16(v)
            bf[k] = v
        wide = {k: (v.floats() if isinstance(v, BF16) else v) for k, v in bf.items()}
        assert_same_outputs(d, component, keys, {"bf16": bf, "wide": wide})
        print(f"     {d}: BF16 file == F32 file of the same values, bit for bit")


@test
def test_vae_decoder_tiled():
    """vae_tile: a tile at least the latent's size is the untiled decoder exactly; smaller tiles
    decode the 16x16 golden latent in overlapping tiles blended into one image of the same size
    that follows the untiled one (each tile normalises on its own, so it is not equal: with these
    random weights the correlation is about 0.86), and a wrong blend (misplaced or missing tiles)
    would not."""
    import numpy as np
    d = "vae_decoder_small"
    ref = load(g(d, "io.safetensors"))["image"]
    out_path = os.path.join(TMP, "vae-tiled.safetensors")
    debug("vae-decoder", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, "--vae-tile", "16",
          "--vae-tile-overlap", "4")
    assert rel_err(load(out_path)["image"], ref) <= 1e-4
    for tile, overlap in (("12", "4"), ("10", "4")):
        debug("vae-decoder", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, "--vae-tile", tile,
              "--vae-tile-overlap", overlap)
        img = load(out_path)["image"]
        assert img.shape == ref.shape and np.isfinite(img).all()
        corr = np.corrcoef(img.ravel(), ref.ravel())[0, 1]
        assert rel_err(img, ref) > 1e-3, "tiles were not decoded separately"
        assert corr > 0.8, (tile, corr)
        print(f"     tiles of {tile} latents (overlap {overlap}) on 16x16: correlation with untiled {corr:.3f}")
    p = debug("vae-decoder", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, "--vae-tile", "8",
              "--vae-tile-overlap", "4", check=False)
    assert p.returncode != 0 and "vae_tile_overlap" in p.stderr, p.stderr


@test
def test_schedules_and_samplers_parity():
    out_path = os.path.join(TMP, "sampler.safetensors")
    p = subprocess.run([BIN, "debug", "sampler", "--inputs", g("schedules", "io.safetensors"), "--out", out_path],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    ref, out = load(g("schedules", "io.safetensors")), load(out_path)
    names = [k for k in ref if not k.endswith(("noise_init", "ancestral_noise"))]
    assert len(names) == 33, len(names)
    worst = 0
    for k in names:
        e = rel_err(out[k], ref[k])
        worst = max(worst, e)
        assert e <= 1e-5, (k, e)
    print(f"     {len(names)} schedule/sampler tensors, worst rel err {worst:.2e}")


@test
def test_rng_matches_torch():
    import numpy as np
    out_path = os.path.join(TMP, "rng.safetensors")
    p = subprocess.run([BIN, "debug", "rng", "--inputs", g("rng", "io.safetensors"), "--out", out_path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ref, out = load(g("rng", "io.safetensors")), load(out_path)
    assert set(ref) == set(out)
    for k in ref:
        d = np.abs(out[k].astype(np.float64) - ref[k].astype(np.float64))
        # the golden README's bound: libm's cos/sin/log may differ from torch's in the last bit
        assert float(d.max()) <= 2.4e-7, (k, float(d.max()))
        if k.endswith(("rand_16", "randn_7")):
            assert np.array_equal(out[k], ref[k]), k


@test
def test_tiny_decoder_matches_numpy_reference():
    here = os.path.dirname(os.path.abspath(__file__))
    w, z, ref = (os.path.join(TMP, n) for n in ("taesd.safetensors", "lat.safetensors", "taref.safetensors"))
    subprocess.run([sys.executable, os.path.join(here, "make_tiny_decoder.py"), w, "--latent", z, "--ref", ref], check=True)
    for isa in cpu_isas():
        out = os.path.join(TMP, f"taout-{isa}.safetensors")
        debug("tiny-decoder", w, z, out, "--isa", isa)
        o = load(out)["image"]
        assert o.shape == (1, 3, 64, 64)
        assert rel_err(o, load(ref)["image"]) <= 1e-4


def metadata_of(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__")


@test
def test_text_encoder_diffusers_and_sdxl_layouts():
    """The same weights under a diffusers text_encoder's keys, and both SD encoders in one
    SDXL-style file under conditioner.embedders.{0,1}; --prefix picks one."""
    hf = load(g("clip_text_hf_layout", "weights.safetensors"))
    oc = load(g("clip_text_openai_layout", "weights.safetensors"))
    meta = metadata_of(g("clip_text_hf_layout", "weights.safetensors"))
    diff = {k.replace("cond_stage_model.transformer.", ""): v for k, v in hf.items()}
    path = os.path.join(TMP, "diffusers_text_encoder.safetensors")
    save(path, diff, meta)
    ref = load(g("clip_text_hf_layout", "io.safetensors"))
    out = os.path.join(TMP, "diff_out.safetensors")
    debug("text-encoder", path, g("clip_text_hf_layout", "io.safetensors"), out)
    assert rel_err(load(out)["last_hidden_state"], ref["last_hidden_state"]) <= 1e-4
    sdxl = {k.replace("cond_stage_model.transformer.", "conditioner.embedders.0.transformer."): v for k, v in hf.items()}
    sdxl.update({k.replace("cond_stage_model.model.", "conditioner.embedders.1.model."): v for k, v in oc.items()})
    path = os.path.join(TMP, "sdxl_pair.safetensors")
    save(path, sdxl, meta)
    for prefix, layout, pooled in (("conditioner.embedders.0.transformer.text_model.", "clip_text_hf_layout", "pooled_unprojected"),
                                   ("conditioner.embedders.1.model.", "clip_text_openai_layout", "pooled_projected")):
        ref = load(g(layout, "io.safetensors"))
        debug("text-encoder", path, g(layout, "io.safetensors"), out, "--prefix", prefix)
        o = load(out)
        for name in ("penultimate_hidden_state", pooled):
            assert rel_err(o[name], ref[name]) <= 1e-4, (prefix, name)
    p = debug("text-encoder", path, g("clip_text_hf_layout", "io.safetensors"), out, "--prefix", "nope.", check=False)
    assert p.returncode == 1 and "no CLIP text encoder" in p.stderr


def write_st(path, header, data=b"", raw_len=None):
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", raw_len if raw_len is not None else len(h)) + h + data)


@test
def test_precision_bf16_refused_where_no_kernel_does_it():
    """bf16 runs on AVX512-BF16 or the portable kernels; elsewhere, and for an unknown precision,
    the command stops with the reason and writes nothing."""
    d = "unet_sd1_small"
    out_path = os.path.join(TMP, "refused.safetensors")
    cases = [(["--precision", "bf17"], "precision 'bf17' is unknown (fp32 or bf16)")]
    for isa in cpu_isas():
        if isa != "portable" and isa not in bf16_paths():
            cases.append((["--isa", isa, "--precision", "bf16"], "precision 'bf16' needs a CPU with AVX512-BF16"))
    for flags, reason in cases:
        p = debug("unet", g(d, "weights.safetensors"), g(d, "io.safetensors"), out_path, *flags, check=False)
        assert p.returncode != 0 and reason in p.stderr, (flags, p.returncode, p.stderr)
        assert not os.path.exists(out_path)
        print(f"     {' '.join(flags)}: {p.stderr.strip()}")


def _plan(n, tile, overlap):
    """The tiler's plan along one side (vae_tiled.c): count, side, starts."""
    if n <= tile:
        return 1, n, [0]
    c = (n - overlap + (tile - overlap) - 1) // (tile - overlap)
    side = (n + (c - 1) * overlap + c - 1) // c
    return c, side, [(i * (n - side) + (c - 1) // 2) // (c - 1) for i in range(c)]


def _ramp(n, lo, hi):
    import numpy as np
    w = np.ones(n, np.float64)
    x = np.arange(n)
    if lo:
        w = np.minimum(w, np.where(x < lo, (x + 0.5) / lo, 1.0))
    if hi:
        w = np.minimum(w, np.where(n - 1 - x < hi, (n - 1 - x + 0.5) / hi, 1.0))
    return w


@test
def test_vae_encoder_tiled():
    """vae_tile for the encoder: a tile at least the latent's size is the untiled encoder exactly;
    smaller tiles give exactly the blend (linear ramps across the overlaps, vae_tiled.c) of the
    untiled encodings of each tile's pixels, computed here from separate untiled runs; and the
    tiled moments follow the whole image's."""
    import numpy as np
    d = "vae_encoder_small"
    io = load(g(d, "io.safetensors"))
    image = io["b.image"][:1]  # 64 x 96 pixels: 8 x 12 latents
    whole_in = os.path.join(TMP, "enc-tile-in.safetensors")
    save(whole_in, {"b.image": image})
    out_path = os.path.join(TMP, "enc-tiled.safetensors")
    debug("vae-encoder", g(d, "weights.safetensors"), whole_in, out_path, "--vae-tile", "12", "--vae-tile-overlap", "4")
    whole = load(out_path)["b.moments"]
    assert rel_err(whole, io["b.moments"][:1]) <= 1e-4
    tile, overlap = 6, 2
    debug("vae-encoder", g(d, "weights.safetensors"), whole_in, out_path, "--vae-tile", str(tile),
          "--vae-tile-overlap", str(overlap))
    tiled = load(out_path)["b.moments"]
    ny, th, ys = _plan(8, tile, overlap)
    nx, tw, xs = _plan(12, tile, overlap)
    crops = {f"t{i}_{j}.image": np.ascontiguousarray(image[:, :, y * 8:(y + th) * 8, x * 8:(x + tw) * 8])
             for i, y in enumerate(ys) for j, x in enumerate(xs)}
    crops_in = os.path.join(TMP, "enc-tile-crops.safetensors")
    save(crops_in, crops)
    debug("vae-encoder", g(d, "weights.safetensors"), crops_in, out_path)
    parts = load(out_path)
    acc = np.zeros_like(whole, dtype=np.float64)
    wsum = np.zeros(whole.shape[2:], np.float64)
    for i, y in enumerate(ys):
        ylo = ys[i - 1] + th - y if i else 0
        yhi = y + th - ys[i + 1] if i + 1 < ny else 0
        for j, x in enumerate(xs):
            xlo = xs[j - 1] + tw - x if j else 0
            xhi = x + tw - xs[j + 1] if j + 1 < nx else 0
            wt = np.outer(_ramp(th, ylo, yhi), _ramp(tw, xlo, xhi))
            acc[:, :, y:y + th, x:x + tw] += wt * parts[f"t{i}_{j}.moments"]
            wsum[y:y + th, x:x + tw] += wt
    want = acc / wsum
    e = rel_err(tiled, want.astype(np.float32))
    corr = np.corrcoef(tiled.ravel(), whole.ravel())[0, 1]
    print(f"     encoder tiles of {tile} latents (overlap {overlap}) on 8x12: {ny}x{nx} tiles, blend of untiled "
          f"tiles rel err {e:.1e}; correlation with the whole image's moments {corr:.3f}")
    assert e <= 1e-5, e
    assert rel_err(tiled, whole) > 1e-3, "the image was not encoded in tiles"
    assert corr > 0.5, corr
    p = debug("vae-encoder", g(d, "weights.safetensors"), whole_in, out_path, "--vae-tile", "4",
              "--vae-tile-overlap", "2", check=False)
    assert p.returncode != 0 and "vae_tile_overlap" in p.stderr, p.stderr


@test
def test_hostile_safetensors_fail_cleanly():
    cases = {
        "truncated": ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, None),
        "offset_outside": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [100, 104]}}, b"\0" * 4, None),
        "size_mismatch": ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, None),
        "overlap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, None),
        "huge_shape": ({"a": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 4]}}, b"\0" * 4, None),
        "negative_dim": ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, None),
        "bad_dtype": ({"a": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, None),
        "header_len_lies": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"", 1 << 40),
        "not_object": ([1, 2, 3], b"", None),
    }
    for name, (header, data, raw_len) in cases.items():
        path = os.path.join(TMP, name + ".safetensors")
        write_st(path, header, data, raw_len)
        p = debug("text-encoder", path, g("clip_text_hf_layout", "io.safetensors"), os.path.join(TMP, "x"), check=False)
        assert p.returncode == 1, (name, p.returncode, p.stderr)
        assert p.stderr.startswith("imgapi: ") and len(p.stderr.strip().splitlines()) == 1, (name, p.stderr)
    pk = os.path.join(TMP, "model.ckpt")
    with open(pk, "wb") as f:
        f.write(b"\x80\x02}q\x00." + b"\0" * 64)
    p = debug("text-encoder", pk, g("clip_text_hf_layout", "io.safetensors"), os.path.join(TMP, "x"), check=False)
    assert p.returncode == 1 and "pickle" in p.stderr and "safetensors" in p.stderr, p.stderr
    # a valid file that is not a text encoder
    p = debug("text-encoder", g("vae_decoder_small", "weights.safetensors"), g("clip_text_hf_layout", "io.safetensors"),
              os.path.join(TMP, "x"), check=False)
    assert p.returncode == 1 and "text encoder" in p.stderr, p.stderr


if __name__ == "__main__":
    import shutil
    try:
        code = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
