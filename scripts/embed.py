#!/usr/bin/env python3
"""Embeds a file into a C source as a byte array: embed.py IN OUT SYMBOL."""
import sys

src, dst, sym = sys.argv[1:4]
data = open(src, "rb").read()
with open(dst, "w") as f:
    f.write("#include <stddef.h>\n")
    f.write(f"const char {sym}[] = {{\n")
    for i in range(0, len(data), 16):
        f.write("".join(f"{b},"for b in data[i:i + 16]) + "\n")
    f.write("0};\n")
    f.write(f"const size_t {sym}_len = {len(data)};\n")
