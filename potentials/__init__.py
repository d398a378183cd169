"""Shipped parameter files, found by name (``lepot.potentials.path("Mo")`` -> .../Mo.json)."""

from pathlib import Path

DIRECTORY = Path(__file__).parent


def available():
    """Names of the shipped potentials."""
    return sorted(p.stem for p in DIRECTORY.glob("*.json"))


def path(name):
    """Path of the shipped potential ``name``; ValueError listing the shipped ones if there is none."""
    candidate = DIRECTORY / f"{name}.json"
    if not candidate.is_file():
        shipped = ", ".join(available()) or "none"
        raise ValueError(f"no shipped potential named {name!r} (shipped: {shipped})")
    return candidate
