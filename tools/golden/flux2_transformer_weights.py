"""The weights of the small FLUX.2 transformer the goldens in tests/engine/data/flux2_transformer
were made with, from a seed (numpy only): the tests write them again instead of a committed
copy. Names and shapes follow the reference Flux2's state_dict (flux2_transformer.py loads them
into it strictly)."""
import numpy as np

CONFIG = {"in_channels": 16, "context_in_dim": 48, "hidden_size": 64, "num_heads": 2, "depth": 2,
          "depth_single_blocks": 2, "axes_dim": [8, 8, 8, 8], "theta": 2000, "mlp_ratio": 3.0}


def shapes(c=CONFIG):
    h, d = c["hidden_size"], c["hidden_size"] // c["num_heads"]
    m = int(h * c["mlp_ratio"])
    out = {"img_in.weight": (h, c["in_channels"]), "txt_in.weight": (h, c["context_in_dim"]),
           "time_in.in_layer.weight": (h, 256), "time_in.out_layer.weight": (h, h),
           "guidance_in.in_layer.weight": (h, 256), "guidance_in.out_layer.weight": (h, h),
           "double_stream_modulation_img.lin.weight": (6 * h, h),
           "double_stream_modulation_txt.lin.weight": (6 * h, h),
           "single_stream_modulation.lin.weight": (3 * h, h),
           "final_layer.linear.weight": (c["in_channels"], h),
           "final_layer.adaLN_modulation.1.weight": (2 * h, h)}
    for i in range(c["depth"]):
        for s in ("img", "txt"):
            p = f"double_blocks.{i}.{s}_"
            out[p + "attn.qkv.weight"] = (3 * h, h)
            out[p + "attn.norm.query_norm.scale"] = (d,)
            out[p + "attn.norm.key_norm.scale"] = (d,)
            out[p + "attn.proj.weight"] = (h, h)
            out[p + "mlp.0.weight"] = (2 * m, h)
            out[p + "mlp.2.weight"] = (h, m)
    for i in range(c["depth_single_blocks"]):
        p = f"single_blocks.{i}."
        out[p + "linear1.weight"] = (3 * h + 2 * m, h)
        out[p + "linear2.weight"] = (h, h + m)
        out[p + "norm.query_norm.scale"] = (d,)
        out[p + "norm.key_norm.scale"] = (d,)
    return out


def weights(seed=33, c=CONFIG):
    """name -> float32 array: matrices ~ N(0, 1/fan_in), RMSNorm scales 1 + N(0, 0.2)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(shapes(c).items()):
        if len(shape) == 2:
            v = rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            v = 1 + 0.2 * rng.standard_normal(shape)
        out[name] = v.astype(np.float32)
    return out
