#!/usr/bin/env python3
"""Writes a small seed corpus of safetensors files (valid and broken) into the given folder."""
import json
import os
import struct
import sys


def st(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {
        "valid": st({"__metadata__": {"config": "{}"}, "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]}}, bytes(22)),
        "bf16": st({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, bytes(8)),
        "ints": st({"i": {"dtype": "I64", "shape": [1, 2], "data_offsets": [0, 16]}}, bytes(16)),
        "empty": st({}, b""),
        "scalar": st({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, bytes(4)),
        "overlap": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
        "truncated": st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(4)),
        "pickle": b"\x80\x02}q\x00.",
    }
    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main(sys.argv[1])
