"""pbwire.py - the protobuf wire encoding the fixture generators write models with.

There is no protobuf or onnx package on these machines; the generators build the few
messages they need (Caffe's NetParameter, ONNX's ModelProto) from these four helpers.
"""
import struct


def varint(n):
    """A base-128 varint; a negative int64 as protobuf writes it (ten bytes)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    """Field num, wire type 0."""
    return varint(num << 3) + varint(v)


def f_bytes(num, payload):
    """Field num, wire type 2 (a str is UTF-8 encoded)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return varint((num << 3) | 2) + varint(len(payload)) + payload


def f_float(num, v):
    """Field num, wire type 5 (a float32)."""
    return varint((num << 3) | 5) + struct.pack('<f', v)
