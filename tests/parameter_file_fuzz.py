"""Fuzzing the parameter-file contract: mutated copies of the shipped potentials, loaded by one front end.

    python parameter_file_fuzz.py ase|lammps SEED COUNT OUTPUT.jsonl

Both front ends get the same COUNT cases for a SEED (the mutations are a pure function of seed and case
index). Each case is one shipped file changed either at the byte level (flips, deletions, duplications,
insertions, truncations, digit changes) or at the JSON level (a value anywhere in the tree replaced by
a hostile one, a key removed or added, a list entry removed or repeated). The worker loads it as a user
would — `LepotCalculator(path)` and an energy (ASE), or `pair_coeff` and `run 0` through the LAMMPS
library with the plugin (LAMMPS) — and writes one JSON line per case: "refused" with the message, or
"accepted" with the energy of a small fixed cell of the file's species. A final line gives the resident
memory after the first 100 cases and at the end. tests/test_parameter_file_fuzz.py runs both workers and
compares their lines.
"""

import ctypes
import gc
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# shipped files and how often each is the base (the two large ones are slow to parse, so rarer)
BASES = {"Mo_fast.json": 3, "Si_fast.json": 3, "NbMoTaW.json": 3, "Mo.json": 1, "Si.json": 1}
HOSTILE_VALUES = [None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, 1e308, -1e308, 5e-324, 0.5, -0.0,
                  "", "Mo", "NaN", [], [0], [[]], {}, {"a": 1}]


def _load_bases():
    texts = {name: (ROOT / "potentials" / name).read_text() for name in BASES}
    return texts, {name: json.loads(text) for name, text in texts.items()}


TEXTS, TREES = _load_bases()


def structure(species):
    """(cell edge in Å, symbols, positions [n][3] in Å): 2 atoms per species in a cube, at least 2.1 Å apart."""
    rng = np.random.default_rng(len(species))
    edge = 5.6
    positions = []
    while len(positions) < 2 * len(species):
        candidate = rng.random(3) * edge
        if all(np.linalg.norm((candidate - p + edge / 2) % edge - edge / 2) >= 2.1 for p in positions):
            positions.append(candidate)
    symbols = [species[i % len(species)] for i in range(len(positions))]
    return edge, symbols, np.array(positions)


def _byte_mutation(text, rng):
    data = bytearray(text.encode())
    at = rng.randrange(len(data))
    kind = rng.randrange(7)
    if kind == 0:
        data[at] = rng.randrange(256)
    elif kind == 1:
        del data[at : at + rng.randint(1, 256)]
    elif kind == 2:
        data[at:at] = data[at : at + rng.randint(1, 256)]
    elif kind == 3:
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 4:
        del data[at:]
    elif kind == 5:
        digits = [i for i in range(at, min(len(data), at + 400)) if chr(data[i]) in "0123456789"]
        if digits:
            data[rng.choice(digits)] = ord(rng.choice("0123456789-.eE+"))
    else:
        brackets = [i for i in range(at, min(len(data), at + 2000)) if chr(data[i]) in "[]{},:"]
        if brackets:
            data[rng.choice(brackets)] = ord(rng.choice("[]{},:\""))
    return bytes(data)


KEY_PATTERN = re.compile(r'"[A-Za-z_][A-Za-z_0-9]*":')
MEMBERS = {name: [match.start() for match in KEY_PATTERN.finditer(text)] for name, text in TEXTS.items()}


def _value_end(text, start):
    """Index just past the JSON value that starts at ``start`` (compact JSON as lepot writes it)."""
    first = text[start]
    if first == '"':
        i = start + 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return min(i + 1, len(text))
    if first in "[{":  # (a start inside a string may find no match: then the value runs to the end)
        depth, i = 0, start
        while i < len(text):
            c = text[i]
            if c == '"':
                i = _value_end(text, i)
                continue
            depth += c in "[{"
            depth -= c in "]}"
            i += 1
            if depth == 0:
                return i
        return len(text)
    i = start
    while i < len(text) and text[i] not in ",]}":
        i += 1
    return i


def _json_mutation(text, members, rng):
    """One structural change of the JSON text: a value replaced by a hostile one, a list entry or an object
    member removed or repeated, a key renamed, or an unknown member added. Half of the changes hit an
    object member (any depth, from ``members``: the offsets of every '"key":'), half a random value."""
    text = text.rstrip()  # the final newline is no JSON value
    if rng.random() < 0.5:
        key_start = rng.choice(members)
        value_start = text.index(":", key_start) + 1
        span_start = key_start
    else:
        boundary = rng.randrange(len(text) - 1)
        while boundary < len(text) - 1 and text[boundary] not in ",[:":
            boundary += 1
        value_start = boundary + 1
        if value_start >= len(text) or text[value_start] in "]}":
            return (text[:value_start] + json.dumps(rng.choice(HOSTILE_VALUES)) + text[value_start:]).encode()
        span_start = value_start
        after = _value_end(text, value_start)
        if text[value_start] == '"' and after < len(text) and text[after] == ":":  # landed on a key
            value_start = after + 1
    value_end = _value_end(text, value_start)
    kind = rng.randrange(5)
    if kind == 0:
        new = text[:value_start] + json.dumps(rng.choice(HOSTILE_VALUES)) + text[value_end:]
    elif kind == 1:  # remove the entry or member with one neighbouring comma
        if value_end < len(text) and text[value_end] == ",":
            new = text[:span_start] + text[value_end + 1 :]
        elif text[span_start - 1] == ",":
            new = text[: span_start - 1] + text[value_end:]
        else:
            new = text[:span_start] + text[value_end:]
    elif kind == 2:  # repeat it (a duplicate key when it is an object member)
        new = text[:span_start] + text[span_start:value_end] + "," + text[span_start:]
    elif kind == 3 and span_start != value_start:  # rename the key
        new = text[:span_start] + f'"unknown_{rng.randrange(100)}"' + text[value_start - 1 :]
    else:  # an unknown member in the enclosing object, or a hostile entry in the enclosing list
        inside = text.rfind("{", 0, span_start) if span_start != value_start else span_start
        if span_start != value_start:
            new = text[: inside + 1] + f'"unknown_{rng.randrange(100)}":{json.dumps(rng.choice(HOSTILE_VALUES))},' + text[inside + 1 :]
        else:
            new = text[:span_start] + json.dumps(rng.choice(HOSTILE_VALUES)) + "," + text[span_start:]
    return new.encode()


def case(seed, index):
    """(base file name, mutated bytes) of case ``index``; a pure function of (seed, index)."""
    rng = random.Random(f"{seed}:{index}")
    base = rng.choices(list(BASES), weights=list(BASES.values()))[0]
    if rng.random() < 0.5:
        return base, _byte_mutation(TEXTS[base], rng)
    return base, _json_mutation(TEXTS[base], MEMBERS[base], rng)


def settled_resident_megabytes():
    """Resident memory after a garbage collection and glibc's malloc_trim: freed memory (however fragmented
    by the last, possibly 12 MB, file) goes back to the system, so what remains is what is still held."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: measure as is
        pass
    return resident_megabytes()


def resident_megabytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def refusal(message, path, category):
    """A refused case: the message without the file's path (the two workers use different paths)."""
    prefix = f"{path}: "
    if message.startswith(prefix):
        return {"outcome": "refused", "category": "file", "message": message[len(prefix):]}
    return {"outcome": "refused", "category": category, "message": message}


def ase_front_end():
    from ase import Atoms

    from lepot.calculator import LepotCalculator, ModelFileError

    def load(path, species):
        try:
            calculator = LepotCalculator(str(path), n_threads=1)
        except ModelFileError as error:
            return refusal(str(error), path, "file")
        except ValueError as error:  # the kernel refused what the reader accepted: a gap in the reader
            return refusal(str(error), path, "kernel")
        edge, symbols, positions = structure(species)
        atoms = Atoms(symbols, positions=positions, cell=np.eye(3) * edge, pbc=True)
        atoms.calc = calculator
        try:
            return {"outcome": "accepted", "energy": float(atoms.get_potential_energy())}
        except ValueError as error:  # the file no longer holds one of the cell's elements
            return refusal(str(error), path, "species" if "not in this basis" in str(error) else "other")

    return load


def lammps_front_end():
    from lepot.lammps_plugin import create_lammps

    lmp = create_lammps()

    def load(path, species):
        edge, symbols, positions = structure(species)
        lmp.command("clear")
        commands = ["units metal", "atom_style atomic", "boundary p p p",
                    f"region box block 0 {edge} 0 {edge} 0 {edge}", f"create_box {len(species)} box"]
        commands += [f"create_atoms {species.index(s) + 1} single {float(x)!r} {float(y)!r} {float(z)!r}"
                    for s, (x, y, z) in zip(symbols, positions)]
        commands += [f"mass {t + 1} 1.0" for t in range(len(species))]
        lmp.commands_list(commands)
        try:
            lmp.command("pair_style lepot")
            lmp.command(f"pair_coeff * * {path} {' '.join(species)}")
            lmp.command("run 0")
        except Exception as error:  # the LAMMPS module raises Exception with LAMMPS's error text
            message = str(error).split("ERROR: ", 1)[-1].rsplit(" (src/", 1)[0].rsplit(" (/", 1)[0]
            if message.startswith("pair_style lepot: "):
                return refusal(message[len("pair_style lepot: "):], path, "kernel")
            return refusal(message, path, "species" if "is not in lepot model" in message else "other")
        return {"outcome": "accepted", "energy": float(lmp.get_thermo("pe"))}

    return load


def main(front_end, seed, count, output):
    load = {"ase": ase_front_end, "lammps": lammps_front_end}[front_end]()
    folder = Path(output).parent
    start, rss_start = time.perf_counter(), None
    # every unmutated base once first, so that one-time growth (caches, the first large allocations) is
    # behind the baseline and rss growth over the cases measures leaks
    for base in BASES:
        path = folder / f"{front_end}_warm_up.json"
        path.write_text(TEXTS[base])
        load(path, TREES[base]["species"])
    with open(output, "w") as lines:
        for index in range(count):
            base, data = case(seed, index)
            path = folder / f"{front_end}_case.json"
            path.write_bytes(data)
            species = TREES[base]["species"]
            record = {"index": index, "base": base, **load(path, species)}
            lines.write(json.dumps(record) + "\n")
            lines.flush()
            if index == 99:
                rss_start = settled_resident_megabytes()
        lines.write(json.dumps({"summary": True, "cases": count, "seconds": time.perf_counter() - start,
                                "rss_after_100_mb": rss_start, "rss_end_mb": settled_resident_megabytes()}) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
