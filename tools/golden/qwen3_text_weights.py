"""The weights of the small Qwen3 text model the goldens in tests/engine/data/qwen3_text were made
with, from a seed (numpy only): the tests write them again instead of a committed copy. Names as
a Qwen3ForCausalLM checkpoint's (model.embed_tokens, model.layers.N..., model.norm); the generator
loads them into the reference modules strictly."""
import numpy as np

CONFIG = {"vocab_size": 300, "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
          "num_key_value_heads": 2, "head_dim": 32, "num_hidden_layers": 8, "rope_theta": 1000000.0,
          "rms_norm_eps": 1e-6}
STACKED = [2, 4, 6]  # the hidden states FLUX.2 stacks: after a quarter, half, three quarters of the layers


def shapes(c=CONFIG):
    h, d, i = c["hidden_size"], c["head_dim"], c["intermediate_size"]
    nq, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    out = {"model.embed_tokens.weight": (c["vocab_size"], h), "model.norm.weight": (h,)}
    for n in range(c["num_hidden_layers"]):
        p = f"model.layers.{n}."
        out[p + "self_attn.q_proj.weight"] = (nq * d, h)
        out[p + "self_attn.k_proj.weight"] = (nkv * d, h)
        out[p + "self_attn.v_proj.weight"] = (nkv * d, h)
        out[p + "self_attn.o_proj.weight"] = (h, nq * d)
        out[p + "self_attn.q_norm.weight"] = (d,)
        out[p + "self_attn.k_norm.weight"] = (d,)
        out[p + "mlp.gate_proj.weight"] = (i, h)
        out[p + "mlp.up_proj.weight"] = (i, h)
        out[p + "mlp.down_proj.weight"] = (h, i)
        out[p + "input_layernorm.weight"] = (h,)
        out[p + "post_attention_layernorm.weight"] = (h,)
    return out


def weights(seed=33, c=CONFIG):
    """name -> float32: the embedding N(0, 1), matrices N(0, 1/fan_in), norm weights 1 + N(0, 0.2)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(shapes(c).items()):
        if name == "model.embed_tokens.weight":
            v = rng.standard_normal(shape)
        elif len(shape) == 2:
            v = rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            v = 1 + 0.2 * rng.standard_normal(shape)
        out[name] = v.astype(np.float32)
    return out
