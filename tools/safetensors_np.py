"""Reads and writes .safetensors files with numpy, for the tools (make_lora.py,
make_diffusers_folder.py) and the tests that use them. F32, F16, F64, I64 and I32 tensors."""
import json
import struct

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def load(path):
    """(name -> array, metadata dict). The arrays are read-only views: copy one to change it."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b: 8 + n + e], DT[t["dtype"]]).reshape(t["shape"])
    return out, meta


def save(path, tensors, meta=None):
    names = {np.dtype(v): k for k, v in DT.items()}
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        b = a.tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
