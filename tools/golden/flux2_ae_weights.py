"""The weights of the small FLUX.2 autoencoder the goldens in tests/engine/data/flux2_ae were
made with, from a seed (numpy only): the tests write them again instead of a committed copy.
Names and shapes follow the reference AutoEncoder's state_dict (flux2_ae.py loads them into it
strictly, so a wrong name or shape stops the generator)."""
import numpy as np

CONFIG = {"ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 32, "in_channels": 3, "out_ch": 3}
PATCH = 2


def shapes(c=CONFIG):
    """name -> shape of every parameter and buffer (but num_batches_tracked)."""
    out = {}

    def conv(name, cin, cout, k):
        out[name + ".weight"] = (cout, cin, k, k)
        out[name + ".bias"] = (cout,)

    def norm(name, n):
        out[name + ".weight"] = (n,)
        out[name + ".bias"] = (n,)

    def resnet(name, cin, cout):
        norm(name + ".norm1", cin)
        conv(name + ".conv1", cin, cout, 3)
        norm(name + ".norm2", cout)
        conv(name + ".conv2", cout, cout, 3)
        if cin != cout:
            conv(name + ".nin_shortcut", cin, cout, 1)

    def attn(name, n):
        norm(name + ".norm", n)
        for p in ("q", "k", "v", "proj_out"):
            conv(name + "." + p, n, n, 1)

    ch, mult, nrb, z = c["ch"], c["ch_mult"], c["num_res_blocks"], c["z_channels"]
    conv("encoder.quant_conv", 2 * z, 2 * z, 1)
    conv("encoder.conv_in", c["in_channels"], ch, 3)
    block_in = ch
    for lvl, m in enumerate(mult):
        block_in = ch * ([1] + mult)[lvl]
        for b in range(nrb):
            resnet(f"encoder.down.{lvl}.block.{b}", block_in, ch * m)
            block_in = ch * m
        if lvl != len(mult) - 1:
            conv(f"encoder.down.{lvl}.downsample.conv", block_in, block_in, 3)
    resnet("encoder.mid.block_1", block_in, block_in)
    attn("encoder.mid.attn_1", block_in)
    resnet("encoder.mid.block_2", block_in, block_in)
    norm("encoder.norm_out", block_in)
    conv("encoder.conv_out", block_in, 2 * z, 3)
    conv("decoder.post_quant_conv", z, z, 1)
    block_in = ch * mult[-1]
    conv("decoder.conv_in", z, block_in, 3)
    resnet("decoder.mid.block_1", block_in, block_in)
    attn("decoder.mid.attn_1", block_in)
    resnet("decoder.mid.block_2", block_in, block_in)
    for lvl in reversed(range(len(mult))):
        for b in range(nrb + 1):
            resnet(f"decoder.up.{lvl}.block.{b}", block_in, ch * mult[lvl])
            block_in = ch * mult[lvl]
        if lvl != 0:
            conv(f"decoder.up.{lvl}.upsample.conv", block_in, block_in, 3)
    norm("decoder.norm_out", block_in)
    conv("decoder.conv_out", block_in, c["out_ch"], 3)
    out["bn.running_mean"] = (PATCH * PATCH * z,)
    out["bn.running_var"] = (PATCH * PATCH * z,)
    return out


def weights(seed=33, c=CONFIG):
    """name -> float32 array: convolutions ~ N(0, 1/fan_in), norm scales 1 + N(0, 0.2), biases
    N(0, 0.1), running means N(0, 0.5), running variances U(0.5, 2)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(shapes(c).items()):
        if name == "bn.running_mean":
            v = 0.5 * rng.standard_normal(shape)
        elif name == "bn.running_var":
            v = rng.uniform(0.5, 2.0, shape)
        elif len(shape) == 4:
            v = rng.standard_normal(shape) / np.sqrt(shape[1] * shape[2] * shape[3])
        elif name.endswith(".weight"):
            v = 1 + 0.2 * rng.standard_normal(shape)
        else:
            v = 0.1 * rng.standard_normal(shape)
        out[name] = v.astype(np.float32)
    return out
