"""The networks of imgapi's built-in model, written so their state dicts export under the key
names real Stable Diffusion checkpoints use (and so imgapi's engine runs them unchanged):

- TextEncoder: a CLIP text transformer (HF layout: causal self-attention, quick-GELU MLP, final
  layer norm; SD 1.x takes its last hidden state).
- UNet: the LDM UNet (ResBlocks with timestep embedding, SpatialTransformers with conv projections,
  GEGLU feed-forward, nearest upsampling), i.e. the SD 1.x structure at a smaller width.
- Encoder / TinyDecoder: an autoencoder with SD's latent space (4 channels, 8x downsampling); the
  decoder is the TAESD layer sequence (clamp, conv, ReLU, blocks, upsamples) with narrower channels.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- text encoder ----------------


class ClipLayer(nn.Module):
    def __init__(self, w, heads):
        super().__init__()
        self.heads = heads
        self.layer_norm1 = nn.LayerNorm(w)
        self.self_attn = nn.Module()
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self.self_attn, n, nn.Linear(w, w))
        self.layer_norm2 = nn.LayerNorm(w)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(w, 4 * w)
        self.mlp.fc2 = nn.Linear(4 * w, w)

    def forward(self, x, mask):
        B, T, W = x.shape
        h = self.layer_norm1(x)
        a = self.self_attn
        q, k, v = (p(h).view(B, T, self.heads, W // self.heads).transpose(1, 2) for p in (a.q_proj, a.k_proj, a.v_proj))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(W // self.heads) + mask
        h = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, W)
        x = x + a.out_proj(h)
        h = self.mlp.fc1(self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h)  # quick GELU
        return x + self.mlp.fc2(h)


class TextEncoder(nn.Module):
    def __init__(self, vocab, width=128, layers=3, heads=2, context=77):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.token_embedding = nn.Embedding(vocab, width)
        self.embeddings.position_embedding = nn.Embedding(context, width)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(ClipLayer(width, heads) for _ in range(layers))
        self.final_layer_norm = nn.LayerNorm(width)
        nn.init.normal_(self.embeddings.token_embedding.weight, std=0.02)
        nn.init.normal_(self.embeddings.position_embedding.weight, std=0.01)
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu(1), persistent=False)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.embeddings.token_embedding(tokens) + self.embeddings.position_embedding.weight[:T]
        for layer in self.encoder.layers:
            x = layer(x, self.mask[:T, :T])
        return self.final_layer_norm(x)


# ---------------- UNet ----------------


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


def gn(c, eps=1e-5):
    return nn.GroupNorm(32, c, eps=eps)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.in_layers = nn.Sequential(gn(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))
        self.out_layers = nn.Sequential(gn(cout), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(cout, cout, 3, padding=1))
        nn.init.zeros_(self.out_layers[3].weight)
        nn.init.zeros_(self.out_layers[3].bias)
        self.skip_connection = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, emb):
        h = self.in_layers(x) + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class Attention(nn.Module):
    def __init__(self, dim, ctx, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx, dim, bias=False)
        self.to_v = nn.Linear(ctx, dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.0))

    def forward(self, x, ctx):
        B, N, D = x.shape
        H = self.heads
        q = self.to_q(x).view(B, N, H, D // H).transpose(1, 2)
        k = self.to_k(ctx).view(B, -1, H, D // H).transpose(1, 2)
        v = self.to_v(ctx).view(B, -1, H, D // H).transpose(1, 2)
        att = ((q @ k.transpose(-1, -2)) / math.sqrt(D // H)).softmax(-1)
        return self.to_out((att @ v).transpose(1, 2).reshape(B, N, D))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        a, g = self.proj(x).chunk(2, -1)
        return a * F.gelu(g)


class TransformerBlock(nn.Module):
    def __init__(self, dim, ctx, heads):
        super().__init__()
        self.attn1 = Attention(dim, dim, heads)
        self.attn2 = Attention(dim, ctx, heads)
        self.ff = nn.Module()
        self.ff.net = nn.Sequential(GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x, ctx):
        x = x + self.attn1(self.norm1(x), self.norm1(x))
        x = x + self.attn2(self.norm2(x), ctx)
        return x + self.ff.net(self.norm3(x))


class SpatialTransformer(nn.Module):
    def __init__(self, c, ctx, heads):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)
        self.transformer_blocks = nn.ModuleList([TransformerBlock(c, ctx, heads)])
        self.proj_out = nn.Conv2d(c, c, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        for b in self.transformer_blocks:
            h = b(h, ctx)
        return x + self.proj_out(h.transpose(1, 2).reshape(B, C, H, W))


class Down(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.op = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Up(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Seq(nn.ModuleList):
    """An LDM TimestepEmbedSequential: layers numbered 0, 1, 2 in the state dict."""

    def forward(self, x, emb, ctx):
        for l in self:
            if isinstance(l, ResBlock):
                x = l(x, emb)
            elif isinstance(l, SpatialTransformer):
                x = l(x, ctx)
            else:
                x = l(x)
        return x


class UNet(nn.Module):
    def __init__(self, mc=64, mult=(1, 2, 2), ctx=128, head_ch=32, latent=4):
        super().__init__()
        self.mc = mc
        emb = 4 * mc
        hd = lambda c: c // head_ch
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([Seq([nn.Conv2d(latent, mc, 3, padding=1)])])
        chans, c = [mc], mc
        for lvl, m in enumerate(mult):
            self.input_blocks.append(Seq([ResBlock(c, mc * m, emb), SpatialTransformer(mc * m, ctx, hd(mc * m))]))
            c = mc * m
            chans.append(c)
            if lvl != len(mult) - 1:
                self.input_blocks.append(Seq([Down(c)]))
                chans.append(c)
        self.middle_block = Seq([ResBlock(c, c, emb), SpatialTransformer(c, ctx, hd(c)), ResBlock(c, c, emb)])
        self.output_blocks = nn.ModuleList()
        for lvl, m in list(enumerate(mult))[::-1]:
            for i in range(2):
                layers = [ResBlock(c + chans.pop(), mc * m, emb)]
                c = mc * m
                layers.append(SpatialTransformer(c, ctx, hd(c)))
                if lvl and i == 1:
                    layers.append(Up(c))
                self.output_blocks.append(Seq(layers))
        self.out = nn.Sequential(gn(c), nn.SiLU(), nn.Conv2d(c, latent, 3, padding=1))
        nn.init.zeros_(self.out[2].weight)
        nn.init.zeros_(self.out[2].bias)

    def forward(self, x, t, ctx):
        emb = self.time_embed(timestep_embedding(t, self.mc))
        skips = []
        for b in self.input_blocks:
            x = b(x, emb, ctx)
            skips.append(x)
        x = self.middle_block(x, emb, ctx)
        for b in self.output_blocks:
            x = b(torch.cat([x, skips.pop()], 1), emb, ctx)
        return self.out(x)


# ---------------- autoencoder ----------------


class TBlock(nn.Module):
    """TAESD's block: conv-ReLU-conv-ReLU-conv plus a skip, then ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()
        # each block starts as its skip path: without normalisation layers this is what lets the
        # autoencoder train quickly (measured: loss 0.09 instead of 0.27 after 200 steps)
        nn.init.zeros_(self.conv[4].weight)
        nn.init.zeros_(self.conv[4].bias)

    def forward(self, x):
        return F.relu(self.conv(x) + self.skip(x))


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class TinyDecoder(nn.Module):
    """latent [B,4,h,w] -> RGB in [0, 1] at 8x; indices match TAESD's nn.Sequential."""

    def __init__(self, chans=(64, 48, 32, 24), latent=4):
        super().__init__()
        c0, c1, c2, c3 = chans
        self.layers = nn.Sequential(
            Clamp(), nn.Conv2d(latent, c0, 3, padding=1), nn.ReLU(),
            TBlock(c0, c0), TBlock(c0, c0), nn.Upsample(scale_factor=2),
            nn.Conv2d(c0, c1, 3, padding=1, bias=False), TBlock(c1, c1), nn.Upsample(scale_factor=2),
            nn.Conv2d(c1, c2, 3, padding=1, bias=False), TBlock(c2, c2), nn.Upsample(scale_factor=2),
            nn.Conv2d(c2, c3, 3, padding=1, bias=False), TBlock(c3, c3),
            nn.Conv2d(c3, 3, 3, padding=1))
        nn.init.constant_(self.layers[-1].bias, 0.5)  # start at mid-grey

    def forward(self, z):
        return self.layers(z)


class Encoder(nn.Module):
    """RGB in [0, 1] -> latent [B,4,h/8,w/8], normalised to zero mean and unit variance per channel
    (a BatchNorm without affine terms, frozen after autoencoder training)."""

    def __init__(self, chans=(32, 48, 64), latent=4):
        super().__init__()
        c0, c1, c2 = chans
        self.net = nn.Sequential(
            nn.Conv2d(3, c0, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c0, c1, 3, stride=2, padding=1), TBlock(c1, c1),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), TBlock(c2, c2),
            nn.Conv2d(c2, c2, 3, stride=2, padding=1), TBlock(c2, c2),
            nn.Conv2d(c2, latent, 3, padding=1))
        self.norm = nn.BatchNorm2d(latent, affine=False, momentum=0.01)

    def forward(self, x):
        return self.norm(self.net(x))
