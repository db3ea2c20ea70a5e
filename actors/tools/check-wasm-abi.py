#!/usr/bin/env python3
"""Checks that wasm modules are waPC actors the Trellis host will load.

Usage: check-wasm-abi.py FILE.wasm...

For each module: every import comes from module `wapc`, is one of the waPC
functions and has the ABI's signature (no `env`, no `__wbindgen`, no WASI,
no imported memory/table/global); its memory declares no maximum; it exports
`memory`, `__guest_call` (i32, i32) -> i32 and `wapc_init` () -> ().
Prints a summary per module and exits 1 if any module fails. Needs nothing
but Python 3.
"""

import sys

I32 = 0x7F
VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}

# The waPC imports (module `wapc`) and their signatures: (params, results).
WAPC_IMPORTS = {
    "__guest_request": ([I32, I32], []),
    "__guest_response": ([I32, I32], []),
    "__guest_error": ([I32, I32], []),
    "__host_call": ([I32] * 8, [I32]),
    "__host_response_len": ([], [I32]),
    "__host_response": ([I32], []),
    "__host_error_len": ([], [I32]),
    "__host_error": ([I32], []),
    "__console_log": ([I32, I32], []),
}
REQUIRED_EXPORTS = {
    "__guest_call": ([I32, I32], [I32]),
    "wapc_init": ([], []),
}


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise ValueError("unexpected end of section")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def bytes(self, n):
        if self.pos + n > self.end:
            raise ValueError("unexpected end of section")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def name(self):
        return self.bytes(self.uleb()).decode("utf-8")

    def limits(self):
        """Returns whether a maximum is declared."""
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()
        return bool(flags & 1)


def sig_text(sig):
    params, results = sig
    p = ", ".join(VALTYPES.get(t, hex(t)) for t in params)
    r = ", ".join(VALTYPES.get(t, hex(t)) for t in results)
    return f"({p}) -> ({r})"


def parse(data):
    if data[:4] != b"\0asm" or data[4:8] != b"\x01\0\0\0":
        raise ValueError("not a core wasm module (bad magic or version)")
    types, imports, func_types, exports, customs, memory_max = [], [], [], [], [], []
    r = Reader(data, 8)
    while r.pos < len(data):
        sid = r.byte()
        size = r.uleb()
        s = Reader(data, r.pos, r.pos + size)
        r.pos += size
        if sid == 0:
            customs.append(s.name())
        elif sid == 1:
            for _ in range(s.uleb()):
                form = s.byte()
                if form != 0x60:
                    raise ValueError(f"unsupported type form {form:#x}")
                params = [s.byte() for _ in range(s.uleb())]
                results = [s.byte() for _ in range(s.uleb())]
                types.append((params, results))
        elif sid == 2:
            for _ in range(s.uleb()):
                module, field, kind = s.name(), s.name(), s.byte()
                desc = None
                if kind == 0:
                    desc = s.uleb()
                elif kind == 1:
                    s.byte()
                    s.limits()
                elif kind == 2:
                    s.limits()
                elif kind == 3:
                    s.byte()
                    s.byte()
                elif kind == 4:
                    s.byte()
                    desc = s.uleb()
                else:
                    raise ValueError(f"unknown import kind {kind}")
                imports.append((module, field, kind, desc))
        elif sid == 3:
            func_types = [s.uleb() for _ in range(s.uleb())]
        elif sid == 5:
            memory_max = [s.limits() for _ in range(s.uleb())]
        elif sid == 7:
            for _ in range(s.uleb()):
                exports.append((s.name(), s.byte(), s.uleb()))
    return types, imports, func_types, exports, customs, memory_max


KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


def check(path):
    data = open(path, "rb").read()
    problems = []
    types, imports, func_types, exports, customs, memory_max = parse(data)
    imported_funcs = [types[d] for (_, _, k, d) in imports if k == 0]
    all_funcs = imported_funcs + [types[t] for t in func_types]

    for module, field, kind, desc in imports:
        what = f"import {module}.{field} ({KINDS.get(kind, kind)})"
        if module != "wapc":
            problems.append(f"{what}: module is not `wapc`")
        elif kind != 0:
            problems.append(f"{what}: only functions may be imported")
        elif field not in WAPC_IMPORTS:
            problems.append(f"{what}: not a waPC import")
        elif types[desc] != WAPC_IMPORTS[field]:
            problems.append(f"{what}: signature {sig_text(types[desc])}, want {sig_text(WAPC_IMPORTS[field])}")

    if any(memory_max):
        problems.append("the memory declares a maximum (limits must come from the host)")

    by_name = {name: (kind, idx) for name, kind, idx in exports}
    if by_name.get("memory", (None,))[0] != 2:
        problems.append("no exported memory named `memory`")
    for name, want in REQUIRED_EXPORTS.items():
        if name not in by_name or by_name[name][0] != 0:
            problems.append(f"no exported function `{name}`")
        elif all_funcs[by_name[name][1]] != want:
            got = all_funcs[by_name[name][1]]
            problems.append(f"export {name}: signature {sig_text(got)}, want {sig_text(want)}")

    print(f"{path}: {len(data)} bytes")
    print("  imports: " + (", ".join(f"{m}.{f}" for m, f, _, _ in imports) or "(none)"))
    print("  exports: " + ", ".join(n for n, _, _ in exports))
    print("  custom sections: " + (", ".join(customs) or "(none)"))
    for p in problems:
        print(f"  PROBLEM: {p}")
    print("  ok" if not problems else f"  FAILED ({len(problems)} problems)")
    return not problems


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ok = True
    for path in paths:
        try:
            ok &= check(path)
        except (OSError, ValueError, IndexError, UnicodeDecodeError) as e:
            print(f"{path}: cannot read module: {e}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
