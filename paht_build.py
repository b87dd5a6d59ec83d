"""Compile proto/ into Python modules with grpcio-tools (used by setup.py and `paht proto`)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PROTO_ROOT = ROOT / "proto"


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate_protos(out_dir: Path | None = None) -> list[Path]:
    """Compile every .proto under proto/ into out_dir (default: the repository root); raise on error."""
    from grpc_tools import protoc
    import grpc_tools

    out = Path(out_dir or ROOT)
    files = proto_files()
    if not files:
        return []
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *[str(f.relative_to(PROTO_ROOT)) for f in files],
    ]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    # Every folder of generated code becomes a regular package.
    made = []
    for f in files:
        pkg = out / f.relative_to(PROTO_ROOT).parent
        while pkg != out and pkg.is_relative_to(out):
            init = pkg / "__init__.py"
            if not init.exists():
                init.write_text("")
            made.append(init)
            pkg = pkg.parent
    return made


if __name__ == "__main__":
    generate_protos(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
