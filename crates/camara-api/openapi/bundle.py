"""Bundles a CAMARA OpenAPI file: every `../common/<file>#/components/<kind>/<name>` reference is
copied into the file's own components (recursively) and rewritten as a local reference, so
that tools without external-reference support (schemathesis, the gateway's /openapi.yaml)
read one file. Usage: bundle.py IN OUT"""
import copy
import pathlib
import sys

import yaml

src = pathlib.Path(sys.argv[1])
doc = yaml.safe_load(src.read_text())
commons = {}


def common(file):
    """`file`: a path, resolved; the document it holds."""
    if file not in commons:
        commons[file] = yaml.safe_load(file.read_text())
    return commons[file]


def resolve(file, origin):
    """The path of `file` as written in `origin` (None: the bundled file itself)."""
    base = origin.parent if origin is not None else src.parent
    return (base / file).resolve()


def localize(ref, origin):
    """The local reference for `ref` as written in `origin`, its target copied in if needed."""
    file, _, pointer = ref.partition("#")
    target_file = resolve(file, origin) if file else origin
    if target_file is None:
        return ref
    parts = pointer.strip("/").split("/")
    assert parts[0] == "components", ref
    kind, name = parts[1], parts[2]
    local = doc.setdefault("components", {}).setdefault(kind, {})
    if name not in local:
        local[name] = copy.deepcopy(common(target_file)["components"][kind][name])
        walk(local[name], target_file)
    return f"#/components/{kind}/{name}"


def walk(node, origin):
    """Rewrites refs in `node`; `origin` is the file whose local refs `#/...` mean."""
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k == "$ref" and isinstance(v, str):
                node[k] = localize(v, origin)
            elif k == "discriminator" and isinstance(v, dict) and isinstance(v.get("mapping"), dict):
                # Mapping values are references too (to schemas of the same file).
                for key, ref in list(v["mapping"].items()):
                    v["mapping"][key] = localize(ref, origin)
            else:
                walk(v, origin)
    elif isinstance(node, list):
        for x in node:
            walk(x, origin)


# A component that only points at the common file's component of the same name becomes
# that component (else it would end up pointing at itself).
for kind, entries in list(doc.get("components", {}).items()):
    for name, node in list(entries.items()):
        if isinstance(node, dict) and set(node) == {"$ref"} and not node["$ref"].startswith("#"):
            file, _, pointer = node["$ref"].partition("#")
            parts = pointer.strip("/").split("/")
            if parts[1:] == [kind, name]:
                path = resolve(file, None)
                entries[name] = copy.deepcopy(common(path)["components"][kind][name])
                walk(entries[name], path)

walk(doc, None)
pathlib.Path(sys.argv[2]).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
