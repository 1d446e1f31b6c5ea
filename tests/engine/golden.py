"""Reads safetensors files with numpy (tests only) and compares outputs with the golden sets."""
import json
import struct

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        raw = data[base + b: base + e]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, DTYPES[t["dtype"]])
        out[name] = a.reshape(t["shape"])
    return out


def rel_err(out, ref):
    """max|out - ref| / max|ref|, the README's criterion."""
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    return float(np.max(np.abs(out - ref)) / max(np.max(np.abs(ref)), 1e-30))


class BF16:
    """A tensor to store as BF16: bits holds the upper 16 bits of each float32 (uint16)."""

    def __init__(self, f32):
        u = np.ascontiguousarray(f32, np.float32).view(np.uint32).astype(np.uint64)
        self.bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even

    def floats(self):
        return (self.bits.astype(np.uint32) << 16).view(np.float32)


def save(path, tensors, metadata=None):
    """Writes a dict of numpy arrays (or BF16) as safetensors (tests only)."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int64): "I64",
             np.dtype(np.float64): "F64"}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors.items():
        if isinstance(a, BF16):
            b, dtype, shape = a.bits.tobytes(), "BF16", a.bits.shape
        else:
            a = np.ascontiguousarray(a)
            b, dtype, shape = a.tobytes(), names[a.dtype], a.shape
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
