#!/usr/bin/env python3
"""Write small, valid packs (trimmed from the CIM Wizard pack) as seed inputs for the
`pack_json` fuzz target: a few kilobytes each, so libFuzzer mutates packs quickly instead
of spending each run on a 136 KB file. Usage: make_pack_seeds.py OUT_DIR"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACK = json.loads((ROOT / "schema-packs/cim-wizard/pack.json").read_text())

VARIANTS = {
    "buildings": (
        ["cim_vector.building", "cim_vector.building_properties"],
        ["ST_Intersects", "ST_Area", "ST_DWithin", "ST_Centroid", "ST_Buffer", "ST_X"],
    ),
    "grid": (
        ["cim_vector.grid_bus", "cim_vector.grid_line", "cim_census.census_geo"],
        ["ST_Intersects", "ST_Length", "ST_Distance", "ST_Transform", "ST_ClusterDBSCAN"],
    ),
    "raster": (
        ["cim_vector.building", "cim_raster.dtm_raster"],
        ["ST_Intersects", "ST_Value", "ST_Clip", "ST_SummaryStats", "ST_Centroid"],
    ),
}


def trimmed(tables, functions):
    p = json.loads(json.dumps(PACK))
    for s in p["schemas"]:
        s["tables"] = [t for t in s["tables"] if f"{s['name']}.{t['name']}" in tables]
        for t in s["tables"]:
            t.pop("description", None)
            for c in t["columns"]:
                c.pop("description", None)
    p["schemas"] = [s for s in p["schemas"] if s["tables"]]
    p["joins"] = [j for j in p["joins"] if j["left"] in tables and j["right"] in tables]
    needed = set(functions) | {q for j in p["joins"] for q in j.get("predicates", [])}
    p["functions"] = [f for f in p["functions"] if f["name"] in needed]
    for f in p["functions"]:
        f.pop("description", None)
    kept = lambda c: c.startswith("@") or any(c.startswith(t + ".") for t in tables)
    p["value_domains"] = [d for d in p["value_domains"] if kept(d["column"])]
    p["lexicon"]["tables"] = {k: v for k, v in p["lexicon"]["tables"].items() if k in tables}
    p["lexicon"]["columns"] = {k: v for k, v in p["lexicon"]["columns"].items() if kept(k)}
    return p


out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for name, (tables, functions) in VARIANTS.items():
    text = json.dumps(trimmed(tables, functions), separators=(",", ":"), sort_keys=True)
    (out / f"seed_{name}.json").write_text(text)
    print(f"{out / f'seed_{name}.json'}: {len(text)} bytes")
