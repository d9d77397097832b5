"""``phm synth``: build the population, generate every dataset chunk by chunk, write truth."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console

import phm
from phm.digest import sha256_file
from phm.errors import UserError
from phm.progress import progress as progress_for
from phm.synth import care, hospital, people, primary, registers, resubmission
from phm.synth.config import CHUNK_PERSONS, SynthConfig
from phm.synth.context import Chunk, Costs, Providers
from phm.synth.defects import DefectPlanter
from phm.synth.outdir import MARKER, prepare_output_dir
from phm.synth.population import UNREGISTERED_POOL, Population, build_population, person_numbers
from phm.synth.truth import TruthWriter
from phm.synth.writer import DatasetWriter

__all__ = ["DATASETS", "SynthConfig", "run_synth"]

DATASETS = (
    "patients", "gp_events", "gp_appointments", "apc_episodes", "op_attendances",
    "ecds_attendances", "community_contacts", "mh_contacts", "prescriptions", "social_care", "deaths",
)


def _snomed_pools() -> dict[str, np.ndarray]:
    from phm.refdata import condition_codelists

    t = condition_codelists()
    out: dict[str, list[str]] = {}
    owners: dict[str, set[str]] = {}
    for cond, vocab, code in zip(t["condition"].to_pylist(), t["vocabulary"].to_pylist(), t["code"].to_pylist(), strict=True):
        if vocab == "SNOMED":
            out.setdefault(cond, []).append(code)
            owners.setdefault(code, set()).add(cond)
    # A code in two refsets (a bipolar depressive episode is in DEPR_COD and MH_COD) would record
    # both conditions; a person is coded only with codes that belong to their own condition.
    return {k: np.asarray(sorted(c for c in v if len(owners[c]) == 1), dtype=object) for k, v in out.items()}


def generate_chunk(cfg: SynthConfig, pop: Population, index: int, shared: dict,
                   first: int = 0) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """All datasets for persons [index*CHUNK, (index+1)*CHUNK): a pure function of its inputs.
    ``first`` numbers the chunk within a region (record identifiers and random streams follow
    the regional number, so two ICBs of one extract never share either)."""
    lo, hi = index * CHUNK_PERSONS, min((index + 1) * CHUNK_PERSONS, pop.n)
    ch = Chunk(cfg, pop, lo, hi, first + index)
    rng = np.random.default_rng([cfg.seed, 1, first + index])
    prov, costs = shared["providers"], shared["costs"]
    apc, spells, stats = hospital.generate(ch, rng, prov, costs)
    lam_ae, frequent = care.ae_rates(ch, rng)
    ecds = care.emergency_department(ch, rng, prov, costs, lam_ae, stats["via_ae"])
    tables = {
        "patients": people.patients(ch),
        "gp_events": pa.concat_tables([
            primary.events(ch, rng, shared["snomed"]),
            registers.codes(ch, np.random.default_rng([cfg.seed, 14, index]), shared["snomed"]),
        ]),
        "gp_appointments": primary.appointments(ch, rng),
        "apc_episodes": apc,
        "op_attendances": care.outpatients(ch, rng, prov, costs),
        "ecds_attendances": ecds,
        "community_contacts": care.community(ch, rng, prov, costs),
        "mh_contacts": care.mental_health(ch, rng, prov, costs),
        "prescriptions": primary.prescriptions(ch, rng, shared["acute_rate"]),
        "social_care": people.social_care(ch, rng),
        "deaths": people.deaths(ch, rng),
    }
    truth = shared["truth_builder"](ch, spells, stats, lam_ae, frequent, tables)
    return tables, truth


def _icb_sizes(cfg: SynthConfig) -> list[tuple[str, int]]:
    """Persons per ICB: the total shared in proportion to the ICBs' registered populations
    (NHS England 2025/26 allocations), by largest remainder."""
    from phm.refdata import icb_practices

    if len(cfg.icbs) == 1:
        return [(cfg.icb, cfg.persons)]
    weights = np.array([float(np.nansum(icb_practices(c)["registered_population"].to_numpy(zero_copy_only=False)))
                        for c in cfg.icbs])
    exact = cfg.persons * weights / weights.sum()
    sizes = np.floor(exact).astype(int)
    sizes[np.argsort(-(exact - sizes), kind="stable")[: cfg.persons - sizes.sum()]] += 1
    if (sizes < 1).any():
        raise UserError(f"--persons {cfg.persons:,} is too few for {len(cfg.icbs)} ICBs: each needs at least one")
    return list(zip(cfg.icbs, sizes.tolist(), strict=True))


def run_synth(cfg: SynthConfig, console: Console | None = None) -> dict:
    """Generate the synthetic ICB (or region of ICBs) described by ``cfg``; return the manifest."""
    from phm.refdata import check_icb

    console = console or Console(stderr=True)
    for icb in cfg.icbs:
        check_icb(icb)  # a clear error for an unknown ICB, before touching the disk
    out = prepare_output_dir(cfg.out, force=cfg.force)
    sizes = _icb_sizes(cfg)
    region = len(sizes) > 1
    if region:  # one number space for the whole extract; each ICB's people and pool from it
        pool = UNREGISTERED_POOL // len(sizes)
        numbers = person_numbers(cfg, np.random.default_rng([cfg.seed, 0]), cfg.persons + pool * len(sizes))
    writers = {name: DatasetWriter(out, name, cfg.fmt) for name in DATASETS}
    refresh = DatasetWriter(out, resubmission.REFRESH_STEM, cfg.fmt) if cfg.defects == "default" else None
    n_chunks = sum((n + CHUNK_PERSONS - 1) // CHUNK_PERSONS for _, n in sizes)
    first = used = 0
    costs, snomed = Costs(), _snomed_pools()  # the same for every ICB of a region
    with progress_for(console, steps=True) as progress:
        task = progress.add_task("Generating activity", total=n_chunks)
        for k, (icb, n) in enumerate(sizes):
            part = cfg.for_icb(icb, n) if region else cfg
            progress.update(task, description=f"Building the population of {icb}")
            if region:
                mine = (numbers[used : used + n], numbers[cfg.persons + k * pool : cfg.persons + (k + 1) * pool])
                pop = build_population(part, np.random.default_rng([cfg.seed, 0, k + 1]), mine)
                used += n
            else:
                pop = build_population(part, np.random.default_rng([cfg.seed, 0]))
            progress.update(task, description=f"Generating activity ({icb})" if region else "Generating activity")
            shared = {
                "providers": Providers(icb, own_codes=region), "costs": costs, "snomed": snomed,
                "acute_rate": primary.acute_items_rate(pop),
            }
            truth = TruthWriter(part, pop, out / "truth" / icb if region else out / "truth")
            shared["truth_builder"] = truth.chunk_truth
            planter = DefectPlanter(part, pop)
            chunks = (pop.n + CHUNK_PERSONS - 1) // CHUNK_PERSONS
            for index in range(chunks):
                g = first + index
                tables, chunk_truth = generate_chunk(part, pop, index, shared, first)
                if refresh is not None:
                    rng_r = np.random.default_rng([cfg.seed, 3, g])
                    tables["apc_episodes"], again, chunk_truth["resubmitted_episodes"] = resubmission.split(
                        tables["apc_episodes"], rng_r, planter.extract_day)
                tables = planter.plant(g, tables)
                if cfg.identity == "pseudonymised":  # the feeds carry the supplier's pseudonym column
                    tables = {k: _pseudonym_column(t) for k, t in tables.items()}
                    again = _pseudonym_column(again) if refresh is not None else again
                for name in DATASETS:
                    writers[name].write(tables[name])
                if refresh is not None:
                    refresh.write(again)
                    planter.counts["apc_episodes"]["near_duplicate"] += again.num_rows
                truth.add(chunk_truth)
                progress.advance(task)
            first += chunks
            truth.finish(defects=planter.counts, calibration_extra={"acute_items_rate": shared["acute_rate"]})
    for w in writers.values():
        w.close()
    if refresh is not None:  # the refresh arrived after the first extract: it is dated later
        refresh.close()
        first_file = writers["apc_episodes"].path.stat()
        os.utime(refresh.path, ns=(first_file.st_atime_ns, first_file.st_mtime_ns + 60 * 10**9))
        writers[resubmission.REFRESH_STEM] = refresh
    files = {}
    for name, w in writers.items():
        files[w.path.name] = {"rows": w.rows, "sha256": sha256_file(w.path)}
    manifest = {
        "generator": "phm synth", "phm_version": phm.__version__, "pyarrow_version": pa.__version__,
        "numpy_version": np.__version__, "python": platform.python_version(),
        "icbs": {icb: n for icb, n in sizes},
        "config": {"icb": cfg.icb, "persons": cfg.persons, "years": cfg.years, "start": cfg.start.isoformat(),
                   "seed": cfg.seed, "format": cfg.fmt, "defects": cfg.defects, "identity": cfg.identity},
        "extract_date": cfg.extract_date.isoformat(), "files": files,
    }
    (out / MARKER).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _summary(console, files, out)
    return manifest


PSEUDONYM_COLUMN = "pseudo_nhs_number"  # as the shipped profile 'pseudonymised' expects


def _pseudonym_column(t: pa.Table) -> pa.Table:
    if "nhs_number" not in t.column_names:
        return t
    return t.rename_columns([PSEUDONYM_COLUMN if c == "nhs_number" else c for c in t.column_names])


def _summary(console: Console, files: dict, out: Path) -> None:
    from rich.table import Table

    t = Table(title=f"Synthetic ICB written to {out}")
    t.add_column("file")
    t.add_column("rows", justify="right")
    for name, f in files.items():
        t.add_row(name, f"{f['rows']:,}")
    t.add_row("total", f"{sum(f['rows'] for f in files.values()):,}")
    console.print(t)

